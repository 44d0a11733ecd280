"""emotion_batch.analyze and Results on small generated videos (local engine), and the README's
"From Python" example run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import emotion_batch
from emotion_batch.api import AnalyzeError, default_out, split_settings
from emotion_batch.labels import LABELS
from emotion_batch.query import QueryError
from emotion_batch.schemas import prob_columns

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """videos/: interview.mp4 (a face and a voice, 3 s), silent.mp4 (a face, no audio track, 2 s)
    and broken.mp4 (not a video), analysed by analyze("videos/") into the default folder."""
    from videogen import make_video, voice

    d = tmp_path_factory.mktemp("api")
    (d / "videos").mkdir()
    make_video(d / "videos" / "interview.mp4", seconds=3.0, fps=10, audio=voice(3.0))
    make_video(d / "videos" / "silent.mp4", seconds=2.0, fps=10, audio=None)
    (d / "videos" / "broken.mp4").write_text("not a video")
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(d)
        mp.setenv("XDG_CACHE_HOME", str(d / "cache"))
        mp.delenv("EMOTION_BATCH_CACHE", raising=False)
        res = emotion_batch.analyze("videos/", echo=lines.append, device="cpu")
    return d, res, lines


def test_analyze_returns_results_in_the_cache_folder(analysed):
    d, res, lines = analysed
    assert isinstance(res, emotion_batch.Results)
    assert Path(res.path) == d / "cache" / "emotion-batch" / "results" / Path(res.path).name
    assert res.path == default_out([str(d / "videos")]).replace(str(Path.home() / ".cache"), str(d / "cache"))
    v = res.videos().set_index("file")
    assert v.loc["interview.mp4", "status"] == "ok" and v.loc["silent.mp4", "status"] == "ok"
    assert v.loc["broken.mp4", "status"] == "failed" and "\n" not in v.loc["broken.mp4", "error"]
    assert list(res.videos().columns[:2]) == ["video_id", "file"]
    assert lines[0].startswith("Found 3 videos") and any(x.startswith("FAILED") for x in lines)
    assert "3 videos: 1 failed, 2 ok" in repr(res)


def test_timelines_by_file_name_with_expert_labels(analysed):
    _, res, _ = analysed
    tl = res.timelines(video="interview.mp4")
    assert set(tl.file) == {"interview.mp4"} and sorted(set(tl.second)) == [0, 1, 2]
    faces = tl[tl.face_id >= 0]
    assert len(faces) > 0
    for prefix, col in (("v", "v_emotion"), ("a", "a_emotion")):  # each expert's own argmax
        probs = faces[prob_columns(prefix)].to_numpy()
        assert faces[col].tolist() == [LABELS[i] for i in probs.argmax(1)]
    silent = res.timelines(video="silent.mp4")
    assert silent.a_emotion.isna().all() and silent.v_emotion.notna().any()
    assert len(res.timelines(video=["silent.mp4", "interview.mp4"], seconds=(1, 1))) == \
        len(tl[tl.second == 1]) + len(silent[silent.second == 1])
    assert res.video("interview.mp4").timelines().equals(tl)
    assert set(res.attributions().file) <= {"interview.mp4", "silent.mp4"}


def test_summary_says_what_the_av_offset_is(analysed):
    _, res, _ = analysed
    s = res.summary().set_index("file")
    assert s.loc["silent.mp4", "av_sync"] == "no audio track" and s.loc["silent.mp4", "av_offset_s"] is None
    tl = res.timelines(video="interview.mp4")
    assert s.loc["interview.mp4", "speech_s"] == tl[tl.voice_owner].second.nunique() > 0
    assert s.loc["interview.mp4", "av_sync"] in ("measured", "not measured")
    assert s.loc["broken.mp4", "status"] == "failed" and s.loc["broken.mp4", "short_id"] == \
        res.videos(video="broken.mp4").video_id.iloc[0][:8]
    assert list(res.summary(video="silent.mp4").file) == ["silent.mp4"]


def test_unknown_names_are_plain_errors(analysed):
    _, res, _ = analysed
    with pytest.raises(QueryError, match=r"no video named 'nope.mp4' .*files: broken.mp4, interview.mp4"):
        res.timelines(video="nope.mp4")
    with pytest.raises(QueryError, match="not one of the videos of this Results"):
        res.video("silent.mp4").timelines(video="interview.mp4")
    with pytest.raises(QueryError, match=r'plot draws one video and 2 were analysed .*plot\(video="name.mp4"\)'):
        res.plot()
    with pytest.raises(QueryError, match="none of them was analysed"):
        res.plot(video="broken.mp4")


def test_plot_is_a_lane_figure(analysed):
    _, res, _ = analysed
    fig = res.plot(video="interview.mp4")
    lanes = [y for t in fig.data for y in t.y]
    tl = res.timelines(video="interview.mp4")
    face0 = tl[tl.face_id == 0].set_index("second")
    pid = face0.person_id.dropna().unique()  # identity gave the face a person: its lane is the person's
    lane0 = f"person {int(pid[0])}" if len(pid) else "face 0"
    assert lane0 in lanes and fig.layout.xaxis.range == (0, 3)

    def who(face_id):
        if face_id == -1:
            return "off screen"
        p = tl[tl.face_id == face_id].person_id.dropna()
        return f"person {int(p.iloc[0])}" if len(p) else f"face {face_id}"

    for t in fig.data:  # colour = the fused emotion of that second, opacity = its confidence
        for y, base, op in zip(t.y, t.base, t.marker.opacity):
            if y == lane0:
                assert face0.loc[base, "emotion"] == t.name
                assert op == pytest.approx(max(face0.loc[base, "confidence"], 0.15), abs=1e-6)
    assert "interview.mp4" in fig.layout.title.text
    # the voice lane: the audio expert's label of the row carrying each second's voice
    owner = tl[tl.voice_owner].set_index("second")
    voice = [(base, t.name, who) for t in fig.data for y, base, (_, _, _, who) in zip(t.y, t.base, t.customdata)
             if y == "voice"]
    assert sorted(voice) == [(s, owner.loc[s, "a_emotion"], who(owner.loc[s, "face_id"])) for s in sorted(owner.index)]
    assert len(voice) == 3


def test_settings_map_onto_run_config_and_engine():
    config, engine = split_settings({"fps": 2, "explain": "none", "actors": 3})
    assert config.fps == 2 and config.explain.mode == "none" and engine == {"actors": 3}
    with pytest.raises(TypeError, match="unknown setting.*fsp; settings are .*fps"):
        split_settings({"fsp": 2})
    with pytest.raises(ValueError, match="fps must be in"):
        split_settings({"fps": 0})


def test_ray_engine_gets_the_settings_as_run_does(tmp_path, monkeypatch):
    """engine="ray" goes to the same run_ray call as `run --engine ray`, with the engine options
    given and run's defaults for the rest, and no progress bar."""
    import emotion_batch.run.distributed.driver as distributed
    from emotion_batch.run.record import BatchSummary

    seen = {}

    def fake_run_ray(paths, ctx, engine, **kw):
        seen.update(paths=paths, out=ctx.out, config=ctx.config, engine=engine)
        return BatchSummary()

    monkeypatch.setattr(distributed, "run_ray", fake_run_ray)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mp4").write_bytes(b"x")
    res = emotion_batch.analyze(tmp_path / "in", tmp_path / "r", engine="ray", actors=3, segment_s=30.0, fps=2,
                                echo=None)
    assert isinstance(res, emotion_batch.Results) and res.path == str(tmp_path / "r")
    assert seen["paths"] == [str(tmp_path / "in" / "a.mp4")] and seen["config"].fps == 2
    engine = seen["engine"]
    assert (engine.engine, engine.actors, engine.segment_s, engine.progress) == ("ray", 3, 30.0, False)
    assert (engine.max_retries, engine.actor_concurrency, engine.unit_timeout_s) == (2, 2, 3600.0)


def test_analyze_refuses_what_cannot_run(tmp_path):
    with pytest.raises(AnalyzeError, match="not found"):
        emotion_batch.analyze(tmp_path / "absent", tmp_path / "r")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AnalyzeError, match="no video files found"):
        emotion_batch.analyze(tmp_path / "empty", tmp_path / "r")
    with pytest.raises(ValueError, match="engine must be one of local, ray"):
        emotion_batch.analyze(tmp_path, engine="spark")


def test_default_out_is_per_input_under_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EMOTION_BATCH_CACHE", raising=False)
    a, b = default_out(["/data/week 1"]), default_out(["/data/week 2"])
    assert a.startswith(str(tmp_path / "xdg" / "emotion-batch" / "results" / "week_1-")) and a != b
    assert default_out(["/data/week 1/"]) == a
    monkeypatch.setenv("EMOTION_BATCH_CACHE", str(tmp_path / "mine"))
    assert default_out(["/data/week 1"]).startswith(str(tmp_path / "mine" / "results"))


def test_import_stays_light():
    code = "import sys, emotion_batch; print(sorted(m for m in ('pyarrow', 'pandas', 'torch', 'plotly', 'ray') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_from_python_runs(analysed, monkeypatch, capsys):
    """The README's "From Python" block, run as written in a folder with videos/ (the fixture's
    run already analysed them, so this call finds them done)."""
    d, res, _ = analysed
    text = README.read_text()
    section = text[text.index("## From Python"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(d)
    monkeypatch.setenv("XDG_CACHE_HOME", str(d / "cache"))
    monkeypatch.delenv("EMOTION_BATCH_CACHE", raising=False)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    out = capsys.readouterr().out
    assert scope["res"].path == res.path and "3 videos" in out
    assert "interview.mp4" in out and (d / "lanes.html").stat().st_size > 0
    assert len(scope["tl"]) == len(res.timelines(video="interview.mp4"))
    assert np.isin(scope["both"].v_emotion, LABELS).all()

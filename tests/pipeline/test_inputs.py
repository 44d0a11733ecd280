"""Whole-video analysis of the inputs a new user brings: other codecs and containers, a phone's
portrait recording with a rotation flag, a recording cut short, audio-only files."""

import dataclasses

import numpy as np
import pytest

from emotion_batch.run.record import manifest_row
from emotion_batch.config import RunConfig
from emotion_batch.run.storage.manifest import ManifestRow
from emotion_batch.schemas import MANIFEST_SCHEMA, NO_FACE, TIMELINE_SCHEMA
from videogen import cut_file, make_audio_only, make_video, voice


def _row(res, tmp_path) -> ManifestRow:
    from emotion_batch.run.context import RunContext
    from emotion_batch.run.storage.store import ResultStore

    config = RunConfig(device="cpu")
    ctx = RunContext(ResultStore(str(tmp_path / "results")), config, "m", config.config_hash(), device="cpu")
    return manifest_row(res, ctx=ctx, started_at="2025-01-01T00:00:00Z")


def test_manifest_row_fields_are_the_schema_columns():
    assert [f.name for f in dataclasses.fields(ManifestRow)] == MANIFEST_SCHEMA.names


@pytest.mark.parametrize("kind", ["vp9_opus_webm", "av1_mkv", "hevc10_mp4"])
def test_other_codecs_are_analysed(analyzer, made_inputs, kind):
    res = analyzer(made_inputs(kind)[0])
    assert res.ok, res.error
    assert res.timeline.schema == TIMELINE_SCHEMA and res.warning is None
    rows = res.timeline.to_pylist()
    assert [(r["face_id"], r["second"]) for r in rows] == [(0, 0), (0, 1), (0, 2)]
    assert all(r["a_neutral"] is not None for r in rows)  # the Opus / AAC track was heard


@pytest.mark.parametrize("kind", ["portrait_rot90", "portrait_rot270"])
def test_portrait_phone_video_is_analysed_upright(analyzer, made_inputs, kind, tmp_path):
    res = analyzer(made_inputs(kind)[0])
    assert res.ok, res.error
    assert (res.info.width, res.info.height) == (240, 320)
    rows = [r for r in res.timeline.to_pylist() if r["face_id"] != NO_FACE]
    assert res.faces_found == 1 and {r["face_id"] for r in rows} == {0} and len(rows) == 3
    for r in rows:
        x1, y1, x2, y2 = r["box_x1"], r["box_y1"], r["box_x2"], r["box_y2"]
        # inside the displayed frame (2 px: MTCNN boxes may overhang the border by rounding)
        assert -2 <= x1 < x2 <= 242 and -2 <= y1 < y2 <= 322
        # the photo fills the width, drifting down from the top: its face is upright there,
        # taller than wide (a sideways face would be wider than tall)
        assert y2 - y1 > (x2 - x1) * 0.9 and r["face_score"] > 0.9
    manifest = _row(res, tmp_path)
    assert (manifest.width, manifest.height, manifest.has_video) == (240, 320, True)


def test_cut_recording_is_analysed_up_to_where_its_data_ends(analyzer, tmp_path):
    whole = tmp_path / "whole.mp4"
    make_video(whole, seconds=5.0, fps=10, faststart=True)
    cut = tmp_path / "cut.mp4"
    cut_file(whole, cut, 0.7)
    res = analyzer(str(cut))
    assert res.ok, res.error
    assert res.warning.startswith("truncated: video data ends at") and "of 5.0 s declared" in res.warning
    seconds = sorted({r["second"] for r in res.timeline.to_pylist()})
    assert seconds == list(range(int(np.ceil(res.info.duration_s))))
    assert 2 <= len(seconds) <= 4 and res.faces_found == 1
    manifest = _row(res, tmp_path)
    assert manifest.status == "ok" and manifest.warning == res.warning
    assert manifest.duration_s == pytest.approx(res.info.duration_s)


@pytest.mark.parametrize("name,kw", [("interview.m4a", {}), ("interview.wav", dict(codec="pcm_s16le")),
                                     ("no_picture.mp4", {})])
def test_audio_only_file_gives_voice_only_rows(analyzer, tmp_path, name, kw):
    p = tmp_path / name
    make_audio_only(p, seconds=2.0, audio=voice(2.0), **kw)
    res = analyzer(str(p))
    assert res.ok, res.error
    rows = res.timeline.to_pylist()
    assert [(r["face_id"], r["second"]) for r in rows] == [(NO_FACE, 0), (NO_FACE, 1)]
    for r in rows:
        p_audio = [r[f"a_{k}"] for k in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")]
        assert None not in p_audio and sum(p_audio) == pytest.approx(1.0, abs=1e-4)
        assert r["speech"] > 0.2  # the synthetic voice counts as speech, so it is used
        assert r["v_neutral"] is None and r["emotion"] is not None and r["w_visual"] == 0.0
    assert res.faces_found == 0 and res.info.has_video is False
    manifest = _row(res, tmp_path)
    assert manifest.has_video is False and manifest.has_audio is True
    assert (manifest.width, manifest.height, manifest.fps, manifest.n_frames) == (None, None, None, None)
    assert manifest.duration_s == pytest.approx(2.0, abs=0.05) and manifest.warning is None

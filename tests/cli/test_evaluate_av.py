"""`evaluate av` on labelled audio-visual clips the test builds (RAVDESS speech spoken by a real face
photo whose mouth follows it, tests/talking_face.py)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import RAVDESS
from emotion_batch.cli import main

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def av_clips(tmp_path_factory):
    from talking_face import load_speech, make_talking_video

    d = tmp_path_factory.mktemp("av")
    # RAVDESS naming for audio-visual clips: modality 01; emotion 05 = angry, 03 = happy
    for src, name in [("Actor_01/03-01-05-02-01-01-01.flac", "01-01-05-02-01-01-01.mp4"),
                      ("Actor_02/03-01-03-02-01-01-02.flac", "01-01-03-02-01-01-02.mp4")]:
        make_talking_video(d / name, load_speech([RAVDESS / src]))  # the face speaks the clip
    (d / "unlabelled.mp4").write_bytes(b"")  # not a labelled name: ignored
    return d


def test_evaluate_av_reports_three_views(av_clips):
    r = CliRunner().invoke(main, ["evaluate", "av", "--data", str(av_clips), "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["reports"]) == {"visual", "audio", "fused", "fused_cv"}  # two actors: cross-fitted too
    assert sorted(c["label"] for c in out["clips"]) == ["angry", "happy"]
    assert [f["held_out_actor"] for f in out["cross_fit_folds"]] == [1, 2]
    for view in ("visual", "audio", "fused", "fused_cv"):
        hits = np.mean([c[view] == c["label"] for c in out["clips"]])
        assert out["reports"][view]["accuracy"] == pytest.approx(hits)
    # the smiling astronaut is read as happy by the face model on both clips
    assert [c["visual"] for c in out["clips"]] == ["happy", "happy"]
    assert all(c["status"] == "ok" for c in out["clips"])


def test_evaluate_av_text_output(av_clips):
    r = CliRunner().invoke(main, ["evaluate", "av", "--data", str(av_clips), "--device", "cpu", "--no-cross-fit"])
    assert r.exit_code == 0 and "== fused ==" in r.output and "accuracy" in r.output
    assert "fused_cv" not in r.output and "fusion gate: shipped defaults" in r.output


def test_evaluate_av_with_a_fitted_gate_file(av_clips, tmp_path):
    """--fusion FILE (as `train fusion` writes it): a gate that trusts the voice only makes
    every clip's fused call the audio expert's, and the model version names the other gate."""
    from emotion_batch.models.fusion import FusionParams

    gate = tmp_path / "gate.json"
    FusionParams(a_v=-30.0, a_a=30.0, b_speech=0.0, min_speech=0.0).save(gate, fitted_on="test")
    args = ["evaluate", "av", "--data", str(av_clips), "--device", "cpu", "--json", "--no-cross-fit"]
    shipped = json.loads(CliRunner().invoke(main, args).output)
    out = json.loads(CliRunner().invoke(main, args + ["--fusion", str(gate)]).output)
    assert out["fusion"] == str(gate) and out["model_version"] != shipped["model_version"]
    assert out["mean_w_audio"] > 0.95  # all of the audio weight, times the talking face's speaker_p (~0.99)
    assert [c["fused"] for c in out["clips"]] == [c["audio"] for c in out["clips"]]


def test_refusing_the_records_reproduces_the_pipeline(av_clips):
    """What cross-fitting re-fuses (records read back from the timeline) is what the pipeline
    fused: same probabilities within 1e-5 (float32 arithmetic, read back from Parquet-typed
    columns), NaN where the pipeline has none."""
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer
    from emotion_batch.schemas import prob_columns
    from emotion_batch.training.train_fusion import records_from_timeline, refuse

    analyzer = VideoAnalyzer(RunConfig.from_flat(device="cpu", explain="none"))
    for clip in sorted(av_clips.glob("01-*.mp4")):
        t = analyzer(clip).timeline
        mine = refuse(records_from_timeline(t, 0), analyzer.fusion_params)
        theirs = t.select(prob_columns("p")).to_pandas().to_numpy(dtype=np.float32)
        assert len(mine) == len(theirs) > 0
        np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_evaluate_av_without_clips_says_so(tmp_path):
    r = CliRunner().invoke(main, ["evaluate", "av", "--data", str(tmp_path)])
    assert r.exit_code == 1 and "no labelled" in r.output


def test_train_fusion_writes_a_gate_that_run_uses(av_clips, tmp_path):
    """`train fusion --out FILE` fits on the clips and writes a gate file; `run --fusion FILE`
    analyses with it: the results carry another model version than the shipped gate's."""
    import pyarrow.parquet as pq

    from emotion_batch.models.fusion import FusionParams

    gate = tmp_path / "gate.json"
    r = CliRunner().invoke(main, ["train", "fusion", "--data", str(av_clips), "--out", str(gate), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    params = FusionParams.load(gate)
    assert params.min_speech in (0.0, 0.05, 0.1, 0.2) and np.isfinite([params.a_v, params.a_a]).all()
    clip = sorted(av_clips.glob("01-*.mp4"))[0]
    versions = []
    for extra in ([], ["--fusion", str(gate)]):
        out = tmp_path / f"out{len(extra)}"
        r = CliRunner().invoke(main, ["run", str(clip), "--out", str(out), "--engine", "local", "--no-progress",
                                      "--explain", "none", "--device", "cpu"] + extra)
        assert r.exit_code == 0, r.output
        versions.append(pq.read_table(out / "videos").column("model_version")[0].as_py())
    assert versions[0] != versions[1]

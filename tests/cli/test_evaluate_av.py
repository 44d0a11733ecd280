"""`evaluate av` on labelled audio-visual clips the test builds (RAVDESS speech under a real face)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from conftest import RAVDESS
from emotion_batch.cli import main
from videogen import make_video

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def av_clips(tmp_path_factory):
    from emotion_batch.training.datasets import load_audio

    d = tmp_path_factory.mktemp("av")
    # RAVDESS naming for audio-visual clips: modality 01; emotion 05 = angry, 03 = happy
    for src, name in [("Actor_01/03-01-05-02-01-01-01.flac", "01-01-05-02-01-01-01.mp4"),
                      ("Actor_02/03-01-03-02-01-01-02.flac", "01-01-03-02-01-01-02.mp4")]:
        wave = load_audio(RAVDESS / src)
        make_video(d / name, seconds=len(wave) / 16000, fps=10, audio=wave)
    (d / "unlabelled.mp4").write_bytes(b"")  # not a labelled name: ignored
    return d


def test_evaluate_av_reports_three_views(av_clips):
    r = CliRunner().invoke(main, ["evaluate", "av", "--data", str(av_clips), "--device", "cpu", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["reports"]) == {"visual", "audio", "fused"}
    assert sorted(c["label"] for c in out["clips"]) == ["angry", "happy"]
    for view in ("visual", "audio", "fused"):
        hits = np.mean([c[view] == c["label"] for c in out["clips"]])
        assert out["reports"][view]["accuracy"] == pytest.approx(hits)
    # the smiling astronaut is read as happy by the face model on both clips
    assert [c["visual"] for c in out["clips"]] == ["happy", "happy"]
    assert all(c["status"] == "ok" for c in out["clips"])


def test_evaluate_av_text_output(av_clips):
    r = CliRunner().invoke(main, ["evaluate", "av", "--data", str(av_clips), "--device", "cpu"])
    assert r.exit_code == 0 and "== fused ==" in r.output and "accuracy" in r.output


def test_evaluate_av_without_clips_says_so(tmp_path):
    r = CliRunner().invoke(main, ["evaluate", "av", "--data", str(tmp_path)])
    assert r.exit_code == 1 and "no labelled" in r.output

"""`evaluate audio` on real RAVDESS clips, and the metrics it prints."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from emotion_batch.cli.evaluate import evaluate
from emotion_batch.labels import LABELS
from emotion_batch.training.evaluate import classification_report

RAVDESS = Path(__file__).resolve().parents[2] / "../shared" / "data" / "ravdess-speech-16k"


def test_classification_report_by_hand():
    y = [0, 0, 1, 1, 6, 6]
    pred = [0, 1, 1, 1, 6, 0]
    r = classification_report(y, pred)
    assert r.n == 6 and r.accuracy == pytest.approx(4 / 6)
    assert r.recall["angry"] == 0.5 and r.recall["disgust"] == 1.0 and r.recall["neutral"] == 0.5
    assert np.isnan(r.recall["fear"])  # no fear examples
    assert r.confusion[0][:2] == [1, 1] and r.confusion[6][0] == 1 and r.confusion[6][6] == 1
    # F1: angry 2*1/(2+2)=0.5, disgust 2*2/(2+3)=0.8, neutral 2*1/(2+1)=2/3 -> macro over present classes
    assert r.macro_f1 == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    probs = np.eye(7)[pred]
    assert classification_report(y, probs).accuracy == r.accuracy
    d = json.loads(r.to_json())
    assert d["recall"]["fear"] is None and d["labels"] == list(LABELS)
    assert "confusion" in r.format() and "accuracy: 0.6667" in r.format()


@pytest.fixture(scope="module")
def few_clips(tmp_path_factory) -> Path:
    """8 RAVDESS clips of validation actor 18, nested one level deeper (recursive discovery)."""
    root = tmp_path_factory.mktemp("clips")
    (root / "nested").mkdir()
    src = sorted((RAVDESS / "Actor_18").glob("*.flac"))[::8][:8]
    for p in src:
        shutil.copy(p, root / "nested" / p.name)  # test tmp dir, not the repository
    (root / "readme.txt").write_text("not a clip")
    return root


@pytest.mark.shared
def test_evaluate_audio_json(few_clips):
    res = CliRunner().invoke(evaluate, ["audio", "--data", str(few_clips), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rep, clips = out["report"], out["clips"]
    assert rep["n"] == len(clips) == 8
    assert set(rep) >= {"accuracy", "macro_f1", "recall", "precision", "support", "confusion", "labels"}
    # accuracy is exactly the share of clips whose argmax equals the label from the file name
    correct = sum(c["label"] == c["predicted"] for c in clips)
    assert rep["accuracy"] == pytest.approx(correct / 8)
    for c in clips:
        assert c["predicted"] == LABELS[int(np.argmax(c["probs"]))]
        assert sum(c["probs"]) == pytest.approx(1.0, abs=1e-4)
    cm = np.array(rep["confusion"])
    assert cm.sum() == 8 and np.trace(cm) == correct
    assert sum(rep["support"].values()) == 8


@pytest.mark.shared
def test_evaluate_audio_text(few_clips):
    res = CliRunner().invoke(evaluate, ["audio", "--data", str(few_clips)])
    assert res.exit_code == 0, res.output
    assert "clips: 8" in res.output and "macro-F1" in res.output and "confusion" in res.output
    for lab in LABELS:
        assert lab in res.output


def test_evaluate_audio_empty_folder(tmp_path):
    res = CliRunner().invoke(evaluate, ["audio", "--data", str(tmp_path)])
    assert res.exit_code != 0 and "no labelled" in res.output

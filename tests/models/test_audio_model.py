"""The audio expert: output contract, window handling, committed weights and their accuracy."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from emotion_batch.audio.features import log_mel
from emotion_batch.labels import LABELS
from emotion_batch.models.audio import (
    AUDIO_WEIGHTS_SHA,
    CONFIG_PATH,
    WEIGHTS_PATH,
    AudioEmotionNet,
    instance_norm,
    load_audio_model,
)

RAVDESS = Path(__file__).resolve().parents[2] / "../shared" / "data" / "ravdess-speech-16k"


@pytest.fixture(scope="module")
def model() -> AudioEmotionNet:
    return load_audio_model("cpu")


def test_output_is_a_distribution_over_labels(model):
    x = log_mel(torch.randn(5, 32000) * 0.05)
    p = model(x)
    assert p.shape == (5, len(LABELS))
    assert torch.allclose(p.sum(dim=1), torch.ones(5), atol=1e-5) and (p >= 0).all()
    assert torch.allclose(torch.softmax(model.logits(x), dim=1), p)


def test_any_window_length_and_batch_equals_single(model):
    x = log_mel(torch.randn(3, 48000) * 0.05)  # 3 s windows
    batch = model(x)
    for i in range(3):
        assert torch.allclose(model(x[i : i + 1])[0], batch[i], atol=1e-5)
    with pytest.raises(ValueError):
        model(torch.zeros(64, 200))


def test_gain_invariance_from_instance_norm(model):
    wave = torch.randn(1, 32000) * 0.05
    # +12 dB gain shifts every log-mel value by the same constant: the output must not change
    assert torch.allclose(model(log_mel(wave)), model(log_mel(wave * 4)), atol=1e-4)
    m = instance_norm(torch.randn(2, 64, 200) * 3 + 7)
    assert torch.allclose(m.mean(dim=(1, 2)), torch.zeros(2), atol=1e-5)
    # an all-silent window (constant floor) gives finite probabilities
    assert torch.isfinite(model(log_mel(torch.zeros(1, 32000)))).all()


def test_committed_weights_and_record():
    assert WEIGHTS_PATH.exists() and CONFIG_PATH.exists()
    assert AUDIO_WEIGHTS_SHA == hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()[:12]
    rec = json.loads(CONFIG_PATH.read_text())
    assert rec["labels"] == list(LABELS)
    assert not set(rec["train_actors"]) & set(rec["val_actors"])
    assert rec["validation"]["n"] == rec["n_val"]


@pytest.mark.shared
def test_weights_reproduce_recorded_validation_accuracy(model):
    """Re-score the held-out validation actors: the recorded accuracy must be what the weights give."""
    from emotion_batch.training.datasets import find_clips, load_audio
    from emotion_batch.training.evaluate import classification_report, predict_clips

    rec = json.loads(CONFIG_PATH.read_text())
    clips = [c for c in find_clips(RAVDESS) if c.actor in set(rec["val_actors"])]
    assert len(clips) == rec["n_val"]
    torch.set_num_threads(2)
    probs = predict_clips(model, [load_audio(c.path) for c in clips])
    rep = classification_report([c.label for c in clips], probs)
    assert rep.accuracy == pytest.approx(rec["validation"]["accuracy"], abs=2 / len(clips))
    assert rep.accuracy > 0.55  # well above the 7-class chance level (and the 0.52 logistic baseline)

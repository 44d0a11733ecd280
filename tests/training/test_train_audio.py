"""A tiny, fast training run: it must lower the loss; weights round-trip; augmentations."""

from __future__ import annotations

import json

import numpy as np
import torch
import torch.nn.functional as F

from emotion_batch.audio.features import log_mel
from emotion_batch.labels import LABELS
from emotion_batch.models.audio import AudioEmotionNet, load_audio_model
from emotion_batch.training.evaluate import clip_windows, predict_clips
from emotion_batch.training.train_audio import (
    WINDOW,
    augment_wave,
    logreg_baseline,
    random_crop,
    save_weights,
    spec_augment,
    train_model,
)

SR = 16000


def _clips(n_per_class=6, seed=0):
    """Two separable synthetic 'emotions': low buzzy vowel-like pulses vs high bright ones."""
    rng = np.random.default_rng(seed)
    waves, labels = [], []
    for label, f0 in ((LABELS.index("sad"), 110.0), (LABELS.index("angry"), 320.0)):
        for _ in range(n_per_class):
            dur = rng.uniform(1.2, 2.4)
            t = np.arange(int(dur * SR)) / SR
            f = f0 * (1 + 0.05 * rng.standard_normal())
            env = 0.5 * (1 + np.sin(2 * np.pi * rng.uniform(3, 5) * t))
            x = env * sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 8))
            waves.append((0.05 * x + 0.002 * rng.standard_normal(t.shape)).astype(np.float32))
            labels.append(label)
    return waves, labels


def _nll(model, waves, labels):
    p = torch.from_numpy(predict_clips(model, waves))
    return float(F.nll_loss(torch.log(p.clamp(min=1e-8)), torch.tensor(labels)))


def test_tiny_training_run_reduces_the_loss():
    torch.set_num_threads(2)
    waves, labels = _clips(4)
    torch.manual_seed(0)
    model = AudioEmotionNet(channels=(8, 16, 16), embed=32)
    before = _nll(model, waves, labels)
    model, history = train_model(waves, labels, epochs=10, seed=0, batch_size=4, lr=5e-3, model=model, log=lambda m: None)
    after = _nll(model, waves, labels)
    assert len(history) == 10 and all(np.isfinite(h["loss"]) for h in history)
    assert after < 0.5 * before
    assert np.mean([h["loss"] for h in history[-2:]]) < np.mean([h["loss"] for h in history[:2]])


def test_save_and_load_round_trip(tmp_path):
    model = AudioEmotionNet(channels=(8, 16, 16), embed=32).eval()
    path = save_weights(model, tmp_path, {"labels": list(LABELS), "note": "test"})
    rec = json.loads((tmp_path / "audio_expert.json").read_text())
    assert rec["model"]["channels"] == [8, 16, 16] and rec["note"] == "test"
    loaded = load_audio_model("cpu", path)
    x = log_mel(torch.randn(2, WINDOW) * 0.05)
    assert torch.allclose(loaded(x), model(x), atol=1e-6)


def test_crops_augmentations_and_windows():
    rng = np.random.default_rng(0)
    short = np.ones(SR, dtype=np.float32)
    c = random_crop(short, rng)
    assert c.shape == (WINDOW,) and c.sum() == SR  # padded, nothing lost
    long = np.arange(5 * SR, dtype=np.float32)
    c = random_crop(long, rng)
    assert c.shape == (WINDOW,) and np.all(np.diff(c) == 1)  # a contiguous slice
    x = augment_wave(np.sin(np.arange(WINDOW) / 5).astype(np.float32), rng)
    assert x.dtype == np.float32 and x.shape == (WINDOW,) and np.isfinite(x).all()
    m = log_mel(torch.randn(3, WINDOW))
    masked = spec_augment(m, torch.Generator().manual_seed(1), f_max=10, t_max=30)
    assert masked.shape == m.shape and not torch.equal(masked, m)
    assert clip_windows(np.zeros(SR), 2.0, 0.5).shape == (1, 2 * SR)
    w = clip_windows(np.arange(int(3.2 * SR), dtype=np.float32), 2.0, 0.5)
    assert w.shape == (4, 2 * SR) and w[-1, -1] == 3.2 * SR - 1  # last window ends at the clip end


def test_logreg_baseline_separates_easy_classes():
    waves, labels = _clips(6, seed=1)
    test_w, test_y = _clips(3, seed=2)
    rep = logreg_baseline(waves, labels, test_w, test_y)
    assert rep.n == 6 and rep.accuracy == 1.0

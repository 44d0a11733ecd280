"""Fixtures shared by the sync tests: RAVDESS speech for talking-face videos, synthetic signals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

RAVDESS = Path(__file__).resolve().parents[2] / "../shared" / "data" / "ravdess-speech-16k"
CLIPS = ["Actor_01/03-01-05-02-01-01-01.flac", "Actor_02/03-01-03-02-02-01-02.flac",
         "Actor_03/03-01-08-02-01-02-03.flac"]
OTHER = ["Actor_04/03-01-05-02-01-01-04.flac", "Actor_05/03-01-03-02-02-01-05.flac",
         "Actor_06/03-01-08-02-01-02-06.flac"]


def _impulse_signal(n, rate, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    x[rng.choice(n, n // 25, replace=False)] = rng.uniform(0.5, 1.5, n // 25)
    return np.convolve(x, np.hanning(9), "same")


@pytest.fixture(scope="session")
def impulse():
    """impulse(n, rate, seed): sparse random bumps, a stand-in for an activity signal."""
    return _impulse_signal


@pytest.fixture(scope="session")
def tf():
    import talking_face

    return talking_face


@pytest.fixture(scope="session")
def speech(tf):
    return tf.load_speech([RAVDESS / c for c in CLIPS])


@pytest.fixture(scope="session")
def other_speech(tf, speech):
    x = tf.load_speech([RAVDESS / c for c in OTHER])
    return np.pad(x, (0, max(0, len(speech) - len(x))))[: len(speech)]

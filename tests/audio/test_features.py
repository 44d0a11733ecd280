"""Audio features: log-mel on known signals, voice activity on speech and non-speech, windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from emotion_batch.audio.features import (
    LOG_FLOOR,
    N_MELS,
    SAMPLE_RATE,
    audio_window,
    log_mel,
    speech_fraction,
    speech_per_second,
    voice_activity,
)

SR = SAMPLE_RATE
RAVDESS = Path(__file__).resolve().parents[2] / "../shared" / "data" / "ravdess-speech-16k"


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _mel_centres() -> np.ndarray:
    import torchaudio

    fb = torchaudio.functional.melscale_fbanks(201, 0.0, SR / 2, N_MELS, SR, norm="slaney", mel_scale="slaney")
    freqs = np.linspace(0, SR / 2, 201)
    return freqs[fb.numpy().argmax(axis=0)]


def test_log_mel_shapes_and_dtype():
    one = log_mel(np.zeros(SR * 2, dtype=np.float32))
    assert one.shape == (N_MELS, 200) and one.dtype == torch.float32
    batch = log_mel(torch.zeros(3, 16123))
    assert batch.shape == (3, N_MELS, 100)
    with pytest.raises(ValueError):
        log_mel(np.zeros((2, 2, 400)))


def test_silence_gives_the_floor():
    m = log_mel(np.zeros(SR, dtype=np.float32))
    assert torch.allclose(m, torch.full_like(m, np.log(LOG_FLOOR)))


@pytest.mark.parametrize("freq", [250.0, 1000.0, 3000.0])
def test_pure_tone_lands_in_its_mel_band(freq):
    wave = (0.5 * np.sin(2 * np.pi * freq * _t(1.0))).astype(np.float32)
    m = log_mel(wave)
    peak_band = int(m[:, 10:-10].mean(dim=1).argmax())
    centres = _mel_centres()
    assert peak_band == int(np.abs(centres - freq).argmin()) or abs(centres[peak_band] - freq) < 0.1 * freq
    # louder is higher: +20 dB amplitude -> +ln(100) in log power
    m10 = log_mel(wave * 10)
    assert float((m10 - m)[peak_band].mean()) == pytest.approx(np.log(100.0), abs=1e-2)


def test_log_mel_batch_equals_single():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, SR)).astype(np.float32) * 0.1
    b = log_mel(x)
    assert torch.allclose(b[1], log_mel(x[1]), atol=1e-5)


def test_audio_window_centres_and_pads():
    wave = np.arange(SR * 3, dtype=np.float32)
    w = audio_window(wave, center_s=1.5, window_s=2.0)
    assert w.shape == (2 * SR,) and w[0] == 0.5 * SR and w[-1] == 2.5 * SR - 1
    head = audio_window(wave, center_s=0.5)  # starts 0.5 s before the audio
    assert np.all(head[: SR // 2] == 0) and head[SR // 2] == 0
    assert head[SR // 2 + 1] == 1
    tail = audio_window(wave, center_s=2.5)  # runs 0.5 s past the end
    assert tail[SR + SR // 2 - 1] == 3 * SR - 1 and np.all(tail[SR + SR // 2 :] == 0)
    assert audio_window(wave, center_s=100.0).sum() == 0


def test_speech_fraction_counts_frames_in_the_span():
    act = np.zeros(300, dtype=np.float32)
    act[100:150] = 0.9  # speech in 1.0-1.5 s
    assert speech_fraction(act, 1.0, 2.0) == pytest.approx(0.5)
    assert speech_fraction(act, 0.0, 1.0) == 0.0
    assert speech_fraction(act, 5.0, 6.0) == 0.0  # past the end
    np.testing.assert_allclose(speech_per_second(act), [0.0, 0.5, 0.0])


# --- voice activity on non-speech signals ----------------------------------------------------


def _white(seconds=5.0, seed=0):
    return 0.1 * np.random.default_rng(seed).standard_normal(int(seconds * SR))


def _pink(seconds=5.0, seed=1):
    n = int(seconds * SR)
    spec = np.fft.rfft(np.random.default_rng(seed).standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / SR)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return 0.1 * x / x.std()


def _hum(seconds=5.0):
    t = _t(seconds)
    return sum(0.3 / k * np.sin(2 * np.pi * 50 * k * t) for k in range(1, 12))


def _chords(seconds_each=2.5):
    def chord(f0s):
        t = _t(seconds_each)
        env = np.minimum(1, t / 0.2) * np.minimum(1, (seconds_each - t) / 0.3)
        return env * sum(0.2 / h * np.sin(2 * np.pi * f * h * t) for f in f0s for h in range(1, 6))

    return np.concatenate([chord([261.6, 329.6, 392.0]), chord([220.0, 277.2, 329.6]), chord([196.0, 246.9, 293.7])])


@pytest.mark.parametrize(
    "name,make",
    [("silence", lambda: np.zeros(5 * SR)), ("white noise", _white), ("pink noise", _pink),
     ("50 Hz hum + harmonics", _hum), ("sustained chords", _chords)],
)
def test_voice_activity_is_low_without_speech(name, make):
    act = voice_activity(make().astype(np.float32))
    assert act.dtype == np.float32 and act.min() >= 0 and act.max() <= 1
    assert act.mean() < 0.1, name
    assert speech_fraction(act, 0, len(act) / 100) < 0.1, name


def test_voice_activity_length_and_rate_check():
    assert voice_activity(np.zeros(SR + 100, dtype=np.float32)).shape == (100,)
    with pytest.raises(ValueError):
        voice_activity(np.zeros(SR), sr=44100)


def _ravdess(n=6):
    from emotion_batch.training.datasets import find_clips, load_audio

    clips = find_clips(RAVDESS / "Actor_02")[::10][:n]
    return [load_audio(c.path) for c in clips]


@pytest.mark.shared
def test_voice_activity_is_high_on_ravdess_speech():
    for wave in _ravdess():
        act = voice_activity(wave)
        # RAVDESS clips: ~1 s of room tone, 1.5-2.5 s of speech, ~1 s of room tone.
        mid = act[int(len(act) * 0.4) : int(len(act) * 0.6)]
        assert mid.mean() > 0.6
        assert act[:30].mean() < 0.1  # the first 0.3 s is silence before the actor speaks
        assert 0.2 < (act > 0.5).mean() < 0.8


@pytest.mark.shared
def test_voice_activity_keeps_speech_over_hum():
    for wave in _ravdess(3):
        hum = _hum(len(wave) / SR + 0.01)[: len(wave)]
        rms = np.sqrt(np.mean(wave[np.abs(wave) > np.percentile(np.abs(wave), 50)] ** 2))
        hum = hum / np.sqrt(np.mean(hum**2)) * rms * 10 ** (-10 / 20)  # hum 10 dB under speech
        act = voice_activity((wave + hum).astype(np.float32))
        assert (act > 0.5).mean() > 0.2
        assert act[:30].mean() < 0.1  # the hum alone is not speech


def test_end_of_track_is_not_speech():
    """Digital silence after a steady signal (a track ending, zero padding) must not read as the
    syllable-rate energy drop of speech (it did, for the last second of every track)."""
    import numpy as np

    from emotion_batch.audio.features import speech_fraction, voice_activity

    t = np.arange(3 * 16000) / 16000
    for sound in (0.3 * np.sin(2 * np.pi * 220 * t), 0.01 * np.random.default_rng(0).standard_normal(len(t))):
        wave = np.concatenate([sound, np.zeros(2 * 16000)]).astype(np.float32)
        act = voice_activity(wave)
        assert max(speech_fraction(act, s, s + 1) for s in range(5)) < 0.1

"""Audio features for the audio expert and the timeline: log-mel, voice activity, windows.

All functions work on 16 kHz mono float32 waveforms in [-1, 1]. Frames are 10 ms apart and
frame ``i`` is centred on ``i * 0.01`` s, so a waveform of ``T`` samples has ``T // 160``
frames (100 per second, 200 for the 2 s windows the audio expert reads).

Voice activity (``voice_activity``) combines, per 10 ms frame, three cues computed in the
300-3400 Hz telephone speech band:

1. **energy above an adaptive noise floor**: the band energy (dB) is smoothed over 200 ms and
   its running minimum over 3 s is the noise floor; a frame scores by how far it rises above
   that floor (soft threshold at +8 dB) and must also exceed an absolute level of -60 dB re a
   full-scale sine. Any steady signal (silence, hum, fan noise) sits *on* its own floor and
   scores ~0 whatever its loudness.
2. **syllabic-rate modulation**: the band-energy envelope (dB) is band-passed to 2-8 Hz (the
   rate of syllables) and its RMS over a 600 ms window is the modulation depth; speech swings
   10-30 dB at that rate, sustained chords, hum and stationary noise move by a few dB at most.
3. **spectral flatness** (geometric / arithmetic mean of the band's power spectrum, median-
   smoothed over 150 ms): ~0.55 for white or pink noise, well below 0.3 for voiced speech.
   It removes amplitude-modulated noise that passes the first two cues.

activity = energy_gate * modulation_gate * (1 - flatness_gate), each a logistic in [0, 1],
median-filtered over 70 ms. Known limit: music with strong 2-8 Hz beats of harmonic
sounds (e.g. staccato singing) can score as speech; the cues were chosen for the common
non-speech sounds in user video (silence, room tone, mains hum, sustained background music).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torchaudio
from scipy import ndimage, signal

SAMPLE_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 64
LOG_FLOOR = 1e-6  # power floor before the log: silence gives log(1e-6) = -13.8
FRAME_RATE = SAMPLE_RATE / HOP  # 100 frames per second

SPEECH_BAND_HZ = (300.0, 3400.0)
MOD_BAND_HZ = (2.0, 8.0)

_mel_cache: dict[str, torchaudio.transforms.MelSpectrogram] = {}


def _mel_transform(device: torch.device) -> torchaudio.transforms.MelSpectrogram:
    key = str(device)
    if key not in _mel_cache:
        _mel_cache[key] = torchaudio.transforms.MelSpectrogram(
            sample_rate=SAMPLE_RATE,
            n_fft=N_FFT,
            win_length=N_FFT,
            hop_length=HOP,
            f_min=0.0,
            f_max=SAMPLE_RATE / 2,
            n_mels=N_MELS,
            power=2.0,
            center=True,
            norm="slaney",
            mel_scale="slaney",
        ).to(device)
    return _mel_cache[key]


def _as_tensor(wave) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32)) if not torch.is_tensor(wave) else wave
    return x.float()


def log_mel(wave) -> torch.Tensor:
    """Log mel power spectrogram, (T,) -> (64, T // 160) or (B, T) -> (B, 64, T // 160).

    torchaudio MelSpectrogram: 16 kHz, n_fft 400 (25 ms Hann), hop 160 (10 ms), 64 Slaney mel
    bands 0-8 kHz, power 2, then ``log(max(mel, 1e-6))``.
    """
    x = _as_tensor(wave)
    if x.ndim not in (1, 2):
        raise ValueError(f"log_mel expects (T,) or (B, T), got shape {tuple(x.shape)}")
    n_frames = x.shape[-1] // HOP
    if n_frames == 0:
        raise ValueError(f"waveform too short for one 10 ms frame: {x.shape[-1]} samples")
    with torch.no_grad():
        mel = _mel_transform(x.device)(x)[..., :n_frames]
    return torch.log(torch.clamp(mel, min=LOG_FLOOR))


def audio_window(wave, center_s: float, window_s: float = 2.0, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The ``window_s`` seconds of ``wave`` centred on ``center_s``, zero-padded past the edges.

    Always returns ``round(window_s * sr)`` float32 samples. The pipeline reads the window
    centred on each second's middle (``second + 0.5``).
    """
    x = np.asarray(wave, dtype=np.float32)
    n = int(round(window_s * sr))
    start = int(round((center_s - window_s / 2.0) * sr))
    out = np.zeros(n, dtype=np.float32)
    lo, hi = max(start, 0), min(start + n, x.shape[0])
    if hi > lo:
        out[lo - start : hi - start] = x[lo:hi]
    return out


def _band_power(wave: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrogram restricted to the speech band: (frames, bins) and bin frequencies."""
    x = torch.as_tensor(np.asarray(wave, dtype=np.float32))
    spec = torch.stft(
        x, n_fft=N_FFT, hop_length=HOP, win_length=N_FFT,
        window=torch.hann_window(N_FFT), center=True, return_complex=True,
    )
    power = (spec.abs() ** 2).numpy().T[: x.shape[0] // HOP]  # (frames, bins)
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / sr)
    sel = (freqs >= SPEECH_BAND_HZ[0]) & (freqs <= SPEECH_BAND_HZ[1])
    return power[:, sel], freqs[sel]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


# dB of the band power of a full-scale sine (Hann window, n_fft 400): ~ (sum(w) / 2) ** 2.
_FULL_SCALE_DB = 10.0 * math.log10((N_FFT / 4.0) ** 2)
_DIGITAL_SILENCE_DB = -120.0  # band energy re full scale below which a frame holds no signal


def voice_activity(wave, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Per-10-ms-frame speech probability in [0, 1], length ``len(wave) // 160``.

    See the module docstring for the method. ``sr`` must be 16000 (resample first).
    """
    if sr != SAMPLE_RATE:
        raise ValueError(f"voice_activity expects {SAMPLE_RATE} Hz audio, got {sr}")
    x = np.asarray(wave, dtype=np.float32)
    n_frames = x.shape[0] // HOP
    if n_frames == 0:
        return np.zeros(0, dtype=np.float32)
    power, _ = _band_power(x, sr)
    band = power.sum(axis=1)
    e_db = 10.0 * np.log10(band + 1e-10) - _FULL_SCALE_DB  # dB re full-scale sine

    # 1. energy above an adaptive noise floor (and above an absolute silence level). Digital
    # silence (zeros: before a track starts, after it ends, padding) is not a noise floor:
    # left in, the end of any track would look like a deep syllable-rate energy drop.
    signal_frames = e_db > _DIGITAL_SILENCE_DB
    if signal_frames.any():
        # mean over the signal frames only of each 20-frame neighbourhood, then its running minimum
        w = ndimage.uniform_filter1d(signal_frames.astype(np.float64), size=20, mode="nearest")
        smooth = ndimage.uniform_filter1d(np.where(signal_frames, e_db, 0.0), size=20, mode="nearest")
        smooth = np.where(w > 1e-9, smooth / np.maximum(w, 1e-9), np.inf)
        floor = ndimage.minimum_filter1d(np.where(signal_frames, smooth, np.inf), size=300, mode="nearest")
        floor = np.where(np.isfinite(floor), floor, np.min(smooth[signal_frames]))
    else:
        floor = e_db
    energy_gate = _sigmoid((e_db - floor - 8.0) / 2.0) * _sigmoid((e_db + 60.0) / 2.0)

    # 2. syllabic-rate (2-8 Hz) modulation depth of the band-energy envelope.
    env = np.maximum(e_db, floor)  # do not let deep digital silence dominate the envelope
    if n_frames > 30:
        sos = signal.butter(2, MOD_BAND_HZ, btype="bandpass", fs=FRAME_RATE, output="sos")
        mod = signal.sosfiltfilt(sos, env - env.mean(), padlen=min(30, n_frames - 1))
    else:
        mod = env - env.mean()
    depth = np.sqrt(np.clip(ndimage.uniform_filter1d(mod**2, size=60, mode="nearest"), 0.0, None))
    mod_gate = _sigmoid((depth - 3.0) / 0.75)

    # 3. spectral flatness in the speech band (noise ~0.55, voiced speech < 0.3).
    log_mean = np.log(power + 1e-12).mean(axis=1)
    flatness = np.exp(log_mean) / (power.mean(axis=1) + 1e-12)
    flatness = ndimage.median_filter(flatness, size=15, mode="nearest")
    flat_gate = _sigmoid((flatness - 0.4) / 0.04)

    act = energy_gate * mod_gate * (1.0 - flat_gate)
    act = ndimage.median_filter(act, size=7, mode="nearest")
    return np.clip(act, 0.0, 1.0).astype(np.float32)


def speech_fraction(activity: np.ndarray, start_s: float, end_s: float, threshold: float = 0.5) -> float:
    """Fraction of the 10 ms frames centred in [start_s, end_s) whose activity > threshold."""
    a = np.asarray(activity)
    lo = max(int(math.ceil(start_s * FRAME_RATE - 1e-9)), 0)
    hi = min(int(math.ceil(end_s * FRAME_RATE - 1e-9)), a.shape[0])
    if hi <= lo:
        return 0.0
    return float((a[lo:hi] > threshold).mean())


def speech_per_second(activity: np.ndarray, n_seconds: int | None = None, threshold: float = 0.5) -> np.ndarray:
    """``speech_fraction`` for each whole second 0, 1, ... (n_seconds defaults to the audio's)."""
    a = np.asarray(activity)
    if n_seconds is None:
        n_seconds = int(math.ceil(a.shape[0] / FRAME_RATE))
    return np.array(
        [speech_fraction(a, s, s + 1.0, threshold) for s in range(n_seconds)], dtype=np.float32
    )

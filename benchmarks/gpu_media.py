"""Test videos for benchmarks/gpu_check.py, made on the spot with PyAV alone (the device machine
has no scikit-image and no ../shared): the face photo shipped in benchmarks/assets/face.jpg
(scikit-image's astronaut, public domain, NASA) drifting over a textured background, two faces
per frame, with a voiced sound track (a 140 Hz buzz in 4 syllables a second)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

PHOTO = Path(__file__).resolve().parent / "assets" / "face.jpg"
AUDIO_RATE = 16000


def face_photo(height: int) -> np.ndarray:
    """The photo resized to height x height RGB (FFmpeg's scaler: no scikit-image needed)."""
    with av.open(str(PHOTO)) as c:
        frame = next(c.decode(video=0))
    return frame.reformat(width=height, height=height, format="rgb24").to_ndarray()


def voice(seconds: float, rate: int = AUDIO_RATE, seed: int = 0) -> np.ndarray:
    """A speech-like float32 track: harmonics of 140 Hz gated into 4 syllables a second."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    tone = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 8))
    gate = np.clip(np.sin(2 * np.pi * 4 * t + rng.uniform(0, np.pi)), 0, None) ** 2
    return (0.2 * tone * gate + 0.003 * rng.standard_normal(len(t))).astype(np.float32)


def frames(n: int, fps: float, size: tuple[int, int], seed: int = 0):
    """n RGB frames of size (w, h): two photos of half the height (faces ~ 1/5 of it) drifting slowly."""
    w, h = size
    rng = np.random.default_rng(seed)
    side = min(max(120, h // 2), h, w // 2)
    face = face_photo(side)
    bg = (rng.integers(60, 120, (h // 8 + 1, w // 8 + 1, 3))).astype(np.uint8)
    bg = np.kron(bg, np.ones((8, 8, 1), np.uint8))[:h, :w]
    phase = rng.uniform(0, 2 * np.pi, 2)
    for i in range(n):
        img = bg.copy()
        t = i / fps
        for k, x0 in enumerate((w // 8, w // 2 + w // 8)):
            x = int(x0 + 0.05 * w * np.sin(0.5 * t + phase[k]))
            y = int(h / 2 - side / 2 + 0.05 * h * np.cos(0.4 * t + phase[k]))
            x, y = min(max(0, x), w - side), min(max(0, y), h - side)
            img[y : y + side, x : x + side] = face
        yield img


def make_video(path: str | Path, seconds: float, size: tuple[int, int], fps: int = 25, seed: int = 0) -> float:
    """H.264 (ultrafast) + AAC mp4 of `seconds`; returns its duration."""
    n = int(seconds * fps)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        vs.options = {"preset": "ultrafast", "crf": "23"}
        ast = out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        for img in frames(n, fps, size, seed):
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        audio = voice(seconds, seed=seed)
        step = 1024
        for i in range(0, len(audio), step):
            f = av.AudioFrame.from_ndarray(audio[None, i : i + step], format="flt", layout="mono")
            f.sample_rate, f.pts, f.time_base = AUDIO_RATE, i, Fraction(1, AUDIO_RATE)
            for p in ast.encode(f):
                out.mux(p)
        for p in ast.encode():
            out.mux(p)
    return n / fps

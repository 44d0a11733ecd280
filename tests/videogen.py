"""Small real videos made by the tests themselves (PyAV encode of a real face photo).

The face is scikit-image's astronaut photo (public domain, NASA), drifting slowly so the
encoder and tracker see motion. Frame times are exactly the ones asked for, so tests can
check timestamps end to end, including variable frame rate.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from skimage.data import astronaut
from skimage.transform import resize

_PHOTO = None


def face_photo(height: int) -> np.ndarray:
    global _PHOTO
    if _PHOTO is None:
        _PHOTO = astronaut()
    img = resize(_PHOTO, (height, height), anti_aliasing=True, preserve_range=True)
    return img.astype(np.uint8)


def frame_times(seconds: float, fps: float, vfr: bool = False) -> np.ndarray:
    """Uniform times, or (vfr) alternating short and long gaps with the same mean rate."""
    if not vfr:
        return np.arange(int(round(seconds * fps))) / fps
    gaps = np.tile([0.5 / fps, 1.5 / fps], int(seconds * fps))
    t = np.concatenate([[0.0], np.cumsum(gaps)])
    return np.round(t[t < seconds - 1e-6], 6)


def make_frames(times: np.ndarray, size=(320, 240), face: bool = True) -> list[np.ndarray]:
    w, h = size
    photo = face_photo(h) if face else None
    frames = []
    for i, _ in enumerate(times):
        f = np.full((h, w, 3), 96, np.uint8)
        if photo is not None:
            x = min(w - h, (i // 2) % max(1, w - h + 1))  # slow horizontal drift
            f[:, x : x + h] = photo
        else:
            f[:] = (np.arange(w)[None, :, None] * 255 // w).astype(np.uint8)  # a plain gradient
        frames.append(f)
    return frames


def tone(seconds: float, rate: int = 16000, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def mux_video(out: av.container.OutputContainer, stream, frames, pts, time_base=None) -> None:
    """Encode RGB uint8 frames into `stream` of `out` at the given pts, then flush the encoder."""
    for img, t in zip(frames, pts):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = t
        if time_base is not None:
            frame.time_base = time_base
        for pkt in stream.encode(frame):
            out.mux(pkt)
    for pkt in stream.encode():
        out.mux(pkt)


def mux_audio(out: av.container.OutputContainer, stream, audio: np.ndarray, rate: int) -> None:
    """Encode mono float audio into `stream` of `out` in 1024-sample AAC frames from t=0."""
    for i in range(0, len(audio), 1024):
        af = av.AudioFrame.from_ndarray(np.asarray(audio[None, i : i + 1024], np.float32), format="flt", layout="mono")
        af.sample_rate, af.pts, af.time_base = rate, i, Fraction(1, rate)
        for pkt in stream.encode(af):
            out.mux(pkt)
    for pkt in stream.encode():
        out.mux(pkt)


def make_video(
    path: str | Path,
    seconds: float = 3.0,
    fps: float = 10.0,
    size=(320, 240),
    face: bool = True,
    audio: np.ndarray | None | str = "tone",
    audio_rate: int = 16000,
    vfr: bool = False,
    times: np.ndarray | None = None,
    faststart: bool = False,
) -> np.ndarray:
    """Encode an H.264 (+ AAC) file; returns the frame times written."""
    path = str(path)
    times = frame_times(seconds, fps, vfr) if times is None else np.asarray(times)
    if isinstance(audio, str):
        audio = tone(seconds, audio_rate)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(path, "w", options=options) as out:
        vs = out.add_stream("libx264", rate=int(round(fps)))
        vs.width, vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.time_base = Fraction(1, 1000)
        vs.codec_context.time_base = Fraction(1, 1000)
        vs.options = {"preset": "ultrafast", "g": "10", "bf": "0"}
        ast = None
        if audio is not None:
            ast = out.add_stream("aac", rate=audio_rate, layout="mono")
        mux_video(out, vs, make_frames(times, size, face), [int(round(t * 1000)) for t in times], Fraction(1, 1000))
        if ast is not None:
            mux_audio(out, ast, audio, audio_rate)
    return times


def make_audio_only(path: str | Path, seconds: float = 2.0, rate: int = 16000) -> None:
    with av.open(str(path), "w", format="mp4") as out:
        ast = out.add_stream("aac", rate=rate, layout="mono")
        mux_audio(out, ast, tone(seconds, rate), rate)


def concat_video(src: str | Path, dst: str | Path, times: int) -> float:
    """Write `src` `times` times back to back into `dst` by remuxing (no re-encode). Each
    stream's packets are shifted by that stream's own length (last dts + duration), so
    timestamps stay monotonic. Returns the new video duration in seconds."""
    shift: dict[int, int] = {}
    with av.open(str(dst), "w") as out:
        outs = {}
        for k in range(times):
            end: dict[int, int] = {}
            first: dict[int, int] = {}
            with av.open(str(src)) as inp:
                streams = [s for s in inp.streams if s.type in ("video", "audio")]
                for s in streams:
                    if s.index not in outs:
                        outs[s.index] = out.add_stream_from_template(s)
                for pkt in inp.demux(streams):
                    if pkt.dts is None:
                        continue
                    i = pkt.stream.index
                    off = shift.get(i, 0)
                    first.setdefault(i, pkt.dts)  # AAC starts at -1024 (priming samples)
                    end[i] = max(end.get(i, pkt.dts), pkt.dts + (pkt.duration or 1))
                    pkt.dts += off
                    pkt.pts = None if pkt.pts is None else pkt.pts + off
                    pkt.stream = outs[i]
                    out.mux(pkt)
            for i, e in end.items():
                shift[i] = shift.get(i, 0) + e - first[i]
    with av.open(str(dst)) as c:
        v = c.streams.video[0]
        return float(v.duration * v.time_base) if v.duration else c.duration / 1e6

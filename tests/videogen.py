"""Small real videos made by the tests themselves (PyAV encode of a real face photo).

The face is scikit-image's astronaut photo (public domain, NASA), drifting slowly so the
encoder and tracker see motion. Frame times are exactly the ones asked for, so tests can
check timestamps end to end, including variable frame rate.
"""

from __future__ import annotations

import os
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


def make_frames(times: np.ndarray, size=(320, 240), face: bool = True, face_from_s: float = 0.0) -> list[np.ndarray]:
    """Upright RGB frames of `size` (w, h): the square face photo drifting slowly along the
    longer side (left to right, or top to bottom for a portrait size), or a plain gradient
    (no face, or before `face_from_s`)."""
    w, h = size
    side = min(w, h)
    photo = face_photo(side) if face else None
    frames = []
    for i, t in enumerate(times):
        f = np.full((h, w, 3), 96, np.uint8)
        if photo is not None and t >= face_from_s:
            x = min(max(w, h) - side, (i // 2) % max(1, max(w, h) - side + 1))  # slow drift
            if w >= h:
                f[:, x : x + side] = photo
            else:
                f[x : x + side, :] = photo
        else:
            f[:] = (np.arange(w)[None, :, None] * 255 // w).astype(np.uint8)  # a plain gradient
        frames.append(f)
    return frames


def tone(seconds: float, rate: int = 16000, freq: float = 220.0, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def voice(seconds: float, rate: int = 16000, f0: float = 140.0, syllables_hz: float = 4.0) -> np.ndarray:
    """A synthetic voice: harmonics of a gliding 140 Hz pitch weighted by three formants
    (500, 1500, 2500 Hz), in 4 Hz syllables with silent gaps. Voice activity takes it for
    speech (about half of each second), so the audio expert's reading is used; a plain tone
    is not speech."""
    t = np.arange(int(seconds * rate)) / rate
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t))) / rate
    x = np.zeros_like(t)
    for k in range(1, 30):
        w = sum(np.exp(-((k * f0 - fm) / 150) ** 2) for fm in (500, 1500, 2500)) + 0.05 / k
        x += w * np.sin(k * phase)
    x *= np.clip(np.sin(np.pi * syllables_hz * t), 0, None) ** 1.5
    x += 0.001 * np.random.default_rng(0).standard_normal(len(t))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


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
    """Encode mono float audio into `stream` of `out` in 1024-sample frames from t=0 (PyAV
    re-frames them to the codec's frame size, and converts the sample format if it must)."""
    fmt = stream.codec_context.format.name if stream.codec_context.format else "flt"
    data = np.asarray(audio, np.float32)
    if fmt.startswith("s16"):
        data = np.round(np.clip(data, -1, 1) * 32767).astype(np.int16)
    elif fmt.startswith("s32"):
        data = np.round(np.clip(data, -1, 1) * 2147483647).astype(np.int32)
    for i in range(0, len(data), 1024):
        af = av.AudioFrame.from_ndarray(data[None, i : i + 1024], format=fmt, layout="mono")
        af.sample_rate, af.pts, af.time_base = rate, i, Fraction(1, rate)
        for pkt in stream.encode(af):
            out.mux(pkt)
    for pkt in stream.encode():
        out.mux(pkt)


# Encoder settings that keep the test files small and fast to make (2-4 s of 320x240).
CODEC_OPTIONS = {
    "libx264": {"preset": "ultrafast", "g": "10", "bf": "0"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx": {"deadline": "realtime", "cpu-used": "8"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8", "row-mt": "1"},
    "libsvtav1": {"preset": "12"},
    "prores_ks": {"profile": "0"},
}


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
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio_codec: str = "aac",
    rotation: int = 0,
    face_from_s: float = 0.0,
) -> np.ndarray:
    """Encode a video (default H.264 + AAC; the container follows the file name); returns the
    frame times written. `size` is the displayed (w, h); with `rotation` (degrees, a multiple
    of 90, counter-clockwise as FFmpeg's display matrix reads) the picture is stored turned the
    other way with that rotation flag, as a phone stores a portrait recording. The face
    appears at `face_from_s`."""
    path = str(path)
    times = frame_times(seconds, fps, vfr) if times is None else np.asarray(times)
    if isinstance(audio, str):
        audio = tone(seconds, audio_rate)
    turns = (rotation // 90) % 4
    frames = [np.ascontiguousarray(np.rot90(f, -turns)) for f in make_frames(times, size, face, face_from_s)]
    stored = (size[1], size[0]) if turns % 2 else size
    # AVI has no per-frame timestamps: frames are numbered at the stream rate
    den = int(round(fps)) if path.lower().endswith(".avi") else 1000
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(path, "w", options=options) as out:
        vs = out.add_stream(codec, rate=int(round(fps)))
        vs.width, vs.height = stored
        vs.pix_fmt = pix_fmt
        vs.time_base = Fraction(1, den)
        vs.codec_context.time_base = Fraction(1, den)
        vs.options = dict(CODEC_OPTIONS.get(codec, {}))
        if rotation:
            vs.set_display_rotation(rotation)
        ast = None
        if audio is not None:
            ast = out.add_stream(audio_codec, rate=audio_rate, layout="mono")
        mux_video(out, vs, frames, [int(round(t * den)) for t in times], Fraction(1, den))
        if ast is not None:
            mux_audio(out, ast, audio, audio_rate)
    return times


def make_audio_only(path: str | Path, seconds: float = 2.0, rate: int = 16000, codec: str = "aac",
                    audio: np.ndarray | None = None, format: str | None = None) -> None:
    """An audio-only file (default AAC in MP4; the container follows the name unless `format`)."""
    path = str(path)
    fmt = format or ("mp4" if path.endswith((".mp4", ".m4a")) else None)
    with av.open(path, "w", format=fmt) as out:
        ast = out.add_stream(codec, rate=rate, layout="mono")
        mux_audio(out, ast, tone(seconds, rate) if audio is None else audio, rate)


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


def cut_file(src: str | Path, dst: str | Path, fraction: float) -> None:
    """The first `fraction` of `src`'s bytes: a recording whose end is missing."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * fraction)])


# The input cases the media stage must read (README "Inputs handled"): name -> (file name,
# make_video keyword arguments). 3 s at 10 fps, 320x240 displayed, small and quick to encode.
INPUT_CASES = {
    "vp9_opus_webm": ("vp9.webm", dict(codec="libvpx-vp9", audio_codec="libopus", audio_rate=48000)),
    "vp8_webm": ("vp8.webm", dict(codec="libvpx", audio_codec="libopus", audio_rate=48000)),
    "av1_mkv": ("av1.mkv", dict(codec="libsvtav1", audio_codec="libopus", audio_rate=48000)),
    "hevc10_mp4": ("hevc10.mp4", dict(codec="libx265", pix_fmt="yuv420p10le")),
    "mpeg4_mp4": ("mpeg4.mp4", dict(codec="mpeg4")),
    "mjpeg_avi": ("mjpeg.avi", dict(codec="mjpeg", pix_fmt="yuvj420p", audio_codec="pcm_s16le")),
    "prores_mov": ("prores.mov", dict(codec="prores_ks", pix_fmt="yuv422p10le", audio_codec="pcm_s16le")),
    # a phone's portrait recording: 240x320 shown, stored 320x240 with a rotation flag
    "portrait_rot90": ("portrait90.mp4", dict(size=(240, 320), rotation=90)),
    "portrait_rot270": ("portrait270.mov", dict(size=(240, 320), rotation=-90)),
    "upside_down": ("rot180.mp4", dict(rotation=180)),
}


def make_input(kind: str, folder: str | Path, seconds: float = 3.0) -> tuple[str, np.ndarray]:
    """Make one INPUT_CASES file in `folder`; returns (path, frame times)."""
    os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its banner to stderr otherwise
    name, kw = INPUT_CASES[kind]
    path = Path(folder) / name
    times = make_video(path, seconds=seconds, fps=10, **kw)
    return str(path), times

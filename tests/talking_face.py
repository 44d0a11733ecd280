"""Talking-face test videos with a known audio/video offset.

A real face photo (``skimage.data.astronaut()``) has its mouth opened and closed in proportion
to the amplitude envelope of real speech (RAVDESS clips): the jaw below the lips is stretched
down and a dark mouth cavity drawn, both scaled by the envelope at the frame's time. The speech
is then muxed with a known offset or a linear drift (libx264 + AAC in MP4, via PyAV).

Sign convention (the same as ``emotion_batch.sync``): offset d > 0 means the audio lags the
video; the sound that belongs to the frame shown at video time t is heard at t + d.

The mouth envelope here is deliberately computed differently from the estimator's audio
signal (Hilbert magnitude low-passed at 8 Hz, raised to 0.7, vs. frame RMS in the speech band),
so the test does not share the model it checks.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import av
import numpy as np
from scipy import ndimage, signal
from skimage import data

from videogen import mux_audio, mux_video

SR = 16000
# Mouth corners of the astronaut found by facenet-pytorch MTCNN on the full 512x512 image.
_MOUTH_CORNERS = np.array([[201.7, 139.2], [245.3, 141.9]])
CROP_ORIGINS = {"center": (20, 64), "left": (20, 144), "right": (20, 144)}  # (row, col) of a crop


def load_speech(paths: list[Path], gap_s: float = 0.2) -> np.ndarray:
    """Concatenate 16 kHz mono FLAC clips (each trimmed of most of its silent lead-in/tail)."""
    parts = []
    for p in paths:
        with av.open(str(p)) as c:
            res = av.AudioResampler(format="flt", layout="mono", rate=SR)
            x = np.concatenate(
                [f.to_ndarray().reshape(-1) for fr in c.decode(audio=0) for f in res.resample(fr)]
            )
        env = np.abs(x)
        loud = np.flatnonzero(env > 0.1 * env.max())
        a, b = max(0, loud[0] - int(0.5 * SR)), min(len(x), loud[-1] + int(0.4 * SR))
        parts += [x[a:b], np.zeros(int(gap_s * SR), np.float32)]
    return np.concatenate(parts).astype(np.float32)


def mouth_envelope(speech: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Opening in [0, 1] at each time (s) of the speech signal."""
    env = np.abs(signal.hilbert(speech.astype(np.float64)))
    sos = signal.butter(2, 8.0, "low", fs=SR, output="sos")
    env = np.clip(signal.sosfiltfilt(sos, env), 0, None) ** 0.7
    env /= np.percentile(env, 99.5) + 1e-9
    return np.clip(np.interp(times * SR, np.arange(len(env)), env), 0.0, 1.0)


@lru_cache(maxsize=1)
def _astronaut() -> np.ndarray:
    return data.astronaut().astype(np.float32)


def _face_crop(origin: tuple[int, int], height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    r, c = origin
    img = _astronaut()[r : r + height, c : c + width]
    return img, _MOUTH_CORNERS - np.array([c, r])


def render_mouth(face: np.ndarray, corners: np.ndarray, opening: float) -> np.ndarray:
    """The face with its mouth open by `opening` in [0, 1] (float32 HxWx3)."""
    out = face.copy()
    mw = float(np.linalg.norm(corners[1] - corners[0]))
    cx, cy = corners.mean(0)
    h, w = face.shape[:2]
    y0, y1 = int(cy - 0.1 * mw), int(min(h, cy + 1.4 * mw))
    x0, x1 = int(max(0, cx - 0.8 * mw)), int(min(w, cx + 0.8 * mw))
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    # Jaw drop: pixels below the lips move down by up to 0.25 mouth widths, fading sideways
    # and towards the chin's bottom.
    fall_x = np.clip(1 - np.abs(xx - cx) / (0.8 * mw), 0, 1)
    fall_y = np.clip((yy - cy) / (0.2 * mw), 0, 1) * np.clip((cy + 1.4 * mw - yy) / (0.6 * mw), 0, 1)
    shift = 0.25 * mw * opening * fall_x * fall_y
    for ch in range(3):
        out[y0:y1, x0:x1, ch] = ndimage.map_coordinates(face[..., ch], [yy - shift, xx], order=1, mode="nearest")
    # Mouth cavity: a dark ellipse with a soft edge.
    ry, rx = 0.22 * mw * opening + 1e-3, 0.38 * mw
    d = ((xx - cx) / rx) ** 2 + ((yy - cy - 0.5 * ry) / ry) ** 2
    alpha = np.clip((1.0 - d) * 3.0, 0, 1)[..., None] * min(1.0, opening * 4)
    out[y0:y1, x0:x1] = out[y0:y1, x0:x1] * (1 - alpha) + np.array([60, 20, 25], np.float32) * alpha
    return out


def make_frames(
    openings: np.ndarray, layout: str = "single", width: int = 320, height: int = 240,
    face: bool = True, sway_px: float = 0.7, seed: int = 0,
) -> np.ndarray:
    """uint8 (N, H, W, 3): one face (`single`) or two faces side by side (`pair`, openings (N, 2)).
    Sensor noise and a slow sub-pixel head sway make the picture less ideal than a still."""
    rng = np.random.default_rng(seed)
    n = len(openings)
    openings = np.asarray(openings, np.float32).reshape(n, -1)
    frames = np.empty((n, height, width, 3), np.uint8)
    if layout == "single":
        faces = [(_face_crop(CROP_ORIGINS["center"], height, width), 0)]
    else:
        half = width // 2
        faces = [(_face_crop(CROP_ORIGINS["left"], height, half), 0), (_face_crop(CROP_ORIGINS["right"], height, half), half)]
    bg = np.full((height, width, 3), 110, np.float32)
    noise = 2.0 * rng.standard_normal((8, height, width, 3), dtype=np.float32)  # sensor noise pool
    for k in range(n):
        img = bg.copy()
        if face:
            for j, ((f, corners), x_off) in enumerate(faces):
                img[:, x_off : x_off + f.shape[1]] = render_mouth(f, corners, float(openings[k, j % openings.shape[1]]))
            dx = sway_px * np.sin(2 * np.pi * 0.3 * k / 25.0)  # |dx| <= 1 px: linear interpolation
            img = (1 - abs(dx)) * img + abs(dx) * np.roll(img, int(np.sign(dx)), axis=1)
        img += noise[rng.integers(len(noise))]
        frames[k] = np.clip(img, 0, 255).astype(np.uint8)
    return frames


def mouth_corners(layout: str = "single", width: int = 320) -> list[np.ndarray]:
    """Full-frame mouth-corner (x, y) pairs of each face, as MTCNN finds them."""
    if layout == "single":
        return [_face_crop(CROP_ORIGINS["center"], 1, 1)[1]]
    half = width // 2
    return [_face_crop(CROP_ORIGINS["left"], 1, 1)[1], _face_crop(CROP_ORIGINS["right"], 1, 1)[1] + [half, 0]]


def shift_audio(speech: np.ndarray, n_out: int, offset_s: float = 0.0, drift: float = 0.0) -> np.ndarray:
    """The audio track in which the speech sound of video time t is heard at
    t + offset_s + drift * t (zeros where there is nothing to hear)."""
    tau = np.arange(n_out) / SR
    t = (tau - offset_s) / (1.0 + drift)  # video time whose sound plays at audio time tau
    pos = t * SR
    out = np.interp(pos, np.arange(len(speech)), speech, left=0.0, right=0.0)
    return out.astype(np.float32)


def write_mp4(path: str | Path, frames: np.ndarray, audio: np.ndarray | None, fps: int = 25,
              b_frames: bool = True) -> None:
    """libx264 (yuv420p) at `fps`, frame k at k/fps; AAC 16 kHz mono audio starting at 0.
    b_frames=False encodes without B-frames (decode order = display order), which
    `concat_copies` needs."""
    with av.open(str(path), "w") as c:
        vs = c.add_stream("libx264", rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        vs.options = {"crf": "20", "preset": "veryfast", **({} if b_frames else {"bf": "0"})}
        a_s = None
        if audio is not None:
            a_s = c.add_stream("aac", rate=SR)
            a_s.layout = "mono"
        mux_video(c, vs, frames, range(len(frames)))
        if a_s is not None:
            mux_audio(c, a_s, audio, SR)


def make_talking_video(
    path: str | Path, speech: np.ndarray, offset_s: float = 0.0, drift: float = 0.0, fps: int = 25,
    layout: str = "single", other_speech: np.ndarray | None = None, face: bool = True,
    silent: bool = False, seed: int = 0,
) -> dict:
    """Write a talking-face MP4 whose audio is `speech` shifted by offset_s (+ drift * t).
    Returns the truth: frame times, openings and the audio track as written."""
    n = int(len(speech) / SR * fps)
    times = np.arange(n) / fps
    opening = mouth_envelope(speech, times)
    if layout == "pair":
        other = mouth_envelope(other_speech, times) if other_speech is not None else np.zeros(n)
        opening = np.stack([opening, other], 1)
    frames = make_frames(opening, layout, face=face, seed=seed)
    track = shift_audio(speech, len(speech), offset_s, drift)
    if silent:
        track = np.zeros_like(track)
    write_mp4(path, frames, track, fps)
    return {"times": times, "opening": opening, "audio": track, "offset_s": offset_s, "drift": drift}


def make_conversation(
    path: str | Path, turns: list[tuple[int | None, np.ndarray]], n_faces: int = 2, fps: int = 25,
    offset_s: float = 0.0, mouthing: dict[int, np.ndarray] | None = None, gap_s: float = 0.3, seed: int = 0,
    b_frames: bool = True,
) -> dict:
    """A scene of `n_faces` visible faces (1: `single`, 2: `pair`, left = 0) and one audio track
    made of the `turns` in order, each (who, speech): `who` is the face whose mouth follows that
    speech while it plays, or None for an off-screen voice (no mouth moves). Faces stay still
    outside their own turns, except that `mouthing` {face: speech} makes a face mouth speech that
    is never heard (e.g. a listener chewing or whispering), from t = 0. Turns are separated by
    `gap_s` of silence; the audio is shifted by offset_s as in `make_talking_video`
    (b_frames=False: see `write_mp4`).

    Returns the truth: frame times, openings (N, n_faces), the audio track, and per 100 ms of
    video time `who` (face index, -1 for an off-screen voice, -2 for nobody) and the speech
    activity of the turn playing (`active`, bool)."""
    parts, who = [], []
    for k, (face, speech) in enumerate(turns):
        gap = np.zeros(int(gap_s * SR), np.float32) if k else np.zeros(0, np.float32)
        parts += [gap, speech.astype(np.float32)]
        who += [(len(gap), -2), (len(speech), -1 if face is None else int(face))]
    audio = np.concatenate(parts)
    n = int(len(audio) / SR * fps)
    times = np.arange(n) / fps
    opening = np.zeros((n, n_faces), np.float32)
    owner = np.concatenate([np.full(m, w, np.int64) for m, w in who])
    pos = 0
    for k, (face, speech) in enumerate(turns):
        pos += int(gap_s * SR) if k else 0
        if face is not None:
            seg = (times * SR >= pos) & (times * SR < pos + len(speech))
            opening[seg, face] = mouth_envelope(speech, times[seg] - pos / SR)
        pos += len(speech)
    for face, speech in (mouthing or {}).items():
        m = min(n, int(len(speech) / SR * fps))
        opening[:m, face] = np.maximum(opening[:m, face], mouth_envelope(speech, times[:m]))
    frames = make_frames(opening if n_faces > 1 else opening[:, 0], "pair" if n_faces > 1 else "single", seed=seed)
    write_mp4(path, frames, shift_audio(audio, len(audio), offset_s), fps, b_frames)
    t_tick = np.arange(0.0, len(audio) / SR, 0.1)
    idx = np.minimum((t_tick * SR).astype(np.int64), len(owner) - 1)
    env = np.abs(signal.hilbert(audio.astype(np.float64)))
    env = signal.sosfiltfilt(signal.butter(2, 8.0, "low", fs=SR, output="sos"), env)
    e = np.interp(t_tick * SR, np.arange(len(env)), env)
    # loud relative to the loudest within +-1.5 s: clips of different actors differ in level
    local_max = ndimage.maximum_filter1d(e, 31, mode="nearest")
    active = e > 0.1 * local_max
    return {"times": times, "opening": opening, "audio": audio, "offset_s": offset_s, "t_tick": t_tick,
            "who": owner[idx], "active": active & (owner[idx] != -2)}


def speaker_per_second(truth: dict, seconds: int) -> np.ndarray:
    """Per video second: the face index that speaks in most of the second's active 100 ms ticks
    (-1: an off-screen voice), or -2 where nobody speaks in at least 3 ticks."""
    out = np.full(seconds, -2, np.int64)
    sec = np.floor(truth["t_tick"] + 1e-9).astype(np.int64)
    for s in range(seconds):
        w = truth["who"][(sec == s) & truth["active"]]
        if len(w) >= 3:
            vals, counts = np.unique(w, return_counts=True)
            out[s] = vals[np.argmax(counts)]
    return out


def concat_copies(src: str | Path, dst: str | Path, copies: int) -> float:
    """`copies` back-to-back copies of the MP4 `src` in `dst`: the video packets remuxed with
    timestamps shifted by one period per copy (no re-encode: fast for long test videos), the
    audio decoded once, repeated with the same period and encoded as one continuous track. The
    period is the clip's length rounded up to a whole number of video frames and of AAC frames;
    returns the new duration in seconds.

    `src` must have no B-frames (`write_mp4(..., b_frames=False)`): with them its first packets
    decode before time 0 and the copies lose frames at every seam. The audio is re-encoded, not
    remuxed, because copied AAC packets leave a gap of up to one frame at every seam (the clip's
    audio is not a whole number of frames), and `media.read_audio` lays decoded frames end to end
    from the first timestamp: measured, the remuxed copies' audio came out 0.128 s earlier per copy.
    """
    from fractions import Fraction
    from math import gcd, lcm

    from emotion_batch.media import read_audio

    with av.open(str(src)) as inp:
        vin = inp.streams.video[0]
        if vin.codec_context.has_b_frames:
            raise ValueError(f"{src} has B-frames: write it with b_frames=False to concatenate it")
        pk = [p for p in inp.demux(vin) if p.pts is not None]
        frame = Fraction(pk[1].pts - pk[0].pts) * pk[0].time_base
        end = max((p.pts + p.duration) * p.time_base for p in pk)
    aac = Fraction(1024, SR)  # one AAC frame
    step = Fraction(lcm(frame.numerator, aac.numerator), gcd(frame.denominator, aac.denominator))  # lcm of both
    period = -(-end // step) * step
    clip = read_audio(str(src))
    n_period = int(period * SR)
    one = np.zeros(n_period, np.float32)
    one[: min(n_period, len(clip.samples))] = clip.samples[:n_period]
    with av.open(str(dst), "w") as out:
        with av.open(str(src)) as inp:
            vout = out.add_stream_from_template(inp.streams.video[0])
        aout = out.add_stream("aac", rate=SR)
        aout.layout = "mono"
        for k in range(copies):
            with av.open(str(src)) as inp:
                for p in inp.demux(inp.streams.video[0]):
                    if p.dts is None:
                        continue
                    shift = int(k * period / p.time_base)
                    p.pts, p.dts = p.pts + shift, p.dts + shift
                    p.stream = vout
                    out.mux(p)
        mux_audio(out, aout, np.tile(one, copies), SR)
    return float(copies * period)

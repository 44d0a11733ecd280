"""The two 100 Hz activity signals that A/V sync aligns: mouth motion and audio change.

Both live on one uniform grid of ``RATE_HZ`` = 100 Hz, at absolute container times k / 100 s
(`uniform_grid`), so signals of different windows and faces line up sample for sample.

* visual (`MotionAccumulator`, `mouth_signal`): mean absolute luma difference between
  consecutive frames inside each face's mouth box (built from MTCNN's mouth corners,
  `vision.mouths.mouth_boxes`, and interpolated between the 5 fps analysed detections by
  `interpolate_boxes`), at the video's full frame rate capped at 30 fps
  (`media.windows.MAX_MOTION_FPS`: at 60-120 fps the change between frames is below sensor
  noise). Each difference is placed at the midpoint of its two frames and linearly interpolated
  onto the grid (`resample_samples`). Frames arrive downscaled (`media.windows.WindowReader`
  resizes in the decoder); nothing but the box pixels is used (luma inside the union of the
  chunk's boxes).
* audio (`AudioEnvelope`, `audio_signal`): the same kind of quantity from sound: the compressed
  (square-root) speech-band RMS envelope e(t) in 20 ms windows, and |e(t + T/2) - e(t - T/2)|
  with T the video frame period (mouth motion is a change of opening, so it pairs with a change
  of loudness, not loudness itself), smoothed by the triangle that linear interpolation applies
  to the 25-30 Hz visual one. The speech band is 150 Hz - 4 kHz (4th-order Butterworth).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import signal as sps

from emotion_batch.media import LUMA, AudioClip

RATE_HZ = 100.0
SPEECH_BAND = (150.0, 4000.0)


def uniform_grid(t0: float, t1: float, rate_hz: float = RATE_HZ) -> np.ndarray:
    """Grid times k / rate_hz within [t0, t1]."""
    k0, k1 = int(np.ceil(t0 * rate_hz - 1e-9)), int(np.floor(t1 * rate_hz + 1e-9))
    return np.arange(k0, k1 + 1) / rate_hz


# ---------------------------------------------------------------- visual: mouth motion

def interpolate_boxes(t_obs: np.ndarray, boxes: np.ndarray, times: np.ndarray, max_gap_s: float = 1.0,
                      hold_s: float = 0.2) -> np.ndarray:
    """Boxes observed at sorted t_obs, linearly interpolated at `times`; NaN rows across gaps longer
    than max_gap_s and further than hold_s outside the observed span (held constant within it)."""
    t_obs, boxes, times = np.asarray(t_obs, np.float64), np.asarray(boxes, np.float64), np.asarray(times, np.float64)
    out = np.full((len(times), 4), np.nan)
    if len(t_obs) == 0:
        return out
    for d in range(4):
        out[:, d] = np.interp(times, t_obs, boxes[:, d])
    pos = np.searchsorted(t_obs, times)
    prev_t = t_obs[np.clip(pos - 1, 0, len(t_obs) - 1)]
    next_t = t_obs[np.clip(pos, 0, len(t_obs) - 1)]
    inside = (pos > 0) & (pos < len(t_obs))
    bad = inside & (next_t - prev_t > max_gap_s)
    bad |= (times < t_obs[0] - hold_s) | (times > t_obs[-1] + hold_s)
    out[bad] = np.nan
    return out


class MotionAccumulator:
    """Mouth motion of several tracks over consecutive frames fed chunk by chunk (bounded memory).

    tracks: face_id -> (observation times, full-resolution mouth boxes); `scale` is the frames'
    size relative to full resolution. Frames are RGB (N, H, W, 3), or luma planes (N, H, W)
    whose differences `gain` turns into gray levels (a limited-range Y plane: 255 / 219).
    `track` replaces the tracks between chunks when they grow while frames stream in."""

    def __init__(self, tracks: Mapping[int, tuple[np.ndarray, np.ndarray]], scale: float = 1.0, gain: float = 1.0):
        self.tracks, self.scale, self.gain = tracks, scale, gain
        self.prev: tuple[float, np.ndarray] | None = None
        self.samples: dict[int, list[tuple[float, float]]] = {k: [] for k in tracks}
        self.dts: list[float] = []

    def track(self, tracks: Mapping[int, tuple[np.ndarray, np.ndarray]]) -> None:
        self.tracks = tracks
        for k in tracks:
            self.samples.setdefault(k, [])

    def add(self, times: np.ndarray, frames: np.ndarray) -> None:
        times = np.asarray(times, np.float64)
        if self.prev is not None:  # the last frame of the previous chunk pairs with the first here
            times, frames = np.concatenate([[self.prev[0]], times]), np.concatenate([self.prev[1][None], frames])
        self.dts.extend(np.diff(times).tolist())
        self.prev = (float(times[-1]), frames[-1].copy())
        boxes = self._boxes(times[1:], frames.shape[2], frames.shape[1])
        live = [b[ok] for b, ok in boxes.values() if ok.any()]
        if not live:
            return
        # Luma only inside the union of this chunk's boxes: frames are mostly not mouth.
        allb = np.concatenate(live).astype(np.int64)
        x0, y0, x1, y1 = allb[:, 0].min(), allb[:, 1].min(), allb[:, 2].max(), allb[:, 3].max()
        gray = frames[:, y0:y1, x0:x1].astype(np.float32)
        gray = gray @ LUMA if gray.ndim == 4 else gray
        diff = np.abs(gray[1:] - gray[:-1]) * np.float32(self.gain)
        mid = (times[1:] + times[:-1]) / 2
        for fid, (bx, ok) in boxes.items():
            for k in np.flatnonzero(ok):
                a, b, c, d = (bx[k] - [x0, y0, x0, y0]).astype(np.int64)
                self.samples[fid].append((float(mid[k]), float(diff[k, b:d, a:c].mean())))

    def _boxes(self, times: np.ndarray, w: int, h: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """face_id -> (boxes in frame pixels at `times`, which of them are usable: inside the
        frame after clipping and at least 2 px on each side)."""
        out = {}
        for fid, (t_obs, obs) in self.tracks.items():
            bx = np.round(interpolate_boxes(t_obs, obs, times) * self.scale)
            ok = np.isfinite(bx).all(1)
            bx[ok] = np.clip(bx[ok], 0, [w, h, w, h])
            out[fid] = (bx, ok & (bx[:, 2] - bx[:, 0] >= 2) & (bx[:, 3] - bx[:, 1] >= 2))
        return out

    def frame_period(self) -> float:
        return float(np.median(self.dts)) if self.dts else 1 / 25

    def signal(self, fid: int, grid_t: np.ndarray) -> np.ndarray:
        return resample_samples(self.samples[fid], grid_t, 1.5 * self.frame_period())

    def result(self) -> "MotionSamples":
        """The samples so far, as arrays (what sync reads when the frames came from the main decode)."""
        series = {k: np.asarray(v, np.float64).reshape(-1, 2).T for k, v in self.samples.items()}
        return MotionSamples({k: (t.copy(), v.copy()) for k, (t, v) in series.items()}, self.frame_period())


@dataclass(frozen=True)
class MotionSamples:
    """Mouth motion of every track over a whole stretch: face_id -> (sample times, values), each
    sample at the midpoint of two consecutive frames; `period` the median frame period."""

    series: Mapping[int, tuple[np.ndarray, np.ndarray]]
    period: float

    def frame_period(self) -> float:
        return self.period

    def signal(self, fid: int, grid_t: np.ndarray) -> np.ndarray:
        """The track's motion on grid_t (NaN where it has no samples); the samples around the
        grid only, so a window of a long video costs what it spans."""
        t, v = self.series.get(fid, (np.zeros(0), np.zeros(0)))
        if len(grid_t) == 0:
            return np.full(0, np.nan)
        a = max(0, int(np.searchsorted(t, grid_t[0], side="right")) - 1)
        b = int(np.searchsorted(t, grid_t[-1], side="left")) + 1
        return resample_samples(np.stack([t[a:b], v[a:b]], 1), grid_t, 1.5 * self.period)


def resample_samples(samples: Sequence[tuple[float, float]] | np.ndarray, grid_t: np.ndarray, max_gap_s: float) -> np.ndarray:
    """(t, value) samples -> linear interpolation on grid_t; NaN where no two samples within
    max_gap_s of each other surround the grid time."""
    out = np.full(len(grid_t), np.nan)
    if len(samples) < 2:
        return out
    t, v = np.asarray(samples, np.float64).reshape(-1, 2).T
    pos = np.clip(np.searchsorted(t, grid_t, side="right"), 1, len(t) - 1)
    ok = (grid_t >= t[0]) & (grid_t <= t[-1]) & ((t[pos] - t[pos - 1]) <= max_gap_s)
    out[ok] = np.interp(grid_t[ok], t, v)
    return out


def mouth_signal(frames: np.ndarray, times: np.ndarray, mouth_boxes: np.ndarray, grid_t: np.ndarray | None = None,
                 scale: float = 1.0) -> np.ndarray:
    """Mouth motion of one face over consecutive frames, on `grid_t` (default: the 100 Hz grid
    spanning `times`); NaN where not covered. frames uint8 (N, H, W, 3), possibly downscaled by
    `scale` relative to the full-resolution `mouth_boxes` (N, 4), one box per frame."""
    times = np.asarray(times, np.float64)
    acc = MotionAccumulator({0: (times, np.asarray(mouth_boxes, np.float64))}, scale)
    acc.add(times, frames)
    grid = uniform_grid(times[0], times[-1]) if grid_t is None else grid_t
    return acc.signal(0, grid)


# ---------------------------------------------------------------- audio: change of loudness

def speech_band(samples: np.ndarray, rate: int) -> np.ndarray:
    """`samples` band-passed to the speech band (upper edge capped below Nyquist)."""
    hi = min(SPEECH_BAND[1], 0.45 * rate)
    sos = sps.butter(4, [SPEECH_BAND[0], hi], "bandpass", fs=rate, output="sos")
    return sps.sosfilt(sos, samples.astype(np.float64))


def _rms_at(csum: np.ndarray, clip_start: float, rate: int, t: np.ndarray, win_s: float = 0.02) -> np.ndarray:
    a = np.clip(np.round((t - win_s / 2 - clip_start) * rate).astype(np.int64), 0, len(csum) - 1)
    b = np.clip(np.round((t + win_s / 2 - clip_start) * rate).astype(np.int64), 0, len(csum) - 1)
    return np.sqrt(np.maximum(csum[b] - csum[a], 0) / max(1, int(win_s * rate)))


class AudioEnvelope:
    """Speech-band energy of one audio clip, queried at any times (cumulative sums: O(1) each)."""

    def __init__(self, clip: AudioClip):
        x = speech_band(clip.samples, clip.sample_rate)
        self.csum = np.concatenate([[0.0], np.cumsum(x * x)])
        self.start, self.rate = clip.start_s, clip.sample_rate
        self.end = clip.end_s

    def rms(self, t: np.ndarray) -> np.ndarray:
        """Speech-band RMS (full scale = 1) in 20 ms windows centred on `t` (container times)."""
        return _rms_at(self.csum, self.start, self.rate, np.asarray(t, np.float64))

    def activity(self, t: np.ndarray, frame_period: float, rate_hz: float = RATE_HZ) -> np.ndarray:
        """|e(t + T/2) - e(t - T/2)| of the compressed envelope e = sqrt(rms), triangle-smoothed
        (half-width T) as linear interpolation smooths the visual signal; NaN outside the clip."""
        t = np.asarray(t, np.float64)
        e = lambda u: np.sqrt(self.rms(u))  # noqa: E731
        flux = np.abs(e(t + frame_period / 2) - e(t - frame_period / 2))
        half = max(1, int(round(frame_period * rate_hz)))
        tri = np.bartlett(2 * half + 1)[1:-1]
        flux = np.convolve(flux, tri / tri.sum(), mode="same")
        flux[(t < self.start) | (t > self.end)] = np.nan
        return flux


def audio_signal(clip: AudioClip, grid_t: np.ndarray, frame_period: float = 1 / 25) -> np.ndarray:
    """Audio activity on `grid_t` (see AudioEnvelope.activity)."""
    return AudioEnvelope(clip).activity(grid_t, frame_period)

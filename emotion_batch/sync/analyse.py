"""Audio/video sync: find a video's A/V offset (and drift) by DTW of mouth motion against audio.

Sign convention: ``offset_s > 0`` means the audio LAGS the video: the sound that belongs to the
frame shown at video time t is heard at audio time t + offset_s. ``SyncResult.audio_time(t)`` maps
video times to audio times (with drift: ``offset(t) = offset_s + drift_slope * (t - ref_t)``);
an audio window for second s should be read around ``audio_time(s + 0.5)``.

Signals (both on one uniform grid of ``RATE_HZ`` = 100 Hz, absolute container times k / 100 s):

* visual: mean absolute luma difference between consecutive frames inside each face's mouth box
  (built from MTCNN's mouth corners, interpolated between the 5 fps analysed detections), at the
  video's full frame rate capped at ``MAX_MOTION_FPS`` = 30 (at 60-120 fps the change between
  frames is below sensor noise). Each difference is placed at the midpoint of its two frames and
  linearly interpolated onto the grid. Frames are decoded downscaled (decord resizes in ffmpeg);
  nothing but the box pixels is used (luma inside the union of the chunk's boxes).
* audio: the same kind of quantity from sound: the compressed (square-root) speech-band RMS
  envelope e(t) in 20 ms windows, and |e(t + T/2) - e(t - T/2)| with T the video frame period
  (mouth motion is a change of opening, so it pairs with a change of loudness, not loudness
  itself), smoothed by the triangle that linear interpolation applies to the 25-30 Hz visual one.

Alignment: dtaidistance's C DTW (``dtw.warping_path(..., use_c=True)``) between the z-normalised
signals with a Sakoe-Chiba band of ``max_shift_s`` and a small step penalty (the mapping is
expected to be a shift, not a warp). It is a well-kept C implementation that computes only the
band (about 3 ms for 20 s at 100 Hz with a 1 s band), so no own DTW is needed. Signals are cut
into segments of ``segment_s``; in each, the median of ``j - i`` over the path where both signals
are active is the coarse lag, refined by the Pearson correlation of the shifted signals over
+-0.1 s at 10 ms steps with parabolic interpolation (sub-step). The constant offset is refined the
same way on all segments together; a line fitted through the segment offsets is kept as drift when
it changes the offset by more than ``drift_min_s`` over the span and correlates at least as well.
Confidence is the Pearson correlation of the aligned signals, clipped to [0, 1]; ``gain`` is how
much it improved over no shift.

Fallback: no face track, silent or steady audio, a static mouth, or aligned correlation below
``min_confidence`` -> offset 0, confidence 0, method ``container`` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import av
import decord
import numpy as np
from dtaidistance import dtw
from scipy import signal as sps

from emotion_batch.media import AudioClip, read_audio, sample_indices
from emotion_batch.vision.mouths import TrackLog, mouth_boxes  # noqa: F401  (re-exported for callers)

RATE_HZ = 100.0
MAX_MOTION_FPS = 30.0
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_SPEECH_BAND = (150.0, 4000.0)
_SILENT_RMS = 10 ** (-55 / 20)  # speech-band RMS (full scale = 1) below which audio is silent
_STATIC_MOTION = 0.35  # gray levels of mouth motion (p95 - median) below which a mouth is static


@dataclass
class SyncResult:
    offset_s: float  # audio lag at video time ref_t (> 0: audio late)
    confidence: float  # [0, 1]; 0 for the container fallback
    method: str  # "dtw" | "dtw+drift" | "container"
    reason: str = ""  # why the fallback was taken (empty otherwise)
    drift: list[tuple[float, float]] = field(default_factory=list)  # (t_video, offset_s) per segment
    drift_slope: float = 0.0  # offset change per second of video (0 = constant)
    ref_t: float = 0.0
    gain: float = 0.0  # aligned minus unaligned correlation
    speaker: int | None = None  # face track the estimate came from

    def offset_at(self, t_video):
        return self.offset_s + self.drift_slope * (np.asarray(t_video, np.float64) - self.ref_t)

    def audio_time(self, t_video):
        """Audio (container) time of the sound belonging to the frame at `t_video`."""
        return np.asarray(t_video, np.float64) + self.offset_at(t_video)

    @staticmethod
    def container(reason: str) -> "SyncResult":
        return SyncResult(0.0, 0.0, "container", reason)


# ---------------------------------------------------------------- geometry and frames

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


def open_downscaled(path: str, min_mouth_px: float | None = None, max_side: int = 256):
    """A decord reader whose frames are resized in the decoder: longest side `max_side`, enlarged
    (up to full size) so the smallest mouth box stays >= 24 px wide. Returns (reader, scale,
    frame start times)."""
    probe = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    h, w = probe[0].shape[:2] if len(probe) else (0, 0)
    ts = np.asarray(probe.get_frame_timestamp(np.arange(len(probe))), np.float64)[:, 0]
    del probe
    scale = min(1.0, max_side / max(h, w, 1))
    if min_mouth_px:
        scale = min(1.0, max(scale, 24.0 / min_mouth_px))
    if scale >= 0.999:
        return decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0), 1.0, ts
    nw, nh = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
    return decord.VideoReader(path, ctx=decord.cpu(0), width=nw, height=nh, num_threads=0), nw / w, ts


def iter_window_frames(vr, starts: np.ndarray, t0: float, t1: float, chunk: int = 32):
    """Consecutive frames (capped at MAX_MOTION_FPS) starting in [t0, t1): yields (times, frames)."""
    idx = sample_indices(starts, MAX_MOTION_FPS, t0, t1)
    for i in range(0, len(idx), chunk):
        b = idx[i : i + chunk]
        yield starts[b], vr.get_batch(b.tolist()).asnumpy()


# ---------------------------------------------------------------- signals

def uniform_grid(t0: float, t1: float, rate_hz: float = RATE_HZ) -> np.ndarray:
    """Grid times k / rate_hz within [t0, t1]."""
    k0, k1 = int(np.ceil(t0 * rate_hz - 1e-9)), int(np.floor(t1 * rate_hz + 1e-9))
    return np.arange(k0, k1 + 1) / rate_hz


class MotionAccumulator:
    """Mouth motion of several tracks over consecutive frames fed chunk by chunk (bounded memory)."""

    def __init__(self, tracks: Mapping[int, tuple[np.ndarray, np.ndarray]], scale: float = 1.0):
        self.tracks, self.scale = tracks, scale  # id -> (t_obs, full-res boxes)
        self.prev: tuple[float, np.ndarray] | None = None
        self.samples: dict[int, list[tuple[float, float]]] = {k: [] for k in tracks}
        self.dts: list[float] = []

    def add(self, times: np.ndarray, frames: np.ndarray) -> None:
        times = np.asarray(times, np.float64)
        if self.prev is not None:  # the last frame of the previous chunk pairs with the first here
            times, frames = np.concatenate([[self.prev[0]], times]), np.concatenate([self.prev[1][None], frames])
        self.dts.extend(np.diff(times).tolist())
        self.prev = (float(times[-1]), frames[-1].copy())
        h, w = frames.shape[1:3]
        boxes = {}
        for fid, (t_obs, obs) in self.tracks.items():
            bx = np.round(interpolate_boxes(t_obs, obs, times[1:]) * self.scale)
            ok = np.isfinite(bx).all(1)
            bx[ok] = np.clip(bx[ok], 0, [w, h, w, h])
            boxes[fid] = (bx, ok & (bx[:, 2] - bx[:, 0] >= 2) & (bx[:, 3] - bx[:, 1] >= 2))
        live = [b[ok] for b, ok in boxes.values() if ok.any()]
        if not live:
            return
        # Luma only inside the union of this chunk's boxes: frames are mostly not mouth.
        allb = np.concatenate(live).astype(np.int64)
        x0, y0, x1, y1 = allb[:, 0].min(), allb[:, 1].min(), allb[:, 2].max(), allb[:, 3].max()
        gray = frames[:, y0:y1, x0:x1].astype(np.float32) @ _LUMA
        diff = np.abs(gray[1:] - gray[:-1])
        mid = (times[1:] + times[:-1]) / 2
        for fid, (bx, ok) in boxes.items():
            for k in np.flatnonzero(ok):
                a, b, c, d = (bx[k] - [x0, y0, x0, y0]).astype(np.int64)
                self.samples[fid].append((float(mid[k]), float(diff[k, b:d, a:c].mean())))

    def frame_period(self) -> float:
        return float(np.median(self.dts)) if self.dts else 1 / 25

    def signal(self, fid: int, grid_t: np.ndarray) -> np.ndarray:
        return resample_samples(self.samples[fid], grid_t, 1.5 * self.frame_period())


def resample_samples(samples: Sequence[tuple[float, float]], grid_t: np.ndarray, max_gap_s: float) -> np.ndarray:
    """(t, value) samples -> linear interpolation on grid_t; NaN where no two samples within
    max_gap_s of each other surround the grid time."""
    out = np.full(len(grid_t), np.nan)
    if len(samples) < 2:
        return out
    t, v = np.asarray(samples, np.float64).T
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


def _speech_band(samples: np.ndarray, rate: int) -> np.ndarray:
    hi = min(_SPEECH_BAND[1], 0.45 * rate)
    sos = sps.butter(4, [_SPEECH_BAND[0], hi], "bandpass", fs=rate, output="sos")
    return sps.sosfilt(sos, samples.astype(np.float64))


def _rms_at(csum: np.ndarray, clip_start: float, rate: int, t: np.ndarray, win_s: float = 0.02) -> np.ndarray:
    a = np.clip(np.round((t - win_s / 2 - clip_start) * rate).astype(np.int64), 0, len(csum) - 1)
    b = np.clip(np.round((t + win_s / 2 - clip_start) * rate).astype(np.int64), 0, len(csum) - 1)
    return np.sqrt(np.maximum(csum[b] - csum[a], 0) / max(1, int(win_s * rate)))


class AudioEnvelope:
    """Speech-band energy of one audio clip, queried at any times (cumulative sums: O(1) each)."""

    def __init__(self, clip: AudioClip):
        x = _speech_band(clip.samples, clip.sample_rate)
        self.csum = np.concatenate([[0.0], np.cumsum(x * x)])
        self.start, self.rate = clip.start_s, clip.sample_rate
        self.end = clip.end_s

    def rms(self, t: np.ndarray) -> np.ndarray:
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


# ---------------------------------------------------------------- alignment

def _z(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    out = np.zeros(len(x))
    if ok.sum() > 1:
        sd = x[ok].std()
        out[ok] = (x[ok] - x[ok].mean()) / (sd if sd > 0 else 1.0)
    return out


def _pooled_corr(pieces, offset_fn) -> float:
    """Pearson correlation over all pieces of visual(t) with audio(t + offset(t)), the audio
    linearly interpolated between grid samples (sub-step shifts)."""
    vs, as_ = [], []
    for t, v, a, ok_v, ok_a in pieces:
        u = t + offset_fn(t)
        inside = (u >= t[0]) & (u <= t[-1])
        ai = np.interp(u, t, a)
        oki = np.interp(u, t, ok_a.astype(float)) > 0.999
        m = ok_v & inside & oki
        vs.append(v[m]), as_.append(ai[m])
    v, a = np.concatenate(vs), np.concatenate(as_)
    if len(v) < 10 or v.std() == 0 or a.std() == 0:
        return 0.0
    return float(np.corrcoef(v, a)[0, 1])


def _refine(pieces, center: float, rate_hz: float, half_s: float = 0.1) -> tuple[float, float]:
    """Offset maximising the pooled correlation within center +- half_s (10 ms steps, parabolic
    interpolation between the best step and its neighbours) and that correlation."""
    lags = center + np.arange(-round(half_s * rate_hz), round(half_s * rate_hz) + 1) / rate_hz
    r = np.array([_pooled_corr(pieces, lambda t, L=L: L) for L in lags])
    k = int(np.argmax(r))
    best = lags[k]
    if 0 < k < len(r) - 1:
        den = r[k - 1] - 2 * r[k] + r[k + 1]
        if den < 0:
            best += 0.5 * (r[k - 1] - r[k + 1]) / den / rate_hz
    return float(best), float(_pooled_corr(pieces, lambda t: best))


def _dtw_lag(v: np.ndarray, a: np.ndarray, band: int, penalty: float) -> float | None:
    """Median j - i along the banded DTW path where both signals are above their mean."""
    path = np.asarray(dtw.warping_path(v, a, window=band + 1, penalty=penalty, use_c=True))
    i, j = path[:, 0], path[:, 1]
    n = len(v)
    interior = (i >= band // 2) & (i < n - band // 2)
    active = interior & (v[i] > 0.0) & (a[j] > 0.0)
    sel = active if active.sum() >= 10 else interior
    return float(np.median(j[sel] - i[sel])) if sel.any() else None


def estimate_offset(visual_sig: np.ndarray, audio_sig: np.ndarray, rate_hz: float = RATE_HZ, max_shift_s: float = 1.0,
                    t0: float = 0.0, segment_s: float = 10.0, min_confidence: float = 0.3,
                    drift_min_s: float = 0.02) -> SyncResult:
    """Offset between a visual and an audio activity signal sampled together at rate_hz, the
    first sample at video time t0 (NaN = not covered). See the module docstring."""
    t = t0 + np.arange(len(visual_sig)) / rate_hz
    return estimate_offset_pieces([(t, np.asarray(visual_sig, float), np.asarray(audio_sig, float))], rate_hz,
                                  max_shift_s, segment_s, min_confidence, drift_min_s)


def estimate_offset_pieces(pieces: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]], rate_hz: float = RATE_HZ,
                           max_shift_s: float = 1.0, segment_s: float = 10.0, min_confidence: float = 0.3,
                           drift_min_s: float = 0.02, penalty: float = 0.05) -> SyncResult:
    """estimate_offset over several stretches (grid_t, visual, audio) of one video, e.g. windows
    spread over a long file; one offset (+ drift) for all of them."""
    band = max(1, int(round(max_shift_s * rate_hz)))
    zp, points = [], []
    for t, v, a in pieces:
        ok_v, ok_a = np.isfinite(v), np.isfinite(a)
        if (ok_v & ok_a).sum() < 2 * rate_hz:
            continue
        if np.nanstd(v) <= 1e-9:
            continue
        if np.nanstd(a) <= 1e-12:
            continue
        zv, za = _z(v), _z(a)
        zp.append((t, zv, za, ok_v, ok_a))
        n_seg = max(1, int(round(len(t) / (segment_s * rate_hz))))
        for s in np.array_split(np.arange(len(t)), n_seg):
            if len(s) < 2 * band + rate_hz:
                continue
            lag = _dtw_lag(zv[s], za[s], band, penalty)
            if lag is None:
                continue
            seg = [(t[s], zv[s], za[s], ok_v[s], ok_a[s])]
            off, r = _refine(seg, lag / rate_hz, rate_hz)
            points.append((float(t[s].mean()), off, r, len(s)))
    if not zp:
        return SyncResult.container("signals too short or without variation (no face, static mouth or silence)")
    if not points:
        return SyncResult.container("stretches too short for the DTW band")
    pts = np.array(points)
    w = np.clip(pts[:, 2], 0, None) * pts[:, 3]
    if w.sum() <= 0:
        return SyncResult.container(f"mouth motion and audio do not match (r<={pts[:, 2].max():.2f})")
    order = np.argsort(pts[:, 1])
    cw = np.cumsum(w[order])
    median_off = float(pts[order[np.searchsorted(cw, cw[-1] / 2)], 1])
    offset, r = _refine(zp, median_off, rate_hz)
    r0 = _pooled_corr(zp, lambda t: 0.0)
    all_t = np.concatenate([p[0] for p in zp])
    ref_t = float((all_t.min() + all_t.max()) / 2)
    res = SyncResult(offset, float(np.clip(r, 0, 1)), "dtw", drift=[(float(a), float(b)) for a, b in pts[:, :2]],
                     ref_t=ref_t, gain=float(r - r0))
    good = pts[pts[:, 2] >= min_confidence]
    if len(good) >= 2 and np.ptp(good[:, 0]) > 0:
        slope, icpt = np.polyfit(good[:, 0], good[:, 1], 1, w=good[:, 2] * np.sqrt(good[:, 3]))
        span = np.ptp(all_t)
        if abs(slope) * span > drift_min_s:
            off_ref = icpt + slope * ref_t
            r_d = _pooled_corr(zp, lambda t: off_ref + slope * (t - ref_t))
            if r_d >= r:
                res.offset_s, res.drift_slope, res.method = float(off_ref), float(slope), "dtw+drift"
                res.confidence, res.gain = float(np.clip(r_d, 0, 1)), float(r_d - r0)
    if res.confidence < min_confidence:
        return SyncResult.container(
            f"mouth motion and audio do not match (aligned r={res.confidence:.2f} < {min_confidence})")
    return res


# ---------------------------------------------------------------- speakers and the whole video

def speaker_scores(face_signals: Mapping[int, np.ndarray], audio_sig: np.ndarray, rate_hz: float = RATE_HZ,
                   t0: float = 0.0, window_s: float = 2.0) -> dict[int, dict[int, float]]:
    """face_id -> {second: score in [0, 1]}: the Pearson correlation (clipped at 0) of each face's
    mouth motion with the ALIGNED audio activity (audio_sig[k] heard with visual[k]) over
    `window_s` centred on the second; 0 where the audio is quiet in that window (nobody speaks).
    Signals share the grid t0 + k / rate_hz; seconds with < half the window covered are left out."""
    a = np.asarray(audio_sig, float)
    t = t0 + np.arange(len(a)) / rate_hz
    ok_a = np.isfinite(a)
    a_scale = np.nanstd(a) if ok_a.any() else 0.0
    out: dict[int, dict[int, float]] = {}
    for fid, v in face_signals.items():
        v = np.asarray(v, float)
        ok = ok_a & np.isfinite(v)
        scores: dict[int, float] = {}
        if ok.any():
            for s in range(int(np.floor(t[ok][0])), int(np.floor(t[ok][-1])) + 1):
                m = ok & (t >= s + 0.5 - window_s / 2) & (t < s + 0.5 + window_s / 2)
                if m.sum() < 0.5 * window_s * rate_hz:
                    continue
                vv, aa = v[m], a[m]
                if a_scale <= 0 or aa.std() < 0.25 * a_scale or vv.std() == 0:
                    scores[s] = 0.0
                else:
                    scores[s] = float(np.clip(np.corrcoef(vv, aa)[0, 1], 0, 1))
        out[fid] = scores
    return out


class _Clock:
    """Wall and CPU seconds per named step (CPU time is robust to other processes on the machine)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - w
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - c

    def totals(self, wall: float, cpu: float) -> dict[str, float]:
        d, dc = self.wall.get("decode", 0.0), self.cpu.get("decode", 0.0)
        return {"decode_s": d, "align_s": wall - d, "decode_cpu_s": dc, "align_cpu_s": cpu - dc}


@dataclass
class SyncAnalysis:
    result: SyncResult
    speaking: dict[int, dict[int, float]]  # face_id -> {second: score in [0, 1]}, analysed seconds only
    windows: list[tuple[float, float]]  # video stretches whose frames were decoded at full rate
    timings: dict[str, float] = field(default_factory=dict)  # decode_s / align_s: wall, *_cpu_s: CPU

    def speaking_score(self, face_id: int, second: int) -> float | None:
        return self.speaking.get(face_id, {}).get(second)


def choose_windows(duration: float, coverage: np.ndarray, window_s: float, max_windows: int | None) -> list[tuple[float, float]]:
    """Stretches to decode at full rate. The whole video when it fits in max_windows windows;
    otherwise one window in each of max_windows equal parts of the file, placed where faces and
    sound overlap most (coverage: per-second score). Spread windows still see drift."""
    n_all = int(np.ceil(duration / window_s))
    if max_windows is None or n_all <= max_windows:
        return [(k * window_s, min(duration, (k + 1) * window_s)) for k in range(n_all)]
    out, part = [], duration / max_windows
    csum = np.concatenate([[0.0], np.cumsum(coverage)])
    for k in range(max_windows):
        lo, hi = k * part, (k + 1) * part - window_s
        starts = np.arange(int(np.ceil(lo)), int(np.floor(max(lo, hi))) + 1)
        ws = int(round(window_s))
        score = csum[np.clip(starts + ws, 0, len(coverage))] - csum[np.clip(starts, 0, len(coverage))]
        s = float(starts[int(np.argmax(score))]) if len(starts) else lo
        out.append((s, min(duration, s + window_s)))
    return out


def analyze_sync(path: str, tracks: Mapping[int, tuple[np.ndarray, np.ndarray]], audio: AudioClip | None = None,
                 max_shift_s: float = 1.0, window_s: float = 20.0, max_windows: int | None = 8,
                 segment_s: float = 10.0, min_confidence: float = 0.3, duration_s: float | None = None,
                 start_s: float = 0.0) -> SyncAnalysis:
    """A/V offset of one video plus per-second speaking scores of its face tracks.

    tracks: face_id -> (times, full-res mouth boxes) at the analysis rate (``TrackLog.tracks()``).
    audio: the file's audio if already decoded (``media.read_audio(path)``); with None each window's
    audio (+- max_shift_s) is read from `path` (no audio stream -> container fallback), which keeps
    memory bounded for hour-long files. Frames are decoded at full rate (<= 30 fps), downscaled, in
    chunks of 32, only inside the chosen windows: all of a video up to window_s * max_windows
    long, else max_windows windows spread over it (one per equal part, where faces and sound
    overlap most). A 20 s window holds ~50 syllables, plenty for a +-1 s DTW band; spreading 8 of
    them still measures drift over the whole file, while the extra decode is capped at 160 s of
    video whatever the length (max_windows=None: every window, e.g. to get speaking scores
    everywhere). Memory: one chunk of small frames plus 100 Hz signals of the windows.
    """
    t_start, c_start = time.perf_counter(), time.process_time()
    if audio is not None and len(audio.samples) == 0:
        audio = None
    if audio is None and not _has_audio(path):
        return SyncAnalysis(SyncResult.container("no audio stream"), {}, [])
    tracks = {k: v for k, v in tracks.items() if len(v[0]) >= 2}
    if not tracks:
        return SyncAnalysis(SyncResult.container("no face track"), {}, [])
    whole = AudioEnvelope(audio) if audio is not None else None
    end = duration_s if duration_s is not None else max(float(v[0][-1]) for v in tracks.values()) + 0.5
    span = max(0.0, end - start_s)  # a time segment [start_s, end) of the video (the whole by default)
    sec = start_s + np.arange(int(np.ceil(span)))
    cover = np.zeros(len(sec))
    for t_obs, _ in tracks.values():
        cover[np.clip((t_obs - start_s).astype(int), 0, max(len(sec) - 1, 0))] = 1.0
    if whole is not None:  # prefer seconds with sound (mean of ten 20 ms RMS values per second)
        cover *= whole.rms(sec[:, None] + np.arange(0.05, 1.0, 0.1)).mean(1) > _SILENT_RMS
    windows = [(start_s + a, start_s + b) for a, b in choose_windows(span, cover, window_s, max_windows)]
    widths = [float(np.median(b[:, 2] - b[:, 0])) for _, b in tracks.values()]
    clock = _Clock()
    with clock("decode"):
        vr, scale, starts = open_downscaled(path, min(widths))
    pieces: dict[int, list] = {k: [] for k in tracks}
    audio_pieces = []
    pad = max_shift_s + 0.2
    for w0, w1 in windows:
        acc = MotionAccumulator(tracks, scale)
        it = iter_window_frames(vr, starts, w0, w1)
        while True:
            with clock("decode"):
                item = next(it, None)
            if item is None:
                break
            acc.add(*item)
        grid = uniform_grid(w0, w1)
        if len(grid) < 2:
            continue
        if whole is None:
            with clock("decode"):
                clip = read_audio(path, max(0.0, w0 - pad), w1 + pad)
            env = AudioEnvelope(clip)
        else:
            env = whole
        period = acc.frame_period()
        audio_pieces.append((grid, env.activity(grid, period), period, env))
        for fid in tracks:
            pieces[fid].append((grid, acc.signal(fid, grid)))
    del vr
    result = _sync_from_pieces(tracks, windows, pieces, audio_pieces, max_shift_s, segment_s, min_confidence)
    result.timings = clock.totals(time.perf_counter() - t_start, time.process_time() - c_start)
    return result


def _has_audio(path: str) -> bool:
    with av.open(path) as c:
        return bool(c.streams.audio)


def _sync_from_pieces(tracks, windows, pieces, audio_pieces, max_shift_s, segment_s, min_confidence) -> SyncAnalysis:
    # Information checks in physical units, before z-normalisation hides them.
    if not any(np.nanmax(np.nan_to_num(env.rms(g), nan=0.0)) > _SILENT_RMS for g, _, _, env in audio_pieces):
        return SyncAnalysis(SyncResult.container("silent audio"), {}, windows)
    moving = {fid: any(np.isfinite(v).sum() > 10 and np.nanpercentile(v, 95) - np.nanmedian(v) > _STATIC_MOTION
                       for _, v in p) for fid, p in pieces.items()}
    if not any(moving.values()):
        return SyncAnalysis(SyncResult.container("static mouth (no visible speech motion)"), {}, windows)
    best: SyncResult | None = None
    for fid in (f for f, m in moving.items() if m):
        r = estimate_offset_pieces([(g, v, a) for (g, v), (_, a, _, _) in zip(pieces[fid], audio_pieces)],
                                   RATE_HZ, max_shift_s, segment_s, min_confidence)
        r.speaker = fid if r.method != "container" else None
        if best is None or r.confidence > best.confidence:
            best = r
    speaking: dict[int, dict[int, float]] = {k: {} for k in tracks}
    if best.method != "container":
        for (grid, _, period, env), *face_p in zip(audio_pieces, *pieces.values()):
            aligned = env.activity(best.audio_time(grid), period)
            sc = speaker_scores({fid: v for fid, (_, v) in zip(pieces, face_p)}, aligned, RATE_HZ, float(grid[0]))
            for fid, d in sc.items():
                speaking[fid].update(d)
    return SyncAnalysis(best, speaking, windows)

"""A video's audio offset (and drift) by DTW of its visual against its audio activity signal.

Sign convention: ``offset_s > 0`` means the audio LAGS the video: the sound that belongs to the
frame shown at video time t is heard at audio time t + offset_s. ``SyncResult.audio_time(t)`` maps
video times to audio times (with drift: ``offset(t) = offset_s + drift_slope * (t - ref_t)``);
an audio window for second s should be read around ``audio_time(s + 0.5)``.

Input: one or more `SignalPiece`s, stretches of one video with both signals on the same grid
(see `sync.signals`). Alignment: dtaidistance's C DTW (``dtw.warping_path(..., use_c=True)``)
between the z-normalised signals with a Sakoe-Chiba band of ``max_shift_s`` and a small step
penalty (the mapping is expected to be a shift, not a warp). It is a well-kept C implementation
that computes only the band (about 3 ms for 20 s at 100 Hz with a 1 s band), so no own DTW is
needed. Signals are cut into segments of ``segment_s``; in each, the median of ``j - i`` over the
path where both signals are active is the coarse lag, refined by the Pearson correlation of the
shifted signals over +-0.1 s at 10 ms steps with parabolic interpolation (sub-step): a
`SegmentLag`. The constant offset is the correlation-weighted median of the segment lags, refined
the same way on all segments together; a line fitted through the segment offsets is kept as drift
when it changes the offset by more than ``drift_min_s`` over the span and correlates at least as
well. Confidence is the Pearson correlation of the aligned signals, clipped to [0, 1]; ``gain``
is how much it improved over no shift.

Fallback: signals too short or without variation, or aligned correlation below
``min_confidence`` -> offset 0, confidence 0, method ``container`` with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from dtaidistance import dtw

from emotion_batch.sync.signals import RATE_HZ


@dataclass(frozen=True)
class SyncResult:
    offset_s: float  # audio lag at video time ref_t (> 0: audio late)
    confidence: float  # [0, 1]; 0 for the container fallback
    method: str  # "dtw" | "dtw+drift" | "container"
    reason: str = ""  # why the fallback was taken (empty otherwise)
    drift: tuple[tuple[float, float], ...] = ()  # (t_video, offset_s) per segment
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
    def container(reason: str) -> SyncResult:
        return SyncResult(0.0, 0.0, "container", reason)


@dataclass(frozen=True)
class SignalPiece:
    """One stretch of a video: grid times (video clock, s) and both activity signals on them
    (NaN = not covered)."""

    t: np.ndarray
    visual: np.ndarray
    audio: np.ndarray


@dataclass(frozen=True)
class ZPiece:
    """A SignalPiece z-normalised (NaN -> 0), with where each signal was covered."""

    t: np.ndarray
    visual: np.ndarray
    audio: np.ndarray
    ok_visual: np.ndarray  # bool: visual covered
    ok_audio: np.ndarray  # bool: audio covered

    @staticmethod
    def of(piece: SignalPiece) -> ZPiece:
        v, a = piece.visual, piece.audio
        return ZPiece(piece.t, _z(v), _z(a), np.isfinite(v), np.isfinite(a))

    def __getitem__(self, idx: np.ndarray) -> ZPiece:
        return ZPiece(self.t[idx], self.visual[idx], self.audio[idx], self.ok_visual[idx], self.ok_audio[idx])


@dataclass(frozen=True)
class SegmentLag:
    """The refined offset of one segment and how well the signals correlate at it."""

    t: float  # mean video time of the segment
    offset_s: float
    r: float  # pooled Pearson correlation at offset_s
    n: int  # grid samples in the segment


def _z(x: np.ndarray) -> np.ndarray:
    ok = np.isfinite(x)
    out = np.zeros(len(x))
    if ok.sum() > 1:
        sd = x[ok].std()
        out[ok] = (x[ok] - x[ok].mean()) / (sd if sd > 0 else 1.0)
    return out


def _pooled_corr(pieces: Sequence[ZPiece], offset_fn: Callable[[np.ndarray], np.ndarray | float]) -> float:
    """Pearson correlation over all pieces of visual(t) with audio(t + offset(t)), the audio
    linearly interpolated between grid samples (sub-step shifts)."""
    vs, as_ = [], []
    for p in pieces:
        t = p.t
        u = t + offset_fn(t)
        inside = (u >= t[0]) & (u <= t[-1])
        ai = np.interp(u, t, p.audio)
        oki = np.interp(u, t, p.ok_audio.astype(float)) > 0.999
        m = p.ok_visual & inside & oki
        vs.append(p.visual[m]), as_.append(ai[m])
    v, a = np.concatenate(vs), np.concatenate(as_)
    if len(v) < 10 or v.std() == 0 or a.std() == 0:
        return 0.0
    return float(np.corrcoef(v, a)[0, 1])


def _refine(pieces: Sequence[ZPiece], center: float, rate_hz: float, half_s: float = 0.1) -> tuple[float, float]:
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
                    *, t0: float = 0.0, segment_s: float = 10.0, min_confidence: float = 0.3,
                    drift_min_s: float = 0.02) -> SyncResult:
    """Offset between a visual and an audio activity signal sampled together at rate_hz, the
    first sample at video time t0 (NaN = not covered). See the module docstring."""
    t = t0 + np.arange(len(visual_sig)) / rate_hz
    piece = SignalPiece(t, np.asarray(visual_sig, float), np.asarray(audio_sig, float))
    return estimate_offset_pieces([piece], rate_hz, max_shift_s, segment_s=segment_s, min_confidence=min_confidence,
                                  drift_min_s=drift_min_s)


def _informative(p: SignalPiece, rate_hz: float) -> bool:
    """Both signals cover >= 2 s together and both vary."""
    if (np.isfinite(p.visual) & np.isfinite(p.audio)).sum() < 2 * rate_hz:
        return False
    return not (np.nanstd(p.visual) <= 1e-9 or np.nanstd(p.audio) <= 1e-12)


def _segment_lags(zp: ZPiece, rate_hz: float, band: int, segment_s: float, penalty: float) -> list[SegmentLag]:
    """The refined DTW lag of each ~segment_s segment of one piece long enough for the band."""
    out = []
    n_seg = max(1, int(round(len(zp.t) / (segment_s * rate_hz))))
    for s in np.array_split(np.arange(len(zp.t)), n_seg):
        if len(s) < 2 * band + rate_hz:
            continue
        seg = zp[s]
        lag = _dtw_lag(seg.visual, seg.audio, band, penalty)
        if lag is None:
            continue
        off, r = _refine([seg], lag / rate_hz, rate_hz)
        out.append(SegmentLag(float(seg.t.mean()), off, r, len(s)))
    return out


def estimate_offset_pieces(pieces: Iterable[SignalPiece], rate_hz: float = RATE_HZ, max_shift_s: float = 1.0,
                           *, segment_s: float = 10.0, min_confidence: float = 0.3, drift_min_s: float = 0.02,
                           penalty: float = 0.05) -> SyncResult:
    """estimate_offset over several stretches of one video, e.g. windows spread over a long file;
    one offset (+ drift) for all of them."""
    band = max(1, int(round(max_shift_s * rate_hz)))
    zp = [ZPiece.of(p) for p in pieces if _informative(p, rate_hz)]
    lags = [lag for z in zp for lag in _segment_lags(z, rate_hz, band, segment_s, penalty)]
    if not zp:
        return SyncResult.container("signals too short or without variation (no face, static mouth or silence)")
    if not lags:
        return SyncResult.container("stretches too short for the DTW band")
    seg_t, seg_off, seg_r, seg_n = (np.array([getattr(g, k) for g in lags], np.float64)
                                    for k in ("t", "offset_s", "r", "n"))
    w = np.clip(seg_r, 0, None) * seg_n
    if w.sum() <= 0:
        return SyncResult.container(f"mouth motion and audio do not match (r<={seg_r.max():.2f})")
    order = np.argsort(seg_off)
    cw = np.cumsum(w[order])
    median_off = float(seg_off[order[np.searchsorted(cw, cw[-1] / 2)]])
    offset, r = _refine(zp, median_off, rate_hz)
    r0 = _pooled_corr(zp, lambda t: 0.0)
    all_t = np.concatenate([p.t for p in zp])
    ref_t = float((all_t.min() + all_t.max()) / 2)
    drift = tuple((float(a), float(b)) for a, b in zip(seg_t, seg_off))
    res = SyncResult(offset, float(np.clip(r, 0, 1)), "dtw", drift=drift, ref_t=ref_t, gain=float(r - r0))
    good = seg_r >= min_confidence
    if good.sum() >= 2 and np.ptp(seg_t[good]) > 0:
        res = _with_drift(res, zp, seg_t[good], seg_off[good], seg_r[good] * np.sqrt(seg_n[good]), r=r, r0=r0,
                          span=np.ptp(all_t), drift_min_s=drift_min_s)
    if res.confidence < min_confidence:
        return SyncResult.container(
            f"mouth motion and audio do not match (aligned r={res.confidence:.2f} < {min_confidence})")
    return res


def _with_drift(res: SyncResult, zp: Sequence[ZPiece], t: np.ndarray, off: np.ndarray, weight: np.ndarray,
                *, r: float, r0: float, span: float, drift_min_s: float) -> SyncResult:
    """`res` with a linear drift fitted through the segment offsets (t, off), when it moves the
    offset by more than drift_min_s over the span and correlates at least as well (r)."""
    slope, icpt = np.polyfit(t, off, 1, w=weight)
    if not abs(slope) * span > drift_min_s:  # (not >: a NaN fit keeps the constant offset)
        return res
    ref_t = res.ref_t
    off_ref = icpt + slope * ref_t
    r_d = _pooled_corr(zp, lambda u: off_ref + slope * (u - ref_t))
    if not r_d >= r:
        return res
    return replace(res, offset_s=float(off_ref), drift_slope=float(slope), method="dtw+drift",
                   confidence=float(np.clip(r_d, 0, 1)), gain=float(r_d - r0))

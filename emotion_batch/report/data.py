"""Turn timeline rows into what the report draws: time bins, emotion strips, shares.

Everything here downsamples for drawing only: a series is cut into at most `max_points`
bins of whole seconds (means per bin; the most frequent emotion per bin for strips), so a
2-hour video draws as fast as a 2-minute one. The stored tables are never changed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emotion_batch.labels import EMOTION_COLORS, LABELS
from emotion_batch.schemas import NO_FACE

COLORS = EMOTION_COLORS  # one colour per label for every chart (labels.py)
UNKNOWN_COLOR = "#444444"


def bin_width(span_s: int, max_points: int) -> int:
    """Seconds per bin so that `span_s` seconds give at most `max_points` bins."""
    return max(1, math.ceil(max(span_s, 1) / max(max_points, 1)))


def span_seconds(tl: pd.DataFrame, duration_s: float | None = None) -> int:
    """The number of whole seconds the video covers (timeline or manifest duration)."""
    last = int(tl["second"].max()) + 1 if len(tl) else 0
    dur = 0 if duration_s is None or pd.isna(duration_s) else math.ceil(duration_s)
    return max(last, dur)


def binned_means(df: pd.DataFrame, cols: list[str], width: int, span_s: int) -> pd.DataFrame:
    """Mean of `cols` per bin, one row per bin over the whole span (NaN where no rows).

    The index is the time of the bin's centre in seconds (second s spans [s, s + 1)).
    Computed with numpy (bincount) rather than a pandas groupby: a page bins a few dozen
    series and a groupby costs milliseconds each.
    """
    n_bins = max(1, math.ceil(span_s / width))
    bins = df["second"].to_numpy(np.int64) // width
    inside = (bins >= 0) & (bins < n_bins)
    out = {}
    for col in cols:
        v = df[col].to_numpy(np.float64, na_value=np.nan)
        ok = ~np.isnan(v) & inside
        sums = np.bincount(bins[ok], weights=v[ok], minlength=n_bins)
        counts = np.bincount(bins[ok], minlength=n_bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[col] = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan).astype(np.float32)
    index = pd.Index(np.arange(n_bins) * width + width / 2, name="t")
    return pd.DataFrame(out, index=index)


_CODE = {lab: i for i, lab in enumerate(LABELS)}


def label_codes(values) -> np.ndarray:
    """Label index of each value (-1: null or not a label)."""
    codes, uniques = pd.factorize(pd.Series(values, copy=False) if not isinstance(values, pd.Series) else values)
    table = np.array([_CODE.get(v, -1) if isinstance(v, str) else -1 for v in uniques] + [-1], np.int64)
    return table[codes]  # one lookup per distinct value; a null (code -1) takes the last entry, -1


def dominant_per_second(tl: pd.DataFrame) -> pd.Series:
    """The emotion of the most confident row of each second (any face or none)."""
    codes = label_codes(tl["emotion"])
    ok = codes >= 0
    if not ok.any():
        return pd.Series(dtype=object)
    sec = tl["second"].to_numpy(np.int64)[ok]
    conf = tl["confidence"].to_numpy(np.float64, na_value=-1.0)[ok]
    order = np.lexsort((-conf, sec))  # by second, the most confident first (stable)
    seconds, first = np.unique(sec[order], return_index=True)
    return pd.Series([LABELS[c] for c in codes[ok][order][first]], index=seconds)


@dataclass
class Segment:
    x: float  # SVG units
    w: float
    emotion: str
    color: str
    start_s: int
    end_s: int


def strip_segments(
    per_second: pd.Series, span_s: int, max_bins: int, svg_width: float
) -> list[Segment]:
    """Rectangles of an emotion strip: most frequent emotion per bin, equal runs merged."""
    if per_second.empty or span_s <= 0:
        return []
    width = bin_width(span_s, max_bins)
    alpha = sorted(LABELS)  # ties go to the alphabetically first label
    rank = {lab: i for i, lab in enumerate(alpha)}
    codes = np.fromiter((rank.get(e, len(alpha)) for e in per_second.values), np.int64)
    bins = per_second.index.to_numpy(np.int64) // width
    keep = codes < len(alpha)
    n_bins = int(bins.max()) + 1
    counts = np.bincount(bins[keep] * len(alpha) + codes[keep], minlength=n_bins * len(alpha))
    counts = counts.reshape(n_bins, len(alpha))
    present = counts.sum(axis=1) > 0
    mode = {int(b): alpha[int(i)] for b, i in zip(np.flatnonzero(present), counts[present].argmax(axis=1))}
    scale = svg_width / span_s
    segs: list[Segment] = []
    for b, emo in sorted(mode.items()):
        start, end = int(b) * width, min(span_s, (int(b) + 1) * width)
        last = segs[-1] if segs else None
        if last is not None and last.emotion == emo and last.end_s == start:
            last.end_s = end
            last.w = (end - last.start_s) * scale
            continue
        color = COLORS.get(emo, UNKNOWN_COLOR)
        segs.append(Segment(start * scale, (end - start) * scale, emo, color, start, end))
    return segs


def emotion_shares(tl: pd.DataFrame, top: int | None = 3) -> list[tuple[str, float]]:
    """The most frequent emotions as (label, fraction) over face rows (all rows if none);
    equal counts in label order."""
    face = tl["face_id"].to_numpy() != NO_FACE
    codes = label_codes(tl["emotion"])
    codes = codes[face] if face.any() else codes
    counts = np.bincount(codes[codes >= 0], minlength=len(LABELS))
    total = counts.sum()
    if not total:
        return []
    order = sorted((i for i in range(len(LABELS)) if counts[i]), key=lambda i: (-counts[i], i))
    shares = [(LABELS[i], float(counts[i]) / total) for i in order]
    return shares[:top] if top else shares


def face_order(tl: pd.DataFrame) -> list[int]:
    """Face ids, most seconds first; the no-face id last."""
    counts = tl.groupby("face_id").size()
    faces = sorted((f for f in counts.index if f != NO_FACE), key=lambda f: (-counts[f], f))
    return [int(f) for f in faces] + ([NO_FACE] if NO_FACE in counts.index else [])


def best_second(face_rows: pd.DataFrame) -> tuple[float, tuple[float, float, float, float]] | None:
    """Mid-time of the face's best second and that second's (mean) box, for a thumbnail.

    The best second is the highest-score one among the seconds where the face is seen in
    the most analysed frames: a face that leaves the picture mid-second can have a high
    score there while the middle of that second no longer shows it.
    """
    boxes = face_rows[["box_x1", "box_y1", "box_x2", "box_y2"]].to_numpy(np.float64, na_value=np.nan)
    score = face_rows["face_score"].to_numpy(np.float64, na_value=np.nan)
    scored = np.flatnonzero(~np.isnan(score) & ~np.isnan(boxes).any(axis=1))
    if not len(scored):
        return None
    n_frames = face_rows["n_frames"].to_numpy(np.float64, na_value=np.nan)[scored]
    # the most frames, then the highest score, then the first row (a stable sort, NaN frames last)
    best = scored[np.lexsort((-score[scored], np.where(np.isnan(n_frames), np.inf, -n_frames)))[0]]
    t = (float(face_rows["t_start"].iloc[best]) + float(face_rows["t_end"].iloc[best])) / 2
    return t, tuple(float(v) for v in boxes[best])  # that second's box: a moving face (a pan) is elsewhere later


def label_matrix(b: pd.DataFrame, prefix: str) -> np.ndarray:
    """(7, n_bins) probabilities of one expert in label order."""
    return np.stack([b[f"{prefix}_{lab}"].to_numpy() for lab in LABELS])

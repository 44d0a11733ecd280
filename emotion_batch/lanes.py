"""Swim lanes of one video, who felt what when: the cells and a plotly figure of them.

`lane_cells(timeline)` turns the timeline rows of one video into cells, one per (lane, column):

* a lane per person (`person_id`, when the timeline has that column and the row has one) or
  else per face track ("face 3"), the most seen first. A cell holds the lane's fused `emotion`
  (with several rows of one person in a second: the most confident one) and its confidence;
* a lane "voice" for the seconds whose speech fusion used (`voice_owner`): the audio expert's
  label (`a_emotion`), its probability, and whose voice it is (a face or person, or
  "off screen" for the face_id -1 row). A video without audio or speech has no voice lane.

A column is one whole second; a video longer than `max_columns` seconds gets columns of
several whole seconds each (the most frequent emotion of the column, ties in label order, and
the mean confidence of its seconds with that emotion), so an hour draws as `max_columns`
cells per lane, not 3,600.

`lanes_figure(cells, span_s=...)` draws them as horizontal bars on one whole-second time
axis: colour = emotion (`labels.EMOTION_COLORS`), opacity = confidence (at least
`MIN_OPACITY`, so a 7-way reading of 1/7 still shows its colour). Only labels, ids and
numbers go into the figure, never file names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from emotion_batch.labels import EMOTION_COLORS, LABELS
from emotion_batch.schemas import NO_FACE, prob_columns

MAX_COLUMNS = 600
MIN_OPACITY = 0.15
VOICE = "voice"
CELL_COLUMNS = ["lane", "start_s", "end_s", "emotion", "confidence", "who", "n_seconds"]
_RANK = {lab: i for i, lab in enumerate(LABELS)}


def span_seconds(timeline: pd.DataFrame, duration_s: float | None = None) -> int:
    """Whole seconds the video covers: its last timeline second or its duration, the larger."""
    last = int(timeline["second"].max()) + 1 if len(timeline) else 0
    dur = 0 if duration_s is None or pd.isna(duration_s) else math.ceil(duration_s)
    return max(last, dur)


def lane_name(face_id, person_id=None) -> str:
    """The lane (and `who`) of a row: "person 7" when it has a person, else "face 3", or
    "off screen" for the no-face id."""
    if person_id is not None and not pd.isna(person_id):
        return f"person {int(person_id) if isinstance(person_id, (int, float, np.integer)) else person_id}"
    return "off screen" if int(face_id) == NO_FACE else f"face {int(face_id)}"


@dataclass(frozen=True)
class _Seconds:
    """Per-second readings of some lanes, sorted by (lane, second): `lanes` are the lane names
    in sorted order and `lane` indexes them; `emotion` and `who` are object arrays."""

    lanes: list[str]
    lane: np.ndarray
    second: np.ndarray
    emotion: np.ndarray
    confidence: np.ndarray
    who: np.ndarray


def _empty(lanes: list[str]) -> _Seconds:
    return _Seconds(lanes, *(np.zeros(0, t) for t in (np.int64, np.int64, object, np.float64, object)))


def _names(face: np.ndarray, pid: np.ndarray | None) -> np.ndarray:
    """lane_name of every row, computed once per distinct (face, person) pair."""
    if pid is None:
        uniq, inv = np.unique(face, return_inverse=True)
        return np.array([lane_name(f) for f in uniq], dtype=object)[inv]
    keys = list(zip(face.tolist(), pid.tolist()))
    memo: dict = {}
    return np.array([memo[k] if k in memo else memo.setdefault(k, lane_name(*k)) for k in keys], dtype=object)


def _column(tl: pd.DataFrame, name: str, dtype=None) -> np.ndarray:
    col = tl[name]
    if dtype is np.float64:
        return col.to_numpy(np.float64, na_value=np.nan)
    return col.to_numpy(dtype) if dtype is not None else col.to_numpy(object)


def _face_seconds(tl: pd.DataFrame, keep: np.ndarray) -> _Seconds:
    """One reading per (lane, second) with a face: the most confident row (NaN last, then row order)."""
    face = _column(tl, "face_id", np.int64)
    emo = _column(tl, "emotion")
    rows = np.flatnonzero(keep & (face != NO_FACE) & pd.notna(emo))
    pid = _column(tl, "person_id")[rows] if "person_id" in tl.columns else None
    names = _names(face[rows], pid)
    lanes, lane = np.unique(names.astype(str), return_inverse=True) if len(rows) else (np.array([]), rows)
    sec = _column(tl, "second", np.int64)[rows]
    conf = _column(tl, "confidence", np.float64)[rows]
    order = np.lexsort((np.where(np.isnan(conf), np.inf, -conf), sec, lane))
    lane, sec = lane[order], sec[order]
    first = np.ones(len(order), bool)
    first[1:] = (lane[1:] != lane[:-1]) | (sec[1:] != sec[:-1])
    pick = order[first]
    return _Seconds(lanes.tolist(), lane[first], sec[first], emo[rows][pick], conf[pick], names[pick])


def _voice_seconds(tl: pd.DataFrame, keep: np.ndarray) -> _Seconds:
    """The voice lane's seconds: the audio label of the row carrying each second's voice (the
    voice owner's, or without voice_owner the lowest face id's)."""
    if "a_emotion" not in tl.columns:
        return _empty([VOICE])
    a_emo = _column(tl, "a_emotion")
    ok = keep & pd.notna(a_emo)
    if "voice_owner" in tl.columns:
        owner = tl["voice_owner"]
        if owner[ok].notna().any():
            ok &= owner.fillna(False).to_numpy(bool)
    rows = np.flatnonzero(ok)
    face, sec = _column(tl, "face_id", np.int64)[rows], _column(tl, "second", np.int64)[rows]
    order = np.lexsort((face, sec))
    first = np.ones(len(order), bool)
    first[1:] = sec[order][1:] != sec[order][:-1]
    pick = rows[order[first]]
    pid = _column(tl, "person_id")[pick] if "person_id" in tl.columns else None
    probs = tl[prob_columns("a")].to_numpy(np.float64, na_value=np.nan)[pick] if len(pick) else np.zeros((0, 1))
    return _Seconds([VOICE], np.zeros(len(pick), np.int64), sec[order[first]], a_emo[pick],
                    probs.max(axis=1), _names(face[order[first]], pid))


def _emotion_codes(emotion: np.ndarray) -> tuple[list, np.ndarray]:
    """Codes of the emotions in label order (other strings after the labels, in string order)."""
    kinds = sorted(dict.fromkeys(emotion.tolist()), key=lambda e: (_RANK.get(e, len(LABELS)), str(e)))
    code = {e: i for i, e in enumerate(kinds)}
    return kinds, np.fromiter((code[e] for e in emotion.tolist()), np.int64, len(emotion))


def _columns(s: _Seconds, width: int, start_s: int, end_s: int) -> pd.DataFrame:
    """Cells of `width` whole seconds, by lane then time: the most frequent emotion (ties in
    label order), the mean confidence of its seconds with that emotion (NaN skipped), and
    `who` of its first such second. Counted with numpy: a pandas groupby and merge cost tens
    of milliseconds a video."""
    if not len(s.second):
        return pd.DataFrame(columns=CELL_COLUMNS)
    kinds, emo = _emotion_codes(s.emotion)
    n_emo = len(kinds)
    col = (s.second - start_s) // width
    n_col = int(col.max()) + 1
    groups, g = np.unique(s.lane * n_col + col, return_inverse=True)
    n_g = len(groups)
    ge = g * n_emo + emo
    counts = np.bincount(ge, minlength=n_g * n_emo).reshape(n_g, n_emo)
    top = counts.argmax(axis=1)  # the first of equal counts: label order
    ok = ~np.isnan(s.confidence)
    sums = np.bincount(ge[ok], weights=s.confidence[ok], minlength=n_g * n_emo).reshape(n_g, n_emo)
    n_ok = np.bincount(ge[ok], minlength=n_g * n_emo).reshape(n_g, n_emo)
    rows = np.arange(n_g)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(n_ok[rows, top] > 0, sums[rows, top] / n_ok[rows, top], np.nan)
    first_of = np.zeros(n_g * n_emo, np.int64)
    seen, first = np.unique(ge, return_index=True)  # the first row (in time) of each (cell, emotion)
    first_of[seen] = first
    lane_of, col_of = groups // n_col, groups % n_col
    return pd.DataFrame({
        "lane": np.array(s.lanes, dtype=object)[lane_of], "start_s": start_s + col_of * width,
        "end_s": np.minimum(start_s + (col_of + 1) * width, max(end_s, start_s + 1)),
        "emotion": np.array(kinds, dtype=object)[top], "confidence": conf,
        "who": s.who[first_of[rows * n_emo + top]], "n_seconds": counts.sum(axis=1)})


def lane_cells(timeline: pd.DataFrame, *, span_s: int | None = None, start_s: int = 0,
               max_columns: int = MAX_COLUMNS) -> pd.DataFrame:
    """The cells of one video's lanes (module doc) over seconds [start_s, span_s), face lanes
    first (most seen first), the voice lane last; columns: lane, start_s, end_s, emotion,
    confidence, who, n_seconds. A window of at most `max_columns` seconds is drawn per second:
    the drill-down into a long video."""
    span = span_seconds(timeline) if span_s is None else int(span_s)
    start = max(0, int(start_s))
    width = max(1, math.ceil(max(span - start, 1) / max(max_columns, 1)))
    sec = _column(timeline, "second", np.int64) if len(timeline) else np.zeros(0, np.int64)
    keep = (sec >= start) & (sec < max(span, start + 1))
    faces = _face_seconds(timeline, keep) if len(timeline) else _empty([])
    seen = np.bincount(faces.lane, minlength=len(faces.lanes))
    order = sorted(range(len(faces.lanes)), key=lambda i: (-seen[i], faces.lanes[i]))
    cells = _columns(faces, width, start, span)
    if len(cells):  # lanes most seen first, each in time order (_columns gives sorted lanes)
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        lane_rank = rank[np.searchsorted(faces.lanes, cells["lane"].to_numpy(object).astype(str))]
        cells = cells.iloc[np.lexsort((cells["start_s"].to_numpy(), lane_rank))].reset_index(drop=True)
    voice = _columns(_voice_seconds(timeline, keep) if len(timeline) else _empty([VOICE]), width, start, span)
    return pd.concat([cells, voice], ignore_index=True) if len(voice) else cells.reset_index(drop=True)


def lanes_figure(cells: pd.DataFrame, *, span_s: int, start_s: int = 0, title: str | None = None):
    """A plotly Figure of `lane_cells` output: one row per lane (top to bottom in the cells'
    order), bars coloured by emotion with confidence as opacity, x in seconds from start_s to span_s.
    With no cells the figure says so in one line instead of drawing empty lanes."""
    import plotly.graph_objects as go

    lanes = list(dict.fromkeys(cells["lane"]))
    fig = go.Figure()
    for emo in LABELS:
        c = cells[cells["emotion"] == emo]
        if c.empty:
            continue
        conf = c["confidence"].to_numpy(np.float64)
        fig.add_trace(go.Bar(
            orientation="h", y=c["lane"], base=c["start_s"], x=c["end_s"] - c["start_s"], name=emo,
            marker=dict(color=EMOTION_COLORS[emo], opacity=np.clip(np.nan_to_num(conf), MIN_OPACITY, 1.0),
                        line=dict(width=0)),
            customdata=list(zip(c["start_s"].astype(int), c["end_s"].astype(int), conf, c["who"].astype(str))),
            hovertemplate=("%{y} %{customdata[0]}-%{customdata[1]} s: " + emo
                           + " %{customdata[2]:.2f} (%{customdata[3]})<extra></extra>"),
        ))
    if not lanes:
        fig.add_annotation(text="nothing to draw: no face and no speech in this video", showarrow=False,
                           x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(barmode="overlay", bargap=0.2, title=title, template="plotly_white",
                      height=90 + 28 * max(len(lanes), 1), legend=dict(orientation="h", y=-0.2),
                      margin=dict(l=90, r=15, t=40 if title else 15, b=40))
    fig.update_yaxes(categoryorder="array", categoryarray=lanes[::-1], type="category")
    fig.update_xaxes(range=[start_s, max(span_s, start_s + 1)], title="time (s)", tick0=0)
    return fig

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


def _who(face_id, person_id=None) -> str:
    if person_id is not None and not pd.isna(person_id):
        return f"person {int(person_id) if isinstance(person_id, (int, float, np.integer)) else person_id}"
    return "off screen" if int(face_id) == NO_FACE else f"face {int(face_id)}"


def _face_seconds(tl: pd.DataFrame) -> pd.DataFrame:
    """lane, second, emotion, confidence, who: one row per (lane, second) with a face reading."""
    rows = tl[(tl["face_id"] != NO_FACE) & tl["emotion"].notna()]
    pids = rows["person_id"] if "person_id" in rows.columns else [None] * len(rows)
    lane = [_who(f, p) for f, p in zip(rows["face_id"], pids)]
    out = pd.DataFrame({"lane": lane, "second": rows["second"].to_numpy(), "emotion": rows["emotion"].to_numpy(),
                        "confidence": rows["confidence"].to_numpy(np.float64)})
    out["who"] = out["lane"]
    out = out.sort_values(["lane", "second", "confidence"], ascending=[True, True, False])
    return out.drop_duplicates(["lane", "second"])


def _voice_seconds(tl: pd.DataFrame) -> pd.DataFrame:
    """The voice lane's seconds: the audio label of the row carrying each second's voice."""
    if "a_emotion" not in tl.columns:
        return pd.DataFrame(columns=["lane", "second", "emotion", "confidence", "who"])
    rows = tl[tl["a_emotion"].notna()]
    if "voice_owner" in rows.columns and rows["voice_owner"].notna().any():
        rows = rows[rows["voice_owner"].fillna(False).astype(bool)]
    rows = rows.sort_values(["second", "face_id"]).drop_duplicates("second")
    pids = rows["person_id"] if "person_id" in rows.columns else [None] * len(rows)
    who = [_who(f, p) for f, p in zip(rows["face_id"], pids)]
    conf = rows[prob_columns("a")].to_numpy(np.float64).max(axis=1) if len(rows) else np.zeros(0)
    return pd.DataFrame({"lane": VOICE, "second": rows["second"].to_numpy(), "emotion": rows["a_emotion"].to_numpy(),
                         "confidence": conf, "who": who})


def _columns(per_second: pd.DataFrame, width: int, start_s: int, end_s: int) -> pd.DataFrame:
    """Cells of `width` whole seconds: the most frequent emotion (ties in label order), the mean
    confidence of its seconds with that emotion, and `who` of its first such second."""
    if per_second.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    d = per_second.sort_values(["lane", "second"])
    d = d.assign(col=(d["second"].to_numpy() - start_s) // width, rank=d["emotion"].map(_RANK).fillna(len(LABELS)))
    counts = d.groupby(["lane", "col", "emotion", "rank"], as_index=False).agg(
        n=("second", "size"), confidence=("confidence", "mean"), who=("who", "first"))
    counts = counts.sort_values(["lane", "col", "n", "rank"], ascending=[True, True, False, True])
    sizes = d.groupby(["lane", "col"]).size().rename("n_seconds").reset_index()
    top = counts.drop_duplicates(["lane", "col"]).merge(sizes, on=["lane", "col"])
    top["start_s"] = start_s + top["col"] * width
    top["end_s"] = np.minimum(start_s + (top["col"] + 1) * width, max(end_s, start_s + 1))
    return top[CELL_COLUMNS].reset_index(drop=True)


def lane_cells(timeline: pd.DataFrame, *, span_s: int | None = None, start_s: int = 0,
               max_columns: int = MAX_COLUMNS) -> pd.DataFrame:
    """The cells of one video's lanes (module doc) over seconds [start_s, span_s), face lanes
    first (most seen first), the voice lane last; columns: lane, start_s, end_s, emotion,
    confidence, who, n_seconds. A window of at most `max_columns` seconds is drawn per second:
    the drill-down into a long video."""
    span = span_seconds(timeline) if span_s is None else int(span_s)
    start = max(0, int(start_s))
    width = max(1, math.ceil(max(span - start, 1) / max(max_columns, 1)))
    timeline = timeline[(timeline["second"] >= start) & (timeline["second"] < max(span, start + 1))]
    faces = _face_seconds(timeline)
    seen = faces.groupby("lane").size()
    order = sorted(seen.index, key=lambda lane: (-seen[lane], lane))
    cells = _columns(faces, width, start, span)
    cells["lane"] = pd.Categorical(cells["lane"], categories=order)
    cells = cells.sort_values(["lane", "start_s"]).astype({"lane": str})
    voice = _columns(_voice_seconds(timeline), width, start, span)
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

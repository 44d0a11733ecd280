"""The swim lanes of a video page, as compact JSON for assets/report.js, from `lanes.lane_cells`.

Columns are whole seconds up to COLUMNS_UNTIL_S seconds of video; a longer video gets columns
of at least a minute (at most MAX_COLUMNS of them) and, for drill-down, the per-second cells
of every lane, which the page draws only for the column a reader clicks: the DOM holds one
column's seconds, never 3,600 of them.

A lane is {"name", "id", "thumb", "cells": [[start_s, end_s, label index, confidence x 100,
seconds with a reading, who index]], "who": [names]}: `who` (whose voice) matters on the voice
lane; on a face lane it is the lane itself, and a face lane whose every column is read in all
its seconds (always so for per-second cells) keeps only the first four fields.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from emotion_batch.labels import LABELS
from emotion_batch.lanes import VOICE, lane_cells, lane_name
from emotion_batch.schemas import prob_columns

COLUMNS_UNTIL_S = 600
_CODE = {lab: i for i, lab in enumerate(LABELS)}
MIN_COLUMN_S = 60
MAX_COLUMNS = 240


def prepare(tl: pd.DataFrame, tracks: pd.DataFrame | None) -> pd.DataFrame:
    """The timeline with what lane_cells reads: a_emotion (older results: the audio expert's
    top label, computed here) and person_id from the identity step's tracks/ table when the
    timeline itself does not carry it."""
    tl = tl.copy()
    if "a_emotion" not in tl.columns:
        a = tl[prob_columns("a")].to_numpy(np.float64)
        have = ~np.isnan(a).all(axis=1)
        top = np.where(have, np.nanargmax(np.where(np.isnan(a), -1.0, a), axis=1), 0)
        tl["a_emotion"] = [LABELS[i] if h else None for i, h in zip(top, have)]
    if "person_id" not in tl.columns and tracks is not None and "person_id" in tracks.columns and len(tracks):
        pid = tracks.dropna(subset=["person_id"]).drop_duplicates("face_id").set_index("face_id")["person_id"]
        tl["person_id"] = tl["face_id"].map(pid).astype("Int64")
    return tl


def lane_of_face(tl: pd.DataFrame) -> dict[int, str]:
    """face id -> the lane it is drawn in (its person's, or its own)."""
    faces, first = np.unique(tl["face_id"].to_numpy(np.int64), return_index=True)
    pids = tl["person_id"].to_numpy(object)[first] if "person_id" in tl.columns else [None] * len(faces)
    return {int(f): lane_name(f, p) for f, p in zip(faces, pids)}


def anchor(lane: str) -> str:
    return "lane-" + re.sub(r"[^A-Za-z0-9_-]", "-", lane)


def column_seconds(span_s: int) -> int:
    if span_s <= COLUMNS_UNTIL_S:
        return 1
    return max(MIN_COLUMN_S, math.ceil(span_s / MAX_COLUMNS))


def _encode(cells: pd.DataFrame, thumbs: dict[str, str]) -> list[dict]:
    """Columns to lists once, then rows per lane: per-cell Python work costs milliseconds a video."""
    lane = cells["lane"].to_numpy(object)
    who = np.array([str(w) for w in cells["who"].tolist()], dtype=object)
    code = np.fromiter((_CODE.get(e, -1) if isinstance(e, str) else -1 for e in cells["emotion"].tolist()),
                       np.int64, len(cells))
    pct = np.rint(100 * np.nan_to_num(cells["confidence"].to_numpy(np.float64))).astype(np.int64)
    table = np.column_stack([cells[c].to_numpy(np.int64) for c in ("start_s", "end_s")]
                            + [code, pct, cells["n_seconds"].to_numpy(np.int64)])
    lanes = []
    for name in dict.fromkeys(lane.tolist()):
        idx = np.flatnonzero(lane == name)
        names = list(dict.fromkeys(who[idx].tolist()))
        w_index = {w: i for i, w in enumerate(names)}
        full = name != VOICE and bool((table[idx, 4] == table[idx, 1] - table[idx, 0]).all())
        if full:  # whole columns of one face: 4 fields
            rows = table[idx, :4].tolist()
        else:
            rows = np.column_stack([table[idx], [w_index[w] for w in who[idx].tolist()]]).tolist()
        lanes.append({"name": name, "id": anchor(name), "thumb": thumbs.get(name), "voice": name == VOICE,
                      "cells": rows, "who": names})
    return lanes


def lanes_data(tl: pd.DataFrame, span_s: int, *, thumbs: dict[str, str]) -> dict:
    """What the page's lane chart draws (module doc); `tl` comes from prepare()."""
    col = column_seconds(span_s)
    cells = lane_cells(tl, span_s=span_s, max_columns=math.ceil(max(span_s, 1) / col))
    if len(cells):
        col = int((cells["end_s"] - cells["start_s"]).max())
    out = {"span": span_s, "col": col, "lanes": _encode(cells, thumbs)}
    if col > 1:
        out["seconds"] = _encode(lane_cells(tl, span_s=span_s, max_columns=max(span_s, 1)), {})
    return out

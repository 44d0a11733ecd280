"""The tracks of a video analysed in segments, as one table (run/segments.merge_segments).

Each segment's tracker numbers its own faces; the merge maps them to the video's face ids
(stitched across cuts). A face seen on both sides of a cut then has one row per segment:
they become one, with the chips' mean embedding (weighted by how many chips each had), the
outer time span, the summed seconds and the better crop.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from emotion_batch.schemas import TRACK_SCHEMA


def _combine(a: dict, b: dict) -> dict:
    na, nb = a["n_crops"] or 0, b["n_crops"] or 0
    out = dict(a)
    out["t_first"], out["t_last"] = min(a["t_first"], b["t_first"]), max(a["t_last"], b["t_last"])
    out["seconds"] = (a["seconds"] or 0) + (b["seconds"] or 0)
    out["n_crops"] = na + nb
    if nb and (not na or (b["quality"] or 0) > (a["quality"] or 0)):
        out.update(quality=b["quality"], crop_t=b["crop_t"], crop_box=b["crop_box"])
    if na and nb:
        m = np.asarray(a["embedding"], np.float32) * na + np.asarray(b["embedding"], np.float32) * nb
        out["embedding"] = (m / max(float(np.linalg.norm(m)), 1e-9)).tolist()
        out["reason"] = None
    elif nb:
        out["embedding"], out["reason"] = b["embedding"], None
    return out


def merge_tracks(parts: list[tuple[pa.Table | None, dict[int, int]]]) -> pa.Table | None:
    """One tracks table from the segments' tables (in time order) and their local -> video
    face id maps; None when no segment had one (identity off)."""
    if all(t is None for t, _ in parts):
        return None
    rows: dict[int, dict] = {}
    for table, mapping in parts:
        for r in ([] if table is None else table.to_pylist()):
            r["face_id"] = mapping.get(r["face_id"], r["face_id"])
            rows[r["face_id"]] = _combine(rows[r["face_id"]], r) if r["face_id"] in rows else r
    return pa.Table.from_pylist([rows[k] for k in sorted(rows)], schema=TRACK_SCHEMA)

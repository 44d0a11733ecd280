"""lane_cells (numpy counting) against the pandas groupby it replaced, on random timelines."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotion_batch.labels import LABELS
from emotion_batch.lanes import CELL_COLUMNS, VOICE, lane_cells, lane_name, span_seconds
from emotion_batch.schemas import NO_FACE, prob_columns

_RANK = {lab: i for i, lab in enumerate(LABELS)}


def _ref_face_seconds(tl):
    rows = tl[(tl["face_id"] != NO_FACE) & tl["emotion"].notna()]
    pids = rows["person_id"] if "person_id" in rows.columns else [None] * len(rows)
    lane = [lane_name(f, p) for f, p in zip(rows["face_id"], pids)]
    out = pd.DataFrame({"lane": lane, "second": rows["second"].to_numpy(), "emotion": rows["emotion"].to_numpy(),
                        "confidence": rows["confidence"].to_numpy(np.float64)})
    out["who"] = out["lane"]
    out = out.sort_values(["lane", "second", "confidence"], ascending=[True, True, False])
    return out.drop_duplicates(["lane", "second"])


def _ref_voice_seconds(tl):
    if "a_emotion" not in tl.columns:
        return pd.DataFrame(columns=["lane", "second", "emotion", "confidence", "who"])
    rows = tl[tl["a_emotion"].notna()]
    if "voice_owner" in rows.columns and rows["voice_owner"].notna().any():
        rows = rows[rows["voice_owner"].fillna(False).astype(bool)]
    rows = rows.sort_values(["second", "face_id"]).drop_duplicates("second")
    pids = rows["person_id"] if "person_id" in rows.columns else [None] * len(rows)
    who = [lane_name(f, p) for f, p in zip(rows["face_id"], pids)]
    conf = rows[prob_columns("a")].to_numpy(np.float64).max(axis=1) if len(rows) else np.zeros(0)
    return pd.DataFrame({"lane": VOICE, "second": rows["second"].to_numpy(), "emotion": rows["a_emotion"].to_numpy(),
                         "confidence": conf, "who": who})


def _ref_columns(per_second, width, start_s, end_s):
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


def _ref_lane_cells(timeline, *, span_s=None, start_s=0, max_columns=600):
    span = span_seconds(timeline) if span_s is None else int(span_s)
    start = max(0, int(start_s))
    width = max(1, int(np.ceil(max(span - start, 1) / max(max_columns, 1))))
    timeline = timeline[(timeline["second"] >= start) & (timeline["second"] < max(span, start + 1))]
    faces = _ref_face_seconds(timeline)
    seen = faces.groupby("lane").size()
    order = sorted(seen.index, key=lambda lane: (-seen[lane], lane))
    cells = _ref_columns(faces, width, start, span)
    cells["lane"] = pd.Categorical(cells["lane"], categories=order)
    cells = cells.sort_values(["lane", "start_s"]).astype({"lane": str})
    voice = _ref_columns(_ref_voice_seconds(timeline), width, start, span)
    return pd.concat([cells, voice], ignore_index=True) if len(voice) else cells.reset_index(drop=True)


def _random_timeline(rng, *, persons: bool, owner: str, seconds: int):
    faces = rng.choice([0, 1, 2, 3, 10, 11], size=rng.integers(1, 5), replace=False).tolist() + [NO_FACE]
    rows = []
    for sec in range(seconds):
        for face in faces:
            if rng.random() < 0.35:
                continue
            for _ in range(1 + (rng.random() < 0.1)):  # now and then two rows of a face in a second
                a = rng.dirichlet(np.ones(len(LABELS))) if rng.random() < 0.7 else np.full(len(LABELS), np.nan)
                r = {"video_id": "v", "face_id": face, "second": sec,
                     "emotion": None if rng.random() < 0.08 else LABELS[rng.integers(0, 3 if sec % 5 else 7)],
                     "confidence": np.nan if rng.random() < 0.05 else float(rng.choice([0.25, 0.5, rng.random()])),
                     "a_emotion": None if np.isnan(a[0]) else LABELS[int(np.argmax(a))],
                     "voice_owner": rng.random() < 0.4}
                r.update(dict(zip(prob_columns("a"), a)))
                if persons:
                    r["person_id"] = None if face == NO_FACE or rng.random() < 0.3 else int(face % 3 + 5)
                rows.append(r)
    tl = pd.DataFrame(rows)
    if persons:
        tl["person_id"] = tl["person_id"].astype("Int64")
    if owner == "none":
        tl = tl.drop(columns="voice_owner")
    elif owner == "null":
        tl["voice_owner"] = pd.array([None] * len(tl), dtype="boolean")
    return tl


@pytest.mark.parametrize("seed", range(12))
def test_numpy_cells_equal_the_pandas_groupby(seed):
    rng = np.random.default_rng(seed)
    tl = _random_timeline(rng, persons=seed % 2 == 1, owner=["bool", "none", "null"][seed % 3],
                          seconds=int(rng.integers(3, 90)))
    span = span_seconds(tl) + int(rng.integers(0, 5))
    for kw in ({}, {"span_s": span, "max_columns": 7}, {"span_s": span, "max_columns": 1},
               {"span_s": span, "start_s": int(rng.integers(0, 3)), "max_columns": 4}):
        got, want = lane_cells(tl, **kw), _ref_lane_cells(tl, **kw)
        assert got.columns.tolist() == CELL_COLUMNS and len(got) == len(want) > 0
        for name in ["lane", "start_s", "end_s", "emotion", "who", "n_seconds"]:
            assert got[name].tolist() == want[name].tolist(), (kw, name)
        np.testing.assert_allclose(got["confidence"].to_numpy(np.float64),
                                   want["confidence"].to_numpy(np.float64), rtol=1e-12, atol=1e-12)


def test_no_rows_and_no_audio_columns_give_no_cells():
    tl = _random_timeline(np.random.default_rng(1), persons=False, owner="bool", seconds=5)
    assert lane_cells(tl.iloc[0:0]).empty and _ref_lane_cells(tl.iloc[0:0]).empty
    silent = tl.drop(columns=["a_emotion"])
    got, want = lane_cells(silent), _ref_lane_cells(silent)
    assert VOICE not in set(got["lane"]) and got[["lane", "start_s", "emotion"]].values.tolist() == \
        want[["lane", "start_s", "emotion"]].values.tolist()

#!/usr/bin/env python
"""Compare two results folders table by table: same videos, same rows, same numbers.

    python scripts/compare_results.py BEFORE AFTER [--atol 1e-5]

Used to show that a refactoring changed no output: run the same videos with the old and the
new code into two folders and compare them: timelines, attributions, the manifest and the
identity step's tracks (embeddings and person ids). Rows are matched on (video_id, face_id, second);
float columns must agree within --atol (default 1e-5: float32 results computed through other
kernels or batch shapes may differ in the last bits, see tests), everything else exactly.
Columns that record when, where and how fast a run happened (timings, worker, timestamps) are
not compared. Rows are matched through the video's path, so results whose video ids were made
by another id scheme still line up. With --common-columns, columns that only one side has are
listed but not counted as a difference (e.g. after a schema gained columns). Prints one line
per table and per difference; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emotion_batch.query import open_results  # noqa: E402
from emotion_batch.schemas import STAGES  # noqa: E402

KEYS = {"timelines": ["video_id", "face_id", "second"], "attributions": ["video_id", "face_id", "second"],
        "videos": ["video_id"], "tracks": ["video_id", "face_id"]}
NOT_COMPARED = {f"t_{s}" for s in STAGES} | {"t_total", "worker", "started_at", "finished_at", "device"}


def compare_frames(name: str, a: pd.DataFrame, b: pd.DataFrame, atol: float, common: bool = False,
                   skip: frozenset = frozenset()) -> list[str]:
    """Differences between two versions of one table, as readable lines (empty when equal).
    Columns in `skip` ("table.column") are not compared (and said so)."""
    keys = KEYS[name]
    out = []
    dropped = [c for c in a.columns.union(b.columns) if f"{name}.{c}" in skip]
    if dropped:
        print(f"  {name}: not compared, as asked: {dropped}")
        a, b = a.drop(columns=dropped, errors="ignore"), b.drop(columns=dropped, errors="ignore")
    if list(a.columns) != list(b.columns):
        only = sorted(set(a.columns) ^ set(b.columns))
        if not common:
            out.append(f"{name}: columns differ: {only}")
            return out
        print(f"  {name}: columns on one side only (not compared): {only}")
        cols = [c for c in a.columns if c in set(b.columns)]
        a, b = a[cols], b[cols]
    a, b = a.sort_values(keys).reset_index(drop=True), b.sort_values(keys).reset_index(drop=True)
    ka, kb = set(map(tuple, a[keys].to_numpy().tolist())), set(map(tuple, b[keys].to_numpy().tolist()))
    if ka != kb:
        out.append(f"{name}: {len(ka - kb)} row(s) only before, {len(kb - ka)} only after, "
                   f"e.g. {sorted(ka ^ kb, key=str)[:3]}")
        return out
    for col in a.columns:
        if col in NOT_COMPARED or col in keys:
            continue
        x, y = a[col], b[col]
        if any(isinstance(v, (list, np.ndarray)) for v in x):  # an embedding: a float vector (or null) per row
            bad = [i for i, (u, w) in enumerate(zip(x, y)) if not _same_vector(u, w, atol)]
            if bad:
                out.append(f"{name}.{col}: {len(bad)} vector(s) differ; first at {tuple(a.loc[bad[0], keys])}")
            continue
        if pd.api.types.is_float_dtype(x) or pd.api.types.is_float_dtype(y):
            xv, yv = x.to_numpy(np.float64), y.to_numpy(np.float64)
            nan_x, nan_y = np.isnan(xv), np.isnan(yv)
            bad = (nan_x != nan_y) | (~nan_x & ~nan_y & ~np.isclose(xv, yv, rtol=0, atol=atol))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                diff = np.nanmax(np.abs(xv - yv)) if (~nan_x & ~nan_y).any() else float("nan")
                out.append(f"{name}.{col}: {int(bad.sum())} value(s) differ (max |diff| {diff:.3g}); first at "
                           f"{tuple(a.loc[i, keys])}: {xv[i]!r} vs {yv[i]!r}")
        else:
            xs, ys = x.astype(object).where(x.notna(), None), y.astype(object).where(y.notna(), None)
            bad = xs.to_numpy() != ys.to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                out.append(f"{name}.{col}: {int(bad.sum())} value(s) differ; first at {tuple(a.loc[i, keys])}: "
                           f"{xs[i]!r} vs {ys[i]!r}")
    return out


def _same_vector(u, w, atol: float) -> bool:
    """Two embeddings (or two nulls) agree within atol."""
    if u is None or w is None or (np.isscalar(u) and pd.isna(u)) or (np.isscalar(w) and pd.isna(w)):
        return (u is None or np.isscalar(u)) and (w is None or np.isscalar(w))
    u, w = np.asarray(u, np.float64), np.asarray(w, np.float64)
    return u.shape == w.shape and bool(np.allclose(u, w, rtol=0, atol=atol, equal_nan=True))


def _tracks(root: str) -> pd.DataFrame:
    """The identity step's tracks/ (face tracks, their embeddings and person ids), if any."""
    files = sorted(Path(root, "tracks").glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True) if files else pd.DataFrame(
        columns=KEYS["tracks"])


def _by_path(root: str) -> dict[str, pd.DataFrame]:
    """The tables with video_id replaced by the video's path (from the manifest)."""
    results = open_results(root)
    path = dict(zip(results.videos["video_id"], results.videos["path"]))
    out = {}
    for name in KEYS:
        t = (_tracks(root) if name == "tracks" else getattr(results, name)).copy()
        t["video_id"] = t["video_id"].map(path).fillna(t["video_id"])
        out[name] = t
    return out


def compare(before: str, after: str, atol: float = 1e-5, common: bool = False,
            skip: frozenset = frozenset()) -> list[str]:
    ra, rb = _by_path(before), _by_path(after)
    diffs = []
    for name in KEYS:
        a, b = ra[name], rb[name]
        d = compare_frames(name, a, b, atol, common, skip)
        print(f"{name}: {len(a)} vs {len(b)} rows, {'same' if not d else f'{len(d)} difference(s)'}")
        diffs += d
    return diffs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--common-columns", action="store_true", help="compare only the columns both sides have")
    ap.add_argument("--skip", action="append", default=[], metavar="TABLE.COLUMN",
                    help="a column not to compare, e.g. videos.config_json after its layout changed (repeatable)")
    a = ap.parse_args()
    diffs = compare(a.before, a.after, a.atol, a.common_columns, frozenset(a.skip))
    for d in diffs:
        print("  " + d)
    print("SAME" if not diffs else f"DIFFERENT ({len(diffs)})")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())

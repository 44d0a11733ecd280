"""What the SQL views' `file` column costs: a generated results folder of N videos (one manifest
file and one small timeline file each), queried through the views (`run_sql`: the manifest is
read once per query and joined for `file`) and straight over the timeline files (no join),
interleaved so machine load affects both alike. Prints seconds per query (median of repeats).

    python benchmarks/query_views.py [--videos 2000] [--repeats 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emotion_batch.query import manifest_table, table_dataset  # noqa: E402
from emotion_batch.sql import run_sql  # noqa: E402
from emotion_batch.run.storage.store import ResultStore  # noqa: E402
from emotion_batch.schemas import MANIFEST_SCHEMA, TIMELINE_SCHEMA, prob_columns  # noqa: E402


def build(root: str, n: int, seconds: int = 10) -> None:
    store = ResultStore(root)
    for i in range(n):
        vid = f"{i:032x}"
        rows = [{"video_id": vid, "face_id": 0, "second": s, "t_start": float(s), "t_end": s + 1.0, "n_frames": 5,
                 **{c: 1 / 7 for c in prob_columns("p") + prob_columns("v")}, "emotion": "angry",
                 "v_emotion": "angry", "confidence": 1 / 7} for s in range(seconds)]
        store.write("timelines", vid, pa.Table.from_pylist(rows, schema=TIMELINE_SCHEMA), "bench")
        store.write("videos", vid, pa.Table.from_pylist([{
            "video_id": vid, "path": f"/data/v{i}.mp4", "status": "ok", "model_version": "bench",
            "config_hash": "x", "schema_version": "3"}], schema=MANIFEST_SCHEMA), "bench")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", default=None, help="build (or reuse) the folder here instead of a temporary one")
    a = ap.parse_args()
    root = a.keep or tempfile.mkdtemp(prefix="query-views-")
    if not Path(root, "videos").is_dir() or len(list(Path(root, "videos").iterdir())) != a.videos:
        t = timed(lambda: build(root, a.videos))
        print(f"built {a.videos} videos in {t:.1f} s under {root}")
    sql = "SELECT emotion, count(*) n FROM timelines WHERE second < 5 GROUP BY 1"
    cases = {
        "manifest_table (all rows)": lambda: manifest_table(root),
        "view: timelines (joins file)": lambda: run_sql(root, sql),
        "view: timelines ... GROUP BY file": lambda: run_sql(root, sql.replace("emotion,", "file,")),
        "raw timeline files, no join": lambda: table_dataset(root, "timelines").to_table(
            columns=["emotion"], filter=pa.compute.field("second") < 5).group_by("emotion").aggregate([]),
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(a.repeats):
        for name, fn in cases.items():
            times[name].append(timed(fn))
    for name, ts in times.items():
        print(f"{name:36s} {statistics.median(ts):6.2f} s  (runs: {', '.join(f'{t:.2f}' for t in ts)})")
    if not a.keep:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()

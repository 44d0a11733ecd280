#!/usr/bin/env python
"""Time and memory of the persons step for many synthetic track embeddings.

    python benchmarks/identity_scale.py [--tracks 100000] [--per-video 50] [--people 20000]

Writes --tracks synthetic tracks (unit 128-d vectors: --people random identities plus noise,
so every person appears in several videos) as tracks files of --per-video tracks each into a
temporary results folder, then times `identity.collection.assign_persons` over all of them
(one step, as after a run that analysed them all) and prints its wall time, the peak traced
Python memory (tracemalloc: numpy and Arrow buffers the step allocates through Python) and the
process's peak RSS. The matching is blocked (identity/group.nearest): a 100,000 x 100,000
similarity matrix (40 GB in float32) is never made. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotion_batch.fs import open_fs  # noqa: E402
from emotion_batch.identity.collection import assign_persons, load_persons, write_tracks  # noqa: E402
from emotion_batch.schemas import EMBEDDING_DIM, TRACK_SCHEMA  # noqa: E402


def write_folder(out: str, n: int, per_video: int, people: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    ids = rng.normal(size=(people, EMBEDDING_DIM)).astype(np.float32)
    ids /= np.linalg.norm(ids, axis=1, keepdims=True)
    fs, root = open_fs(out)
    videos = 0
    for start in range(0, n, per_video):
        k = min(per_video, n - start)
        who = rng.choice(people, size=k, replace=False)
        emb = ids[who] + 0.02 * rng.normal(size=(k, EMBEDDING_DIM)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        t0 = np.arange(k, dtype=np.float64) * 3.0  # one after another: never seen together
        table = pa.table({
            "video_id": [f"v{videos:06d}"] * k, "face_id": np.arange(k, dtype=np.int32),
            "person_id": pa.nulls(k, pa.int64()), "video_person": pa.nulls(k, pa.int32()),
            "t_first": t0, "t_last": t0 + 2.0, "seconds": np.full(k, 3, np.int32),
            "n_crops": np.full(k, 3, np.int32), "quality": np.full(k, 0.9, np.float32), "crop_t": t0,
            "crop_box": pa.array([[0, 0, 80, 80]] * k, pa.list_(pa.float32(), 4)),
            "embedding": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), EMBEDDING_DIM),
            "reason": pa.nulls(k, pa.string())}, schema=TRACK_SCHEMA)
        write_tracks(fs, root, f"v{videos:06d}", table)
        videos += 1
    return videos


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tracks", type=int, default=100_000)
    ap.add_argument("--per-video", type=int, default=50)
    ap.add_argument("--people", type=int, default=20_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        videos = write_folder(out, a.tracks, a.per_video, a.people)
        print(f"wrote {a.tracks} tracks in {videos} tracks files ({a.people} people) in {time.perf_counter() - t:.1f} s")
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tracemalloc.start()
        t = time.perf_counter()
        s = assign_persons(out, mode="collection", now="bench")
        wall = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        n_persons = load_persons(*open_fs(out)).num_rows
        print(f"persons step: {s.videos} videos, {a.tracks} tracks -> {n_persons} persons in {wall:.1f} s "
              f"({wall / a.tracks * 1e6:.0f} us per track)")
        print(f"memory: peak traced {peak / 2**20:.0f} MiB; process peak RSS {rss:.0f} MiB "
              f"(before the step {rss0:.0f} MiB); a full similarity matrix would be "
              f"{a.tracks ** 2 * 4 / 2**30:.0f} GiB")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""What identity (face-recognition embeddings per track) adds to the analysis of a 118 s file.

    python benchmarks/identity_cost.py [--video FILE] [--fps 5] [--repeats 2]

Default video: six copies of ../shared/data/videos/WolfgangLanger_Pexels.mp4 back to back
(118 s; tests/videogen.concat_video, remuxed), as benchmarks/peer_compare.py makes it. Two
analyzers in this process, `--identity off` and `--identity collection`, each warmed up on
the 20 s original, then run interleaved per repeat (off, collection, off, ...) so machine load
hits both alike. Prints each run's analysis time (VideoResult timings "total") and the
process's CPU seconds (all threads; steadier than wall time on a shared machine), the time
identity itself took (chip selection + embedding calls, timed around them) and the medians'
ratios. Memory: the chips identity holds at once (live tracks x at most 3 chips of
150x150x3 bytes) on the 20 s and the 118 s file: it does not grow with length.
Prints figures; asserts nothing (run on a quiet machine: the ratio is noisy under load).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from emotion_batch.config import RunConfig  # noqa: E402
from emotion_batch.identity.collect import TrackCrops  # noqa: E402

SHARED = ROOT.parent / "shared"
SPENT = {"s": 0.0, "cpu": 0.0, "held": 0}


def _instrument() -> None:
    """Time TrackCrops' work and count the chips it holds (this benchmark only)."""
    add_chunk, table = TrackCrops.add_chunk, TrackCrops.table

    def timed_add(self, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        add_chunk(self, *a, **k)
        SPENT["s"] += time.perf_counter() - t
        SPENT["cpu"] += time.process_time() - c
        SPENT["held"] = max(SPENT["held"], sum(len(tr.best) for tr in self.tracks.values()))

    def timed_table(self, *a, **k):
        t, c = time.perf_counter(), time.process_time()
        out = table(self, *a, **k)
        SPENT["s"] += time.perf_counter() - t
        SPENT["cpu"] += time.process_time() - c
        return out

    TrackCrops.add_chunk, TrackCrops.table = timed_add, timed_table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=None)
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    _instrument()
    from emotion_batch.pipeline.analyzer import VideoAnalyzer

    short = str(SHARED / "data" / "videos" / "WolfgangLanger_Pexels.mp4")
    analyzers = {m: VideoAnalyzer(RunConfig.from_flat(fps=a.fps, explain="none", device="cpu", identity=m))
                 for m in ("off", "collection")}
    with tempfile.TemporaryDirectory() as d:
        video = a.video
        if video is None:
            from videogen import concat_video

            video = str(Path(d) / "wolf6.mp4")
            concat_video(short, video, 6)
        held = {}
        for m, an in analyzers.items():  # warm-up, and the chips held on the short file
            SPENT["held"] = 0
            an(short)
            held["20 s"] = SPENT["held"] if m == "collection" else held.get("20 s")
        runs: dict[str, list[tuple[float, float]]] = {m: [] for m in analyzers}
        own: list[tuple[float, float]] = []
        for rep in range(a.repeats):
            for m, an in analyzers.items():
                SPENT.update(s=0.0, cpu=0.0, held=0)
                c0 = time.process_time()
                r = an(video)
                cpu = time.process_time() - c0
                runs[m].append((r.timings["total"], cpu))
                extra = ""
                if m == "collection":
                    own.append((SPENT["s"], SPENT["cpu"]))
                    held["118 s"] = SPENT["held"]
                    extra = (f"; identity itself {SPENT['s']:.2f} s wall, {SPENT['cpu']:.2f} s CPU, "
                             f"{r.tracks.num_rows} track(s)")
                print(f"run {rep + 1} identity={m:10s}: analysis {r.timings['total']:.1f} s wall, {cpu:.1f} s CPU"
                      f"{extra}", flush=True)
    med = {m: [statistics.median(x[i] for x in v) for i in (0, 1)] for m, v in runs.items()}
    mine = [statistics.median(x[i] for x in own) for i in (0, 1)]
    for i, what in enumerate(("wall", "CPU")):
        off, on = med["off"][i], med["collection"][i]
        print(f"median analysis {what}: off {off:.1f} s, collection {on:.1f} s: x{on / off:.3f}; "
              f"identity itself {mine[i]:.2f} s = {100 * mine[i] / off:.1f} % of the analysis without it")
    print("chips held at most: " + ", ".join(f"{k} file {v} ({v * 150 * 150 * 3 / 2**20:.2f} MiB)"
                                             for k, v in held.items()))


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Scaling of the Ray layer on this machine: throughput with 1 and 2 CPU actors and the
ratio, the effect of two analyses per actor (decoding overlapping compute), the peak
resident memory of each actor process, and the driver's peak memory.

    python benchmarks/scaling.py [VIDEO_OR_FOLDER ...] [--fps 5] [--settings 1x1,1x2,2x1]

Starts one embedded Ray (loopback), then runs the same batch once per setting into a
fresh results folder, with the actor pool fixed at the setting's size. Throughput =
video-seconds analysed / wall seconds of the whole `run_ray` call, actor start-up (model
loading) and planning included, so short batches understate the steady state. Driver
memory: peak RSS of this process during the call and the peak of Python allocations
(tracemalloc) above what was allocated before it. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_INPUT = REPO / "../shared/data/videos"


def _is_actor(p: psutil.Process) -> bool:
    title = p.cmdline()[:1]
    return bool(title) and title[0].startswith("ray::MapWorker(MapBatches(UnitAnalyzer))")


def wait_for_actors_to_exit(timeout: float = 30.0) -> None:
    """Actors of the previous setting are killed at its end; let them go before sampling."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = []
        for p in psutil.Process().children(recursive=True):
            try:
                if _is_actor(p):
                    alive.append(p)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        if not alive:
            return
        time.sleep(0.2)


class ActorMemory:
    """Samples the RSS of every analysis actor under this process and of this (the driver)
    process, keeps the peaks."""

    def __init__(self, every_s: float = 0.2):
        self.peak: dict[int, int] = {}
        self.driver_peak = 0
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            self.driver_peak = max(self.driver_peak, me.memory_info().rss)
            for p in me.children(recursive=True):
                try:
                    if _is_actor(p):
                        self.peak[p.pid] = max(self.peak.get(p.pid, 0), p.memory_info().rss)
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="*", default=[str(DEFAULT_INPUT)])
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--segment-s", type=float, default=10.0,
                    help="segment length: short, so that one long sample video does not bound the batch")
    ap.add_argument("--settings", default="1x1,1x2,2x1",
                    help="comma-separated ACTORSxCONCURRENCY settings to run, e.g. 1x1,1x2,2x1")
    args = ap.parse_args()

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # loopback-only embedded Ray
    from emotion_batch.config import RunConfig
    from emotion_batch.run.discover import discover
    from emotion_batch.run.context import RunContext
    from emotion_batch.run.distributed.connect import connect
    from emotion_batch.run.distributed.driver import run_ray
    from emotion_batch.run.engine import EngineConfig

    import ray

    paths = sorted({p for inp in args.inputs for p in discover(inp)})
    config = RunConfig(device="cpu", fps=args.fps)
    cores = os.cpu_count()
    print(f"{len(paths)} video(s); {cores} cores (load average {os.getloadavg()[0]:.1f}); fps {args.fps:g}; "
          f"segments of {args.segment_s:g} s; CPU actors of 1 CPU (1 torch thread) each")
    connect(None)
    results = {}
    try:
        for setting in args.settings.split(","):
            actors, conc = (int(x) for x in setting.split("x"))
            wait_for_actors_to_exit()
            with tempfile.TemporaryDirectory() as out, ActorMemory() as mem:
                tracemalloc.start()
                base = tracemalloc.get_traced_memory()[0]
                t0 = time.perf_counter()
                engine = EngineConfig(actors=actors, min_actors=actors, cpus_per_actor=1, segment_s=args.segment_s,
                                      actor_concurrency=conc, progress=False)
                s = run_ray(paths, RunContext.build(out, config, force=True), engine, echo=lambda m: None)
                wall = time.perf_counter() - t0
                py_peak = tracemalloc.get_traced_memory()[1] - base
                tracemalloc.stop()
            rate = s.video_seconds / wall
            results[setting] = rate
            peaks = ", ".join(f"{v / 2**20:.0f}" for v in sorted(mem.peak.values()))
            stages = s.stage_totals()
            top = ", ".join(f"{k} {v:.1f}" for k, v in sorted(stages.items(), key=lambda kv: -kv[1])[:4] if v)
            print(f"{actors} actor(s) x {conc} concurrent: {s.n_ok}/{s.n_ok + len(s.failed)} ok, "
                  f"{s.video_seconds:.1f} video-s in {wall:.1f} s = {rate:.2f} video-s per wall-s; "
                  f"peak RSS per actor (MiB): {peaks}; driver peak RSS {mem.driver_peak / 2**20:.0f} MiB, "
                  f"Python allocations +{py_peak / 2**20:.1f} MiB at peak; stage s: {top}")
    finally:
        ray.shutdown()
    if "1x1" in results and "2x1" in results:
        print(f"2 actors / 1 actor throughput: {results['2x1'] / results['1x1']:.2f}x")
    if "1x1" in results and "1x2" in results:
        print(f"1 actor, 2 concurrent / 1 concurrent: {results['1x2'] / results['1x1']:.2f}x")


if __name__ == "__main__":
    main()

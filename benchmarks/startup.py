#!/usr/bin/env python
"""Start-up of `cli.py run`: launch to the first frame analysed, and where the CPU goes meanwhile.

    python benchmarks/startup.py [--video FILE] [--repeats 3] [--engines ray,local]

Each repeat runs `cli.py run VIDEO --out TMP --fps 5 --explain none --no-progress` as a whole
process (ray: its own embedded Ray, RAY_AUTH_MODE=disabled; local: `--engine local`), engines
interleaved. Default video: ../shared/data/videos/WolfgangLanger_Pexels.mp4 (19.7 s): short,
so that start-up is a large part of the run. On a warm machine: the first repeat's figures are
printed too, but the files and packages are in the page cache from then on.

Prints per run and as medians:
- start-up: launch to the manifest's `started_at`, the moment the video's (first) unit starts
  decoding its first frame (imports, Ray and its services, the analysis actor, models, planning);
- whole: launch to exit;
- CPU seconds until `started_at` by role, sampled every 0.1 s over the process tree: the driver
  (the `cli.py` process), the analysis actor, our planning task and ledger actor, Ray Data's
  helper actors (stats, autoscaling coordinator, actor locations), Ray's services (GCS, raylet,
  dashboard head and agent, runtime-env agent, monitors).
  On 2 cores, start-up cannot be shorter than their sum / 2. --verbose lists every process.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
VIDEO = REPO.parent / "shared" / "data" / "videos" / "WolfgangLanger_Pexels.mp4"
ROLES = ("driver", "analysis actor", "planning + ledger", "Ray Data helpers", "Ray services")
RAY_DATA_HELPERS = ("_StatsActor", "_AutoscalingCoordinatorActor", "ActorLocationTracker")


def role(cmd: str) -> str:
    """What a process of the tree is, from its last command line (Ray workers rename themselves
    `ray::ActorName.method` once they run something)."""
    if "UnitAnalyzer" in cmd:
        return "analysis actor"
    if any(h in cmd for h in RAY_DATA_HELPERS):
        return "Ray Data helpers"
    if cmd.startswith("ray::") and any(w in cmd for w in ("plan_units", "Ledger", "IDLE")):
        return "planning + ledger"  # a worker that ran a planning task is ray::IDLE once it is done
    return "Ray services"  # GCS, raylet, dashboard head and agent, runtime-env agent, monitors


def run(engine: str, video: str, tmp: Path, verbose: bool = False) -> dict:
    import pyarrow.parquet as pq

    out = tmp / f"out-{engine}-{time.monotonic_ns()}"
    cmd = [sys.executable, "cli.py", "run", video, "--out", str(out), "--fps", "5", "--explain", "none",
           "--no-progress"] + (["--engine", "local"] if engine == "local" else [])
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    env.pop("RAY_ADDRESS", None)
    launch, t0 = time.time(), time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    root = psutil.Process(proc.pid)
    samples: dict[int, list[tuple[float, float]]] = {}  # pid -> [(when, cpu s)]
    names: dict[int, str] = {}  # pid -> last non-empty command line
    while proc.poll() is None:
        now = time.time()
        for p in [root, *root.children(recursive=True)]:
            try:
                c = p.cpu_times()
                samples.setdefault(p.pid, []).append((now, c.user + c.system))
                names[p.pid] = " ".join(p.cmdline()).strip() or names.get(p.pid, "")
            except psutil.Error:
                pass
        time.sleep(0.1)
    whole = time.perf_counter() - t0
    text = proc.stdout.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{text[-2000:]}")
    m = pq.read_table(out / "videos").to_pylist()[0]
    started = datetime.fromisoformat(m["started_at"].replace("Z", "+00:00")).timestamp()
    # CPU until started_at: each process's last sample taken before then
    by_role = dict.fromkeys(ROLES, 0.0)
    for pid, seq in samples.items():
        before = [c for when, c in seq if when <= started]
        if before:
            r = "driver" if pid == proc.pid else role(names.get(pid, ""))
            by_role[r] += before[-1]
            if verbose:
                print(f"      {before[-1]:5.2f} s CPU  {r:18} {names.get(pid, '?')[:100]}")
    return {"startup_s": started - launch, "whole_s": whole, **by_role}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=str(VIDEO))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--engines", default="ray,local")
    ap.add_argument("--verbose", action="store_true", help="list every process's CPU seconds")
    a = ap.parse_args()
    engines = a.engines.split(",")
    print(f"{a.video}; {psutil.cpu_count()} CPUs; load before {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[str, list[dict]] = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as d:
        for i in range(a.repeats):
            for e in engines:
                r = run(e, a.video, Path(d), a.verbose)
                results[e].append(r)
                split = ", ".join(f"{k} {r[k]:.1f}" for k in ROLES if r[k])
                print(f"  run {i + 1} {e:5}: start-up {r['startup_s']:.1f} s, whole {r['whole_s']:.1f} s; "
                      f"CPU s until then: {split}", flush=True)
    print(f"\nmedian of {a.repeats} (load after {os.getloadavg()[0]:.2f}):")
    print("| | start-up s | whole s | " + " | ".join(f"{k} CPU s" for k in ROLES) + " |")
    print("|---|---|---|" + "---|" * len(ROLES))
    for e, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs) for k in ("startup_s", "whole_s", *ROLES)}
        print(f"| {e} | {med['startup_s']:.1f} | {med['whole_s']:.1f} | "
              + " | ".join(f"{med[k]:.1f}" for k in ROLES) + " |")


if __name__ == "__main__":
    main()

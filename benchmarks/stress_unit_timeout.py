#!/usr/bin/env python
"""Stress: `run --unit-timeout 0.5 --max-retries 1` many times, to catch the Ray node death
seen once (exit 1, no summary, no rows, stale claims; other Ray jobs were on the host).

    python benchmarks/stress_unit_timeout.py [--runs 10] [--hogs 0] [--videos 4]

Each run is the CLI in a subprocess with an embedded Ray (loopback) on `--videos` small
test-made videos into a fresh results folder. With 0.5 s every unit times out, so each
attempt ends its actor (the watchdog) and Ray restarts it: a storm of actor restarts, each
loading the models. `--hogs N` keeps N busy processes spinning meanwhile (other jobs on
the host). Per run it prints: exit status, whether the summary was printed, manifest rows
(expected: one per video, `failed` "timed out ..."), claims left, whether Ray reported its
node dead or the raylet terminated, and the wall time. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

NODE_DEATH = re.compile(r"marked dead|Raylet is terminated|raylet .*died|The node with node id", re.I)


def _spin(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x += 1


def _run_once(inbox: Path, out: Path, env: dict) -> dict:
    cmd = [sys.executable, str(REPO / "cli.py"), "run", str(inbox), "--out", str(out), "--unit-timeout", "0.5",
           "--max-retries", "1", "--device", "cpu", "--explain", "none", "--no-progress"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1800)
    text = proc.stdout + proc.stderr
    rows = list((out / "videos").glob("*.parquet")) if (out / "videos").is_dir() else []
    claims = list((out / "claims").glob("*.claim")) if (out / "claims").is_dir() else []
    return {"rc": proc.returncode, "summary": "Analysed " in text, "rows": len(rows), "claims": len(claims),
            "node_death": bool(NODE_DEATH.search(text)), "wall_s": time.perf_counter() - t0, "text": text}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--hogs", type=int, default=0, help="busy processes spinning during the runs")
    ap.add_argument("--videos", type=int, default=4)
    ap.add_argument("--keep", action="store_true", help="print the console of runs that went wrong")
    args = ap.parse_args()
    from videogen import make_video

    tmp = Path(tempfile.mkdtemp(prefix="stress-timeout-"))
    inbox = tmp / "in"
    inbox.mkdir()
    for i in range(args.videos):
        make_video(inbox / f"v{i}.mp4", seconds=3.0 + i, fps=10, size=(160, 120))
    env = dict(os.environ, RAY_AUTH_MODE="disabled", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
               RAY_USAGE_STATS_ENABLED="0", PYTHONPATH=str(REPO), HOME=str(tmp / "home"))
    hogs = [mp.Process(target=_spin, args=(time.time() + 24 * 3600,), daemon=True) for _ in range(args.hogs)]
    for h in hogs:
        h.start()
    print(f"{args.runs} run(s), {args.videos} video(s) each, --unit-timeout 0.5 --max-retries 1, {args.hogs} hog(s)")
    print("run  rc  summary  rows  claims_left  node_death  wall_s")
    bad = 0
    try:
        for i in range(args.runs):
            r = _run_once(inbox, tmp / f"out{i}", env)
            ok = r["rc"] == 1 and r["summary"] and r["rows"] == args.videos and r["claims"] == 0
            bad += not ok
            print(f"{i:3d}  {r['rc']:2d}  {str(r['summary']):7s}  {r['rows']:4d}  {r['claims']:11d}  "
                  f"{str(r['node_death']):10s}  {r['wall_s']:6.1f}{'' if ok else '  <- unexpected'}", flush=True)
            if not ok and args.keep:
                print(r["text"][-4000:])
    finally:
        for h in hogs:
            h.terminate()
    print(f"{bad} of {args.runs} run(s) ended otherwise than 'every video a failed row, summary, claims released'")


if __name__ == "__main__":
    main()

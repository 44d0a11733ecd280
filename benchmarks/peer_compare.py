#!/usr/bin/env python
"""fer 25.10.3 and both of our engines on the same file, in one sitting, as whole processes.

    python benchmarks/peer_compare.py [--video FILE] [--fer-python venv_fer/bin/python]
                                      [--fps 5] [--repeats 1] [--engines fer,ray,local]
                                      [--run-args '--actor-concurrency 1']

Default video: six copies of ../shared/data/videos/WolfgangLanger_Pexels.mp4 back to back
(118 s, 640x360, 24 fps; remuxed, no re-encode), written to a temp folder. Each engine runs
as its own process, interleaved per repeat (fer, ray, local, fer, ...) so that machine load
hits them alike; medians are printed with --repeats > 1.

- fer: `../shared/peer/bench_fer.py mtcnn VIDEO K` in its own environment (--fer-python; see
  ../shared/peer/README.md), K = round(video fps / fps) frames between analysed frames.
  analysis = fer's `Video.analyze` alone.
- ray / local: `cli.py run VIDEO --out TMP --fps 5 --explain none --no-progress` (ray: its own
  embedded Ray, RAY_AUTH_MODE=disabled; local: `--engine local`). analysis = the manifest's
  `finished_at - started_at`, wall time from the start of the video's (first) unit to its
  merged result (segments analysed in parallel overlap; their summed seconds, `t_total`, are
  printed as "unit seconds"); start-up = launch to `started_at` (imports, Ray, actor start,
  model loading, planning: everything before the video's analysis begins).
- whole = the process's wall time, launch to exit; peak RSS = the largest sum of RSS over the
  process and its descendants (Ray's actors and services included), sampled every 0.2 s; peak
  PSS the same with proportional set sizes (shared pages counted once: the memory the run
  takes; the RSS sum counts libtorch and Ray's libraries once per process). Each run also
  prints the PSS of every process at the PSS peak (Ray workers by their titles, ray::UnitAnalyzer
  the analysis actor, ray::IDLE a pooled worker; services by their script or executable).

Also prints the face-seconds (timeline rows with a face) of both engines: they must agree.
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def label(p: psutil.Process) -> str:
    """A process's short name: Ray workers' titles (ray::UnitAnalyzer, ray::IDLE), else the
    script or executable (raylet, gcs_server, agent.py, dashboard.py, cli.py)."""
    cmd = p.cmdline()
    if cmd and cmd[0].startswith("ray::"):
        return cmd[0].split()[0]
    script = next((Path(c).name for c in cmd[1:] if c.endswith(".py")), None)
    return script or (Path(cmd[0]).name if cmd else p.name())


def tree_rss(proc: psutil.Process) -> tuple[int, int, list[tuple[str, int]]]:
    """(sum of RSS, sum of PSS, [(process, PSS)]) over the process and its descendants. RSS
    counts every shared page (libtorch, Ray's libraries, the object store's mapped pages) once
    per process that maps it; PSS splits shared pages among their processes, so its sum is what
    the run takes."""
    rss = pss = 0
    parts = []
    for p in [proc, *proc.children(recursive=True)]:
        try:
            info = p.memory_full_info()
            one = getattr(info, "pss", info.rss)
            rss, pss = rss + info.rss, pss + one
            parts.append((label(p), one))
        except psutil.Error:
            pass
    return rss, pss, parts


def timed(cmd: list[str], env: dict) -> tuple[float, tuple[int, int, list], str, float]:
    """(wall s, (peak tree RSS, peak tree PSS, [(process, PSS)] at the PSS peak) bytes, output,
    launch time as a UNIX timestamp)."""
    launch = time.time()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    ps = psutil.Process(proc.pid)
    peak, at_peak = (0, 0), []
    while proc.poll() is None:
        rss, pss, parts = tree_rss(ps)
        if pss > peak[1]:
            at_peak = parts
        peak = (max(peak[0], rss), max(peak[1], pss))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    out = proc.stdout.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{out[-2000:]}")
    return wall, (*peak, at_peak), out, launch


def breakdown(parts: list[tuple[str, int]]) -> str:
    """PSS per process at the peak, biggest first, e.g. "ray::UnitAnalyzer 899, cli.py 147"."""
    return ", ".join(f"{n} {b / 2**20:.0f}" for n, b in sorted(parts, key=lambda x: -x[1]))


def run_fer(python: str, video: str, k: int, tmp: Path) -> dict:
    out_json = tmp / "fer.json"
    wall, peak, _, _ = timed([python, str(SHARED / "peer" / "bench_fer.py"), "mtcnn", video, str(k), str(out_json)],
                             dict(os.environ))
    r = json.loads(out_json.read_text())
    return {"analysis_s": r["analyze_s"], "frames": r["frames_analysed"], "whole_s": wall, "peak_rss": peak[0],
            "peak_pss": peak[1],
            "at_peak": peak[2], "startup_s": r["script_s"] - r["analyze_s"], "face_seconds": None}


def run_ours(engine: str, video: str, fps: float, tmp: Path, extra: list[str] = ()) -> dict:
    import pyarrow.parquet as pq

    out = tmp / f"out-{engine}"
    cmd = [sys.executable, "cli.py", "run", video, "--out", str(out), "--fps", str(fps), "--explain", "none",
           "--no-progress"] + (["--engine", "local"] if engine == "local" else []) + list(extra)
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    env.pop("RAY_ADDRESS", None)  # its own embedded Ray, as a first-time user gets
    wall, peak, _, launch = timed(cmd, env)
    m = pq.read_table(out / "videos").to_pylist()[0]
    if m["status"] != "ok":
        raise SystemExit(f"{engine}: {m['status']}: {m['error']}")
    started, finished = (datetime.fromisoformat(m[k].replace("Z", "+00:00")).timestamp()
                         for k in ("started_at", "finished_at"))
    t = pq.read_table(out / "timelines", columns=["face_id", "n_frames"])
    face_seconds = sum(1 for f, n in zip(t["face_id"].to_pylist(), t["n_frames"].to_pylist()) if f >= 0 and n)
    return {"analysis_s": finished - started, "unit_s": m["t_total"], "frames": int(round(m["duration_s"] * fps)), "whole_s": wall,
            "peak_rss": peak[0], "peak_pss": peak[1], "at_peak": peak[2], "startup_s": started - launch, "face_seconds": face_seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--video", default=None)
    ap.add_argument("--fer-python", default=str(REPO.parent / "venv_fer" / "bin" / "python"))
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--engines", default="fer,ray,local")
    ap.add_argument("--run-args", default="", help="more `cli.py run` options for our engines, e.g. '--actor-concurrency 1'")
    a = ap.parse_args()
    engines = a.engines.split(",")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        video = a.video
        if video is None:
            from videogen import concat_video

            video = str(tmp / "wolf6.mp4")
            concat_video(SHARED / "data" / "videos" / "WolfgangLanger_Pexels.mp4", video, 6)
        import av

        with av.open(video) as c:
            s = c.streams.video[0]
            rate, size = float(s.average_rate), f"{s.width}x{s.height}"
        k = max(1, round(rate / a.fps))
        print(f"{video}: {size}, {rate:g} fps; {a.fps:g} analysed fps (fer: every {k}th frame); "
              f"{psutil.cpu_count()} CPUs; load before {os.getloadavg()[0]:.2f}", flush=True)
        results: dict[str, list[dict]] = {e: [] for e in engines}
        for rep in range(a.repeats):
            for e in engines:
                with tempfile.TemporaryDirectory(dir=tmp) as sub:
                    r = run_fer(a.fer_python, video, k, Path(sub)) if e == "fer" else run_ours(e, video, a.fps, Path(sub), shlex.split(a.run_args))
                results[e].append(r)
                print(f"  run {rep + 1} {e:5s}: analysis {r['analysis_s']:.1f} s ({r['frames'] / r['analysis_s']:.1f} "
                      f"frames/s), whole {r['whole_s']:.1f} s, start-up {r['startup_s']:.1f} s, "
                      f"peak RSS {r['peak_rss'] / 2**20:.0f} MB (PSS {r['peak_pss'] / 2**20:.0f} MB), face-seconds {r['face_seconds']}"
                      + (f", unit seconds {r['unit_s']:.1f}" if "unit_s" in r else ""), flush=True)
                print(f"    PSS MB at the peak, per process: {breakdown(r['at_peak'])}", flush=True)
    med = {e: {k: statistics.median(r[k] for r in rs) for k in ("analysis_s", "whole_s", "startup_s", "peak_rss", "peak_pss")}
           | {"frames": rs[0]["frames"]} for e, rs in results.items()}
    base = med.get("fer")
    print(f"\nmedian of {a.repeats} (load after {os.getloadavg()[0]:.2f}):")
    print("| | analysis s | frames/s | x fer | whole process s | x fer | start-up s | peak RSS MB | peak PSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for e, m in med.items():
        ra = f"{base['analysis_s'] / m['analysis_s']:.2f}x" if base else "-"
        rw = f"{base['whole_s'] / m['whole_s']:.2f}x" if base else "-"
        print(f"| {e} | {m['analysis_s']:.1f} | {m['frames'] / m['analysis_s']:.1f} | {ra} | {m['whole_s']:.1f} | {rw} "
              f"| {m['startup_s']:.1f} | {m['peak_rss'] / 2**20:.0f} | {m['peak_pss'] / 2**20:.0f} |")
    fs = {e: {r["face_seconds"] for r in rs} for e, rs in results.items() if e != "fer"}
    if fs:
        print("face-seconds per engine (every run):", fs)


if __name__ == "__main__":
    main()

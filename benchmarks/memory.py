"""Peak RSS of a 30-minute video vs a 3-minute one (memory must not grow with length).

Builds a 60-s test video (astronaut face, tone audio, 320x240, 10 fps) with the tests'
video factory, concatenates it by remuxing into 3-minute and 30-minute files, and analyses
each in a fresh process through benchmarks/throughput.py's per-video mode (the product's
real path). Prints both peaks, the ratio and the analysis wall times.

    python benchmarks/memory.py [--long-min 30] [--short-min 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def measure(path: Path, explain: str) -> dict:
    cmd = [sys.executable, str(ROOT / "benchmarks" / "throughput.py"), "--one", str(path), "--explain", explain]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line:
        raise SystemExit(f"analysis of {path} failed:\n{out.stderr[-2000:]}")
    return json.loads(line[0][7:])


def main() -> None:
    from videogen import concat_video, make_video

    ap = argparse.ArgumentParser()
    ap.add_argument("--short-min", type=int, default=3)
    ap.add_argument("--long-min", type=int, default=30)
    ap.add_argument("--explain", default="none")
    ap.add_argument("--keep", help="folder to keep the generated videos in")
    a = ap.parse_args()
    d = Path(a.keep or tempfile.mkdtemp(prefix="eb-mem-"))
    d.mkdir(parents=True, exist_ok=True)
    base = d / "base60.mp4"
    if not base.exists():
        make_video(base, seconds=60.0, fps=10)
    rows = []
    for minutes in (a.short_min, a.long_min):
        p = d / f"concat_{minutes}min.mp4"
        if not p.exists():
            concat_video(base, p, minutes)
        r = measure(p, a.explain)
        rows.append((minutes, r))
        print(f"{minutes:3d} min: duration {r['duration_s']:7.1f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  "
              f"analysis {r['analysis_s']:6.1f} s ({r['rtf']:.1f}x real time)", flush=True)
    (m0, r0), (m1, r1) = rows
    ratio = r1["peak_rss_mb"] / r0["peak_rss_mb"]
    print(f"peak RSS {m1} min / {m0} min = {ratio:.3f} ({(ratio - 1) * 100:+.1f} %)")


if __name__ == "__main__":
    main()

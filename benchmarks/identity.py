"""What the full-content video id costs, against the analysis of the same videos.

    python benchmarks/identity.py [--videos DIR] [--results DIR] [--big-mb 512]

For each video under --videos: its size, the time to compute its id from a cold page cache
(the file's cached pages are dropped first with posix_fadvise, so the disk is read; other
files and processes are not affected) and from a warm one, and the analysis time of the
same video from a results folder's manifest (matched by path, so results of any version
count), as a share. Then the raw rate of hashlib's hashes on one large synthetic file, warm,
to show why SHA-256 was picked. Needs no GPU; run it on a quiet machine for stable figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotion_batch.media.identity import READ_BYTES, fingerprint  # noqa: E402
from emotion_batch.run.discover import discover  # noqa: E402


def drop_cache(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)  # dirty pages (a file just written) cannot be dropped
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def timed(fn, *a) -> float:
    t0 = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t0


def analysis_times(results: str | None) -> dict[str, tuple[float, float]]:
    """path -> (t_total, duration_s) of finished videos in a results folder."""
    if not results or not os.path.isdir(os.path.join(results, "videos")):
        return {}
    from emotion_batch.query import open_results

    v = open_results(results).videos
    v = v[(v.status == "ok") & v.t_total.notna() & v.duration_s.notna()]
    return {os.path.realpath(p): (float(t), float(d)) for p, t, d in zip(v.path, v.t_total, v.duration_s)}


def per_video(videos: list[str], results: str | None) -> None:
    done = analysis_times(results)
    print(f"{'video':32s} {'MB':>7s} {'cold ms':>8s} {'warm ms':>8s} {'cold MB/s':>9s} "
          f"{'analysis s':>10s} {'s/video-s':>9s} {'id/analysis':>11s}")
    tot_bytes = tot_cold = tot_an = 0.0
    for path in videos:
        size = os.path.getsize(path)
        drop_cache(path)
        cold = timed(fingerprint, path)
        warm = min(timed(fingerprint, path) for _ in range(3))
        an = done.get(os.path.realpath(path))
        share = f"{100 * cold / an[0]:10.3f}%" if an else f"{'-':>11s}"
        an_s = f"{an[0]:10.2f} {an[0] / an[1]:9.3f}" if an else f"{'-':>10s} {'-':>9s}"
        print(f"{os.path.basename(path)[:32]:32s} {size / 1e6:7.2f} {cold * 1e3:8.2f} {warm * 1e3:8.2f} "
              f"{size / 1e6 / cold:9.0f} {an_s} {share}")
        tot_bytes += size
        tot_cold += cold
        tot_an += an[0] if an else 0.0
    print(f"{'all':32s} {tot_bytes / 1e6:7.2f} {tot_cold * 1e3:8.2f} {'':8s} {tot_bytes / 1e6 / tot_cold:9.0f}"
          + (f" {tot_an:10.2f} {'':9s} {100 * tot_cold / tot_an:10.3f}%" if tot_an else ""))


def hash_rates(big_mb: int) -> None:
    with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR"), suffix=".bin", delete=False) as f:
        block = os.urandom(1 << 20)
        for _ in range(big_mb):
            f.write(block)
        path = f.name
    try:
        drop_cache(path)
        cold = timed(fingerprint, path)
        print(f"\n{big_mb} MiB synthetic file: fingerprint (sha256, {READ_BYTES >> 20} MiB reads) "
              f"cold {big_mb * 1.048576 / cold:.0f} MB/s")
        for name in ("sha256", "blake2b", "sha1", "md5"):
            def run(p=path, n=name):
                h = hashlib.new(n)
                buf = bytearray(READ_BYTES)
                view = memoryview(buf)
                with open(p, "rb", buffering=0) as fh:
                    while k := fh.readinto(buf):
                        h.update(view[:k])
            best = min(timed(run) for _ in range(2))
            print(f"  {name:8s} warm {big_mb * 1.048576 / best:6.0f} MB/s")
    finally:
        os.unlink(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", default=str(ROOT.parent / "shared" / "data" / "videos"))
    ap.add_argument("--results", default=None, help="results folder whose manifest has the analysis times")
    ap.add_argument("--big-mb", type=int, default=512)
    args = ap.parse_args()
    per_video(discover(args.videos), args.results)
    if args.big_mb:
        hash_rates(args.big_mb)


if __name__ == "__main__":
    main()

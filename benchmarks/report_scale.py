"""How the HTML report scales with the size of a results folder.

    python benchmarks/report_scale.py [-n 10000] [--results DIR] [--out DIR] [--again] [--workers K]

Generates (once; an existing --results folder with as many manifest rows is reused) a
synthetic results folder of N videos with tests/report/results_factory.py: durations of
30 s to 10 min, one to three face tracks plus voice-only rows, most with audio and
attributions, 2 % failed. The source files do not exist, so no frame is decoded (the pages
say the file has moved). Then builds the report from scratch and prints the build time, the
total size of the site, the number of files and the biggest page; with --again also the time
of a second build over the unchanged folder (incremental: nothing re-rendered) and of one
after a tenth of the manifest rows changed. CPU seconds (this process and its render
workers) are printed beside wall seconds, and the load average before and after the first
build: on a machine shared with other work the wall time says little, the CPU time divided
by the cores says what an idle machine would take.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "report"))

import results_factory as F  # noqa: E402

from emotion_batch.run.storage.store import ResultStore  # noqa: E402
from emotion_batch.schemas import NO_FACE  # noqa: E402

SHAPES = [  # (seconds, faces, audio): cycled, so the mix is the same for every N
    (60, (0, NO_FACE), True), (30, (0,), True), (120, (0, 1, NO_FACE), True),
    (45, (NO_FACE,), True), (600, (0, 1, 2, NO_FACE), True), (90, (0,), False),
    (60, (0, 1), True), (240, (0, NO_FACE), True),
]


def generate(root: Path, n: int) -> None:
    """n videos: a few templates of rows, rewritten under each video's id (fast to write)."""
    store = ResultStore(str(root))
    templates = []
    for k, (secs, faces, audio) in enumerate(SHAPES):
        tl = F.timeline_rows("x", secs, faces, audio, seed=k)
        face_rows = tl.filter(pc.not_equal(tl["face_id"], NO_FACE))
        templates.append((tl, F.attribution_rows(face_rows, k) if k % 4 != 3 else None, secs, faces, audio))
    for i in range(n):
        vid = hashlib.sha256(f"bench-{i}".encode()).hexdigest()[:32]  # like a content id
        if i % 50 == 49:
            store.write("videos", vid, F.manifest_row(
                vid, f"/videos/batch{i // 1000}/broken_{i}.mp4", status="failed",
                error="DecodeError: moov atom not found", duration_s=None, faces_found=None,
                face_seconds=None, av_offset_s=None, av_confidence=None), F.MODEL)
            continue
        tl, at, secs, faces, audio = templates[i % len(templates)]
        ids = pa.array([vid] * len(tl), pa.string())
        store.write("timelines", vid, tl.set_column(0, "video_id", ids), F.MODEL)
        if at is not None:
            store.write("attributions", vid, at.set_column(0, "video_id", pa.array([vid] * len(at), pa.string())),
                        F.MODEL)
        n_faces = len([f for f in faces if f != NO_FACE])
        store.write("videos", vid, F.manifest_row(
            vid, f"/videos/batch{i // 1000}/clip_{i:06d}.mp4", duration_s=float(secs), has_audio=audio,
            faces_found=n_faces, av_offset_s=0.04 * (i % 7) if audio else None,
            av_confidence=0.1 * (i % 10) if audio else None), F.MODEL)


def site_figures(out: Path) -> tuple[int, int, Path, int]:
    total, files, big, big_size = 0, 0, out, 0
    for dirpath, _, names in os.walk(out):
        for name in names:
            p = Path(dirpath) / name
            size = p.stat().st_size
            total, files = total + size, files + 1
            if name.endswith(".html") and size > big_size:
                big, big_size = p, size
    return total, files, big, big_size


def timed_build(results: Path, out: Path, workers: int | None) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of this process and its worker processes, CPU seconds of this
    process alone: the listing, the manifests, the index and the pages it renders itself)."""
    from emotion_batch.report import build_report

    c0, t0 = os.times(), time.perf_counter()
    build_report(results, out, workers=workers)
    c1, wall = os.times(), time.perf_counter() - t0
    cpu = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system", "children_user", "children_system"))
    main = sum(getattr(c1, k) - getattr(c0, k) for k in ("user", "system"))
    return wall, cpu, main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="videos in the generated folder")
    ap.add_argument("--results", type=Path, default=None, help="reuse/keep the generated folder here")
    ap.add_argument("--out", type=Path, default=None, help="site folder (default: a temporary one)")
    ap.add_argument("--again", action="store_true", help="also time incremental rebuilds")
    ap.add_argument("--workers", type=int, default=None, help="render processes (default: the report's)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="eb-report-scale-"))
    try:
        results = args.results or tmp / "results"
        have = len(list((results / "videos").glob("*.parquet"))) if (results / "videos").is_dir() else 0
        if have != args.n:
            if have:
                shutil.rmtree(results)
            t0 = time.perf_counter()
            generate(results, args.n)
            print(f"generated {args.n} videos in {time.perf_counter() - t0:.1f} s ({results})")
        out = args.out or tmp / "site"
        if out.exists():
            shutil.rmtree(out)
        load0 = os.getloadavg()
        t, cpu, main_cpu = timed_build(results, out, args.workers)
        print(f"load average (1, 5, 15 min) before the build {' '.join(f'{x:.2f}' for x in load0)}, after it "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
        total, files, big, big_size = site_figures(out)
        print(f"first build: {args.n} videos in {t:.1f} s ({1000 * t / args.n:.1f} ms/video); CPU {cpu:.1f} s "
              f"({1000 * cpu / args.n:.1f} ms/video: on an idle machine with C cores, about N x that / C), "
              f"of which {main_cpu:.1f} s in the main process")
        print(f"site: {total / 2**20:.1f} MiB in {files} files; biggest page {big.relative_to(out)} "
              f"{big_size / 2**10:.0f} KiB")
        index_pages = sorted(out.glob("index*.html"))
        print(f"index: {len(index_pages)} page(s), biggest "
              f"{max(p.stat().st_size for p in index_pages) / 2**10:.0f} KiB")
        if args.again:
            print("second build, nothing changed: %.1f s (CPU %.1f s)" % timed_build(results, out, args.workers)[:2])
            store = ResultStore(str(results))
            ids = sorted(p.stem for p in (results / "videos").glob("*.parquet"))[:: 10]
            for vid in ids:
                row = store.read("videos", vid).to_pylist()[0]
                row["t_total"] = (row["t_total"] or 0) + 1.0  # a re-run: a new manifest row
                store.write("videos", vid, pa.Table.from_pylist([row], schema=F.MANIFEST_SCHEMA), F.MODEL)
            wall, cpu, _ = timed_build(results, out, args.workers)
            print(f"third build, {len(ids)} manifest rows changed: {wall:.1f} s (CPU {cpu:.1f} s)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Build the static, offline HTML report of a results folder, incrementally.

    <out>/index.html, index-2.html, ...   every video, PAGE_ROWS a page (index.py)
    <out>/persons.html                     only when the results have persons (pages/persons.py)
    <out>/videos/<page>.html               one page per video (name derived from the video id)
    <out>/frames/<page>/*.jpg              its evidence frames and lane thumbnails (evidence.py)
    <out>/assets/                          plotly.min.js (copied once), report.js, index.js, style.css,
                                           index-data.js (search and sort data)
    <out>/build-state.json                 what each page was rendered from (state.py)

Only videos whose manifest row, files, the build options or the report's code changed are
rendered again; the others keep their page and index row. Videos are read one at a time
(in a few worker processes for large builds), so memory follows the largest video.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from emotion_batch.query import QueryError
from emotion_batch.report import state
from emotion_batch.report.data import COLORS
from emotion_batch.report.pages.index import index_row, write_index
from emotion_batch.report.pages.render import page_name, render
from emotion_batch.report.pages.persons import PERSONS_PAGE, person_counts, write_persons
from emotion_batch.report.source import Source
from emotion_batch.report.pages.video import video_view

PLOTLY_JS = "plotly.min.js"
OWN_ASSETS = Path(__file__).resolve().parent / "templates" / "assets"
PARALLEL_FROM = 24  # videos to render before worker processes pay off


def plotly_js_source() -> Path:
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(f"plotly.js not found in the installed plotly package: {path}")
    return path


def copy_assets(out: Path) -> None:
    dst_dir = out / "assets"
    dst_dir.mkdir(parents=True, exist_ok=True)
    for src in [plotly_js_source(), *sorted(OWN_ASSETS.glob("*.js")), *sorted(OWN_ASSETS.glob("*.css"))]:
        dst = dst_dir / src.name
        if not dst.is_file() or dst.stat().st_size != src.stat().st_size or src.name != PLOTLY_JS:
            shutil.copyfile(src, dst)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


_SOURCES: dict[str, Source] = {}


@dataclass(frozen=True)
class RenderJob:
    """One video page to render (picklable: it goes to a worker process)."""

    root: str
    out: str
    vid: str
    manifest: dict
    key: str
    options: dict


def render_video(job: RenderJob) -> dict:
    """Render one video's page and frames; returns its state entry (key, index row, persons)."""
    root, vid, manifest, options = job.root, job.vid, job.manifest, job.options
    src = _SOURCES.get(root)
    if src is None:  # one listing per process
        src = _SOURCES[root] = Source.open(root)
    site, page = Path(job.out), page_name(vid)
    frames_dir = site / "frames" / page[: -len(".html")]
    if frames_dir.exists():
        shutil.rmtree(frames_dir)
    tl, at, tracks = (src.read(t, vid) for t in ("timelines", "attributions", "tracks"))
    view = video_view(manifest, tl, at=at, tracks=tracks, page=page, site=site, max_points=options["max_points"],
                      max_faces=options["max_faces"], frames=options["frames"])
    _write(site / "videos" / page, render("video.html", v=view, colors=COLORS, root="../",
                                          persons_page=PERSONS_PAGE if options["persons"] else None))
    persons = person_counts(view.prepared) if view.prepared is not None else {}
    return {"key": job.key, "row": index_row(manifest, tl, page=page), "persons": persons}


def _render_all(root: str, out: Path, jobs: list[tuple], options: dict, workers: int | None) -> list[dict]:
    n = workers if workers is not None else (min(4, os.cpu_count() or 1) if len(jobs) >= PARALLEL_FROM else 1)
    args = [RenderJob(root, str(out), vid, mf, key, options) for vid, mf, key in jobs]
    if n <= 1 or len(jobs) < 2:
        return [render_video(a) for a in args]
    import multiprocessing as mp

    with ProcessPoolExecutor(max_workers=n, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(render_video, a) for a in args]
        return [f.result() for f in futures]


def _prune(out: Path, keep: set[str]) -> None:
    """Pages and frame folders of videos no longer in the results."""
    for old in (out / "videos").glob("*.html"):
        if old.name not in keep:
            old.unlink()
    stems = {p[: -len(".html")] for p in keep}
    if (out / "frames").is_dir():
        for d in (out / "frames").iterdir():
            if d.name not in stems:
                shutil.rmtree(d, ignore_errors=True)


def build_report(
    results_root: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    max_points: int = 300,
    max_faces: int = 12,
    thumbnails: bool = True,
    *,
    workers: int | None = None,
    incremental: bool = True,
) -> Path:
    """Write the report site and return the path of its index.html.

    max_points   at most this many points per detail chart series (seconds are averaged in bins)
    max_faces    face tracks with a detail section, longest first (every track has a lane)
    thumbnails   decode frames and thumbnails from the original files when they are still there
    workers      processes rendering pages (default: up to 4 when many pages are due)
    incremental  keep pages whose inputs did not change since the last build into out_dir
    """
    root = os.fspath(results_root)
    out = Path(out_dir) if out_dir is not None else Path(root) / "report"
    src = Source.open(root)
    manifests = src.manifests()
    if not manifests:
        raise QueryError(f"no results in {root}: no videos/ or timelines/ Parquet files")
    (out / "videos").mkdir(parents=True, exist_ok=True)
    copy_assets(out)
    persons = src.persons()
    options = {"max_points": max_points, "max_faces": max_faces, "frames": bool(thumbnails),
               "persons": persons is not None}
    old = state.load(out) if incremental else {}
    entries, jobs = {}, []
    for vid, mf in manifests.items():
        key = state.video_key(mf, stamp=src.stamp(vid), options=options)
        prev = old.get(vid)
        if prev and prev.get("key") == key and (out / "videos" / page_name(vid)).is_file():
            entries[vid] = prev
        else:
            jobs.append((vid, mf, key))
    _SOURCES[root] = src
    try:
        for (vid, _, _), entry in zip(jobs, _render_all(root, out, jobs, options, workers)):
            entries[vid] = entry
    finally:
        _SOURCES.pop(root, None)
    _prune(out, {page_name(v) for v in manifests})
    built_at = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    persons_page = write_persons(out, persons, rows=entries, manifests=manifests, results_root=os.path.abspath(root),
                                 built_at=built_at, thumbnails=bool(thumbnails), write=_write)
    index = write_index(out, [e["row"] for e in entries.values()], results_root=os.path.abspath(root),
                        built_at=built_at, persons_page=persons_page, write=_write)
    state.save(out, entries)
    return index

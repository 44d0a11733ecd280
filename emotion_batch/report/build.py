"""Build the static, offline HTML report of a results folder.

    <out>/index.html               every video: status, duration, faces, emotions, strip
    <out>/videos/<page>.html       one page per video (name derived from the video id)
    <out>/assets/plotly.min.js     copied once from the installed plotly package

Videos are read one at a time, so memory follows the largest video, not the collection.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

from emotion_batch.query import QueryError, table_dataset
from emotion_batch.schemas import MANIFEST_SCHEMA
from emotion_batch.report.data import COLORS
from emotion_batch.report.pages import page_name, render
from emotion_batch.report.video_page import summarize, video_view

PLOTLY_JS = "plotly.min.js"
INDEX_STRIP_BINS = 240


def plotly_js_source() -> Path:
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / PLOTLY_JS
    if not path.is_file():
        raise FileNotFoundError(f"plotly.js not found in the installed plotly package: {path}")
    return path


def copy_assets(out: Path) -> None:
    src, dst = plotly_js_source(), out / "assets" / PLOTLY_JS
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size:
        shutil.copyfile(src, dst)


def _manifests(root: str) -> dict[str, dict]:
    """Manifest rows by video id, plus placeholders for videos with rows but no manifest."""
    rows = {r["video_id"]: r for r in table_dataset(root, "videos").to_table().to_pylist()}
    for f in table_dataset(root, "timelines").files:
        vid = os.path.basename(f)[: -len(".parquet")]
        if vid not in rows:  # the manifest is written last: this one is unfinished
            row = {name: None for name in MANIFEST_SCHEMA.names}
            row.update(video_id=vid, status="incomplete",
                       error="no manifest row yet (still running, or the run was killed)")
            rows[vid] = row
    return rows


def _read(root: str, table: str, vid: str):
    return table_dataset(root, table, [vid]).to_table().to_pandas()


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_report(
    results_root: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    max_points: int = 1500,
    max_faces: int = 12,
    thumbnails: bool = True,
) -> Path:
    """Write the report site and return the path of its index.html.

    max_points  at most this many points per drawn series (seconds are averaged in bins)
    max_faces   face tracks drawn per video, longest first (the rest are counted)
    thumbnails  decode one frame per face from the original file when it is still there
    """
    root = os.fspath(results_root)
    out = Path(out_dir) if out_dir is not None else Path(root) / "report"
    manifests = _manifests(root)
    if not manifests:
        raise QueryError(f"no results in {root}: no videos/ or timelines/ Parquet files")
    pages_dir = out / "videos"
    pages_dir.mkdir(parents=True, exist_ok=True)
    copy_assets(out)

    summaries, written = [], set()
    for vid in sorted(manifests, key=lambda v: (str(manifests[v].get("path") or v), v)):
        manifest = manifests[vid]
        page = page_name(vid)
        tl = _read(root, "timelines", vid)
        at = _read(root, "attributions", vid)
        view = video_view(manifest, tl, at, page, max_points, max_faces, thumbnails)
        _write(pages_dir / page, render("video.html", v=view, colors=COLORS,
                                        plotly_js=PLOTLY_JS))
        written.add(page)
        summaries.append(summarize(manifest, tl, page, INDEX_STRIP_BINS, 240.0))
        del tl, at, view
    for old in pages_dir.glob("*.html"):  # pages of videos no longer in the results
        if old.name not in written:
            old.unlink()

    status = [s.manifest["status"] for s in summaries]
    index = out / "index.html"
    _write(index, render(
        "index.html", videos=summaries, colors=COLORS, results_root=os.path.abspath(root),
        n_ok=status.count("ok"), n_failed=status.count("failed"),
        n_incomplete=status.count("incomplete"),
        n_duplicate=status.count("duplicate"),
        built_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    ))
    return index


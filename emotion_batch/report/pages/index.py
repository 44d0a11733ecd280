"""The index: one small row per video, paginated pages, and one data file for search and sort.

    <site>/index.html, index-2.html, ...   PAGE_ROWS videos a page, by file name (plain HTML)
    <site>/assets/index-data.js            every row, compact, for search and sort across pages

A row is computed when the video's page is rendered and kept in the build state, so an
incremental build writes the index without reading any video's rows again. Numbers are
rounded for reading; the A/V offset carries a labelled confidence or says why it was not
measured (no audio track, silent track, no visible speech); a video whose only readings are
the voice is marked "voice only".
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from emotion_batch.labels import LABELS
from emotion_batch.schemas import NO_FACE
from emotion_batch.report.data import COLORS, dominant_per_second, emotion_shares, span_seconds, strip_segments
from emotion_batch.report.pages.render import hms, missing, render

PAGE_ROWS = 250
STRIP_BINS = 120
SHORT_ID = 10
DATA_JS = "index-data.js"

# sync's reasons for falling back to the container clock, as a reader would say them
_NOT_MEASURED = (
    ("no audio stream", "no audio track"),
    ("silent", "silent track"),
    ("static mouth", "no visible speech"),
    ("no face track", "no face to align"),
    ("do not match", "mouth and voice do not match"),
    ("too short", "too little speech to align"),
)


def container_reason(method: str) -> str:
    """The reason inside 'container (...)' (sync's fallback), brackets balanced."""
    start = method.find("(")
    depth = 0
    for i in range(start, len(method)):
        depth += {"(": 1, ")": -1}.get(method[i], 0)
        if depth == 0:
            return method[start + 1: i]
    return method[start + 1:] if start >= 0 else ""


def av_text(manifest: dict) -> tuple[str, str | None, float | None]:
    """(offset text, confidence text or None, sort value) of a video's A/V offset."""
    if manifest.get("has_audio") is False:
        return "no audio track", None, None
    method = manifest.get("av_method") or ""
    if method.startswith("container"):
        reason = container_reason(method)
        for needle, words in _NOT_MEASURED:
            if needle in reason:
                return f"not measured: {words}", None, None
        return f"not measured: {reason or 'no speech'}", None, None
    off, conf = manifest.get("av_offset_s"), manifest.get("av_confidence")
    if missing(off):
        return "–", None, None
    return f"{off:+.2f} s", (None if missing(conf) else f"confidence {conf:.2f}"), round(float(off), 3)


def index_row(manifest: dict, tl: pd.DataFrame | None, *, page: str) -> dict:
    """What the index shows of one video (JSON-ready)."""
    tl = tl if tl is not None else pd.DataFrame()
    vid = str(manifest["video_id"])
    path = manifest.get("path")
    dur = manifest.get("duration_s")
    has_faces = bool(len(tl)) and bool((tl["face_id"] != NO_FACE).any())
    shares = emotion_shares(tl) if len(tl) else []
    offset, conf, av_sort = av_text(manifest)
    strip = []
    if len(tl):
        span = span_seconds(tl, dur)
        for seg in strip_segments(dominant_per_second(tl), span, STRIP_BINS, 1000.0):
            strip.append([LABELS.index(seg.emotion) if seg.emotion in LABELS else -1,
                          round(seg.x / 10, 1), round((seg.x + seg.w) / 10, 1)])
    return {
        "id": vid, "short": vid[:SHORT_ID], "page": page,
        "name": path.rsplit("/", 1)[-1] if path else vid, "path": path or "",
        "status": manifest.get("status") or "", "error": manifest.get("error") or "",
        "warning": manifest.get("warning") or "", "dup": manifest.get("duplicate_of") or "",
        "dur": None if missing(dur) else round(float(dur), 1), "dur_txt": hms(dur),
        "faces": None if missing(manifest.get("faces_found")) else int(manifest["faces_found"]),
        "shares": [[e, round(100 * f)] for e, f in shares],
        "voice_only": bool(len(tl)) and not has_faces and bool(shares),
        "av": offset, "av_conf": conf, "av_sort": av_sort, "strip": strip,
    }


def strip_style(strip: list) -> str:
    """A CSS gradient of the strip's runs (one element instead of an SVG of rectangles)."""
    if not strip:
        return ""
    stops = []
    for e, a, b in strip:
        color = COLORS[LABELS[e]] if 0 <= e < len(LABELS) else "#444444"
        stops.append(f"{color} {a}% {b}%")
    return "background: linear-gradient(90deg, " + ", ".join(stops) + ")"


def _page_file(n: int) -> str:
    return "index.html" if n == 1 else f"index-{n}.html"


def safe_json(value) -> str:
    """JSON that can sit inside a <script> element (no '</script>' or '<!--' can appear)."""
    return (json.dumps(value, separators=(",", ":"), ensure_ascii=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def write_index(out: Path, rows: list[dict], *, results_root: str, built_at: str,
                persons_page: str | None, write) -> Path:
    """Write the index pages and the search data; returns the first page."""
    rows = sorted(rows, key=lambda r: (r["name"].lower(), r["name"], r["id"]))
    n_pages = max(1, math.ceil(len(rows) / PAGE_ROWS))
    status = [r["status"] for r in rows]
    counts = {s: status.count(s) for s in ("ok", "failed", "incomplete", "duplicate")}
    keep = ("id", "short", "page", "name", "path", "status", "dur", "dur_txt", "faces", "shares",
            "voice_only", "av", "av_conf", "av_sort", "strip", "error")
    data = [{k: r[k] for k in keep} for r in rows]
    write(out / "assets" / DATA_JS, "window.EB_INDEX = " + safe_json(data) + ";\n")
    for n in range(1, n_pages + 1):
        page_rows = rows[(n - 1) * PAGE_ROWS: n * PAGE_ROWS]
        write(out / _page_file(n), render(
            "index.html", rows=page_rows, total=len(rows), counts=counts, page_no=n, n_pages=n_pages,
            pages=[(i, _page_file(i)) for i in range(1, n_pages + 1)], first=(n - 1) * PAGE_ROWS + 1,
            results_root=results_root, built_at=built_at, persons_page=persons_page,
            strip_style=strip_style, colors=COLORS, data_js=DATA_JS,
        ))
    for old in out.glob("index-*.html"):  # pages of a larger collection built before
        stem = old.stem.split("-", 1)[1]
        if not stem.isdigit() or int(stem) > n_pages:
            old.unlink()
    return out / "index.html"

"""The incremental build's memory: `<site>/build-state.json`, one entry per video page.

An entry is the key the page was rendered under and the page's index row (see index.py), so a
rebuild re-renders only the videos whose key changed and writes the index from the stored
rows. The key hashes the video id, its manifest row, the size and mtime of its other files
(timelines, attributions, tracks: a person grouping after the run changes tracks/ only), the
build options and the report's code version (the report package's sources, templates and
assets, and the lane aggregation it draws): a new release re-renders everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

STATE_FILE = "build-state.json"
STATE_FORMAT = 1


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of every file that decides what a page looks like."""
    here = Path(__file__).resolve().parent
    files = sorted(p for p in here.rglob("*") if p.is_file() and p.suffix in (".py", ".html", ".css", ".js"))
    lanes = here.parent / "lanes.py"
    h = hashlib.sha256()
    for p in files + ([lanes] if lanes.is_file() else []):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _plain(value):
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def video_key(manifest: dict, *, stamp: list, options: dict) -> str:
    """What a video's page depends on, as one hash."""
    row = {k: _plain(v) for k, v in sorted(manifest.items())}
    blob = json.dumps([code_version(), row, stamp, options], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def load(out: Path) -> dict[str, dict]:
    """vid -> {"key", "row"} of the last build into `out` (empty when none or unreadable)."""
    try:
        data = json.loads((out / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
        return {}
    videos = data.get("videos")
    return videos if isinstance(videos, dict) else {}


def save(out: Path, videos: dict[str, dict]) -> None:
    path = out / STATE_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"format": STATE_FORMAT, "videos": videos}, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)

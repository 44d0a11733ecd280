"""Jinja2 rendering for the report (autoescape on), page names and value formatting."""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,  # every file name, path and error message is text, never markup
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def page_name(video_id: str) -> str:
    """A safe, unique file name for a video's page, derived from its id only."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(video_id))[:60]
    if safe != str(video_id) or not safe:
        safe = f"{safe}-{hashlib.sha1(str(video_id).encode()).hexdigest()[:10]}"
    return f"{safe}.html"


def missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def hms(seconds) -> str:
    if missing(seconds):
        return "–"
    s = int(round(float(seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def num(value, fmt: str = "{:.2f}") -> str:
    return "–" if missing(value) else fmt.format(value)


def pct(value) -> str:
    return "–" if missing(value) else f"{100 * value:.0f}%"


def sort_key(value) -> str:
    """A data-sort attribute: numbers as numbers, missing values sort first."""
    if missing(value):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


_ENV.filters.update(hms=hms, num=num, pct=pct, sortkey=sort_key)


def render(template: str, **context) -> str:
    return _ENV.get_template(template).render(**context)

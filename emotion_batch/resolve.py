"""Which videos a user means: file names, paths or video ids, resolved through the manifest.

Results are keyed by content id (`video_id`), but people name files. `resolve_videos` turns
each name into the ids of the manifest rows it names:

* a video id of the manifest (or of a results file): that id;
* else a path: the rows whose `path` is it, or ends with it at a folder boundary, so
  "interview.mp4", "week1/interview.mp4" and "/data/week1/interview.mp4" all name
  /data/week1/interview.mp4 (separators "/" and "\\" are the same);
* a duplicate's row (status duplicate) also brings the row of the path that holds its
  results (`duplicate_of`), so its timelines come with it.

A name that matches no row, or rows of two different paths, is an error (`UnknownVideo`, with
one plain line saying what to give instead); nothing is read for a name that is not in the
manifest, so "../x" or "/etc/passwd" reach no file.
"""

from __future__ import annotations

import os
from typing import Iterable

import pyarrow as pa


class UnknownVideo(ValueError):
    """A name that names no video, or more than one file; the message is one line."""


def _norm(p: str) -> str:
    return str(p).replace("\\", "/").rstrip("/")


def _matches(path: str, name: str) -> bool:
    p, n = _norm(path), _norm(os.path.normpath(name)) if name else ""
    if not n:
        return False
    if p == n or p == _norm(os.path.abspath(n)):
        return True
    return not n.startswith("/") and p.endswith("/" + n)


def file_name(path: str | None) -> str | None:
    """The last part of a path ("/a/b/x.mp4" -> "x.mp4"), either separator."""
    return None if path is None else _norm(path).rsplit("/", 1)[-1]


def resolve_videos(manifest: pa.Table, names: Iterable[str], *, known_ids: Iterable[str] = ()) -> list[str]:
    """The video ids named by `names` (see the module doc), in the order given, without repeats.
    `manifest` needs the columns video_id, path, status and duplicate_of; `known_ids` are ids
    that have results files without a manifest row (a video being written now)."""
    rows = manifest.select(["video_id", "path", "status", "duplicate_of"]).to_pylist()
    ids = {r["video_id"] for r in rows} | set(known_ids)
    out: list[str] = []
    for name in names:
        name = str(name)
        found = [name] if name in ids else _by_path(rows, name)
        for vid in found:
            if vid not in out:
                out.append(vid)
    return out


def _by_path(rows: list[dict], name: str) -> list[str]:
    hits = [r for r in rows if r["path"] and _matches(r["path"], name)]
    paths = sorted({r["path"] for r in hits})
    if not hits:
        known = sorted({file_name(r["path"]) for r in rows if r["path"]})
        hint = f" (files: {', '.join(known[:5])}{', ...' if len(known) > 5 else ''})" if known else ""
        raise UnknownVideo(f"no video named {name!r} in these results{hint}; "
                           "give a file name, a path or a video id from the manifest (videos)")
    if len(paths) > 1:
        raise UnknownVideo(f"{name!r} names {len(paths)} files ({', '.join(paths[:3])}"
                           f"{', ...' if len(paths) > 3 else ''}); give more of the path or the video id")
    out = [r["video_id"] for r in hits]
    for r in hits:
        if r["status"] == "duplicate" and r["duplicate_of"]:
            out += [o["video_id"] for o in rows if o["path"] == r["duplicate_of"] and o["status"] != "duplicate"]
    return out

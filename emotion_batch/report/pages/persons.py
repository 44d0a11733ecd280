"""The persons page: one row per person of the results folder, when the folder has persons.

Written only when `persons/persons.parquet` exists (the identity step of issue 24); without
it there is no page and no link to one. Expected columns (extra ones are ignored):

    person_id      int64, never null       the id the lanes show as "person <id>"
    videos         list<string>            video ids the person was seen in
    seconds        int64                   seconds seen, all videos
    first_seen     string (ISO 8601)       optional
    last_seen      string (ISO 8601)       optional
    crop_video_id  string                  representative crop: the video ...
    crop_t         float64                 ... the time in it (s) ...
    crop_box       list<float32>[4]        ... and the box (x1, y1, x2, y2, full-resolution pixels)

The emotion mix of a person is counted from the timelines while their videos' pages are
rendered (the face seconds whose track belongs to the person, via the timeline's person_id or
tracks/), kept in the build state with each video, and summed here. Each row links to the
person's lane on each of their video pages.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import pandas as pd

from emotion_batch.labels import LABELS
from emotion_batch.report.data import COLORS
from emotion_batch.report.pages.index import strip_style
from emotion_batch.report.pages.lanes import anchor
from emotion_batch.report.pages.render import missing, render
from emotion_batch.report.thumbs import frame_at, crop

PERSONS_PAGE = "persons.html"


def person_counts(tl: pd.DataFrame) -> dict[str, dict]:
    """person id -> {"s": seconds seen, "e": {emotion: seconds}} of one video's prepared timeline."""
    if "person_id" not in tl.columns:
        return {}
    rows = tl[(tl["face_id"] >= 0) & tl["person_id"].notna()]
    out = {}
    for pid, g in rows.groupby(rows["person_id"].astype("int64")):
        best = g.sort_values("confidence", ascending=False).drop_duplicates("second")
        out[str(int(pid))] = {"s": int(g["second"].nunique()),
                              "e": {str(k): int(n) for k, n in best["emotion"].dropna().value_counts().items()}}
    return out


def _thumb(path: str | None, t, box, dest: Path) -> str | None:
    """persons/<file>.jpg of a crop reference (kept when it exists), or None when undecodable."""
    if not path or missing(t) or box is None or len(box) != 4 or not os.path.isfile(path):
        return None
    name = "p-" + hashlib.sha1(repr((path, float(t), [float(b) for b in box])).encode()).hexdigest()[:16] + ".jpg"
    if (dest / name).is_file():
        return name
    try:
        import av
        from PIL import Image

        with av.open(path) as c:
            img = frame_at(c, c.streams.video[0], float(t))
        part = None if img is None else crop(img, tuple(float(b) for b in box))
        if part is None:
            return None
        im = Image.fromarray(part)
        im.thumbnail((96, 96))
        dest.mkdir(parents=True, exist_ok=True)
        tmp = dest / f".{name}.tmp"
        im.save(tmp, format="JPEG", quality=85)
        os.replace(tmp, dest / name)
        return name
    except Exception:  # noqa: BLE001 - no thumbnail, the row stays
        return None


def _mix(counts: Counter) -> tuple[list, list]:
    """(shares [[emotion, percent]], strip runs [[label index, from %, to %]]) of a person."""
    total = sum(counts.values())
    if not total:
        return [], []
    shares, strip, at = [], [], 0.0
    for emo in LABELS:
        n = counts.get(emo, 0)
        if n:
            strip.append([LABELS.index(emo), round(at, 1), round(at + 100 * n / total, 1)])
            at += 100 * n / total
    for emo, n in counts.most_common(3):
        shares.append([emo, round(100 * n / total)])
    return shares, strip


def write_persons(out: Path, persons: pd.DataFrame | None, *, rows: dict[str, dict], manifests: dict[str, dict],
                  results_root: str, built_at: str, thumbnails: bool, write) -> str | None:
    """Write persons.html (returns its name) or remove a stale one (returns None)."""
    page = out / PERSONS_PAGE
    if persons is None or "person_id" not in persons.columns:
        if page.exists():
            page.unlink()
        return None
    view = []
    for p in persons.sort_values("person_id").itertuples(index=False):
        pid = str(int(p.person_id))
        counts: Counter = Counter()
        vids = [str(v) for v in (getattr(p, "videos", None) if getattr(p, "videos", None) is not None else [])]
        links = []
        for vid in vids:
            entry = rows.get(vid)
            if entry is None:
                continue
            counts.update(entry.get("persons", {}).get(pid, {}).get("e", {}))
            links.append((entry["row"]["name"], f"videos/{entry['row']['page']}#{anchor('person ' + pid)}"))
        shares, strip = _mix(counts)
        crop_vid = getattr(p, "crop_video_id", None)
        thumb = None
        if thumbnails and crop_vid in manifests:
            thumb = _thumb(manifests[crop_vid].get("path"), getattr(p, "crop_t", None),
                           getattr(p, "crop_box", None), out / "persons")
        seconds = getattr(p, "seconds", None)
        view.append({"id": pid, "thumb": f"persons/{thumb}" if thumb else None, "links": links,
                     "n_videos": len(vids), "seconds": None if missing(seconds) else int(seconds),
                     "first": getattr(p, "first_seen", None), "last": getattr(p, "last_seen", None),
                     "shares": shares, "strip": strip})
    write(page, render("persons.html", persons=view, results_root=results_root, built_at=built_at,
                       colors=COLORS, strip_style=strip_style))
    return PERSONS_PAGE

"""Evidence for a video page: frames decoded from the source file, and every face box of them.

At report time PyAV decodes, from the manifest's path, one frame per second that shows a face
(at the middle of the second), at most MAX_FRAMES per video, spread evenly over the covered
seconds when there are more (a long video gets about one per lane column); the second with the
most faces is always among them (the page's overview frame). A video with no face gets a few
frames spread over its length, so a reader can see that there was none. Face thumbnails for
the lanes are cropped from the same decoding pass. Images are JPEG files under the site
(`frames/<page>/`), never inline; the boxes are drawn over them by the page's script from the
timeline's mean box of that second, labelled with the lane's person or face id.

When the file has moved or cannot be decoded the page says so in one line; the report never
fails because of a frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emotion_batch.schemas import NO_FACE
from emotion_batch.report.thumbs import frame_at, crop

MAX_FRAMES = 60
NO_FACE_FRAMES = 6
FRAME_WIDTH = 640
THUMB = 96
BOX_COLS = ["box_x1", "box_y1", "box_x2", "box_y2"]


@dataclass
class Evidence:
    frames: dict[int, str] = field(default_factory=dict)  # second -> file, relative to the page
    thumbs: dict[str, str] = field(default_factory=dict)  # lane -> file, relative to the page
    size: tuple[int, int] | None = None  # the frame's pixel grid the boxes are in
    note: str | None = None


def _face_rows(tl: pd.DataFrame) -> np.ndarray:
    """Which rows are a face with a box (a mask: copying the wide frame costs more than the rest)."""
    ok = tl["face_id"].to_numpy() != NO_FACE
    for c in BOX_COLS:
        ok &= ~np.isnan(tl[c].to_numpy(np.float64, na_value=np.nan))
    return ok


def frame_seconds(tl: pd.DataFrame, span_s: int, max_frames: int = MAX_FRAMES) -> tuple[list[int], int | None]:
    """(seconds to extract, the overview second: most faces, None without faces)."""
    ok = _face_rows(tl)
    if not ok.any():
        n = min(NO_FACE_FRAMES, max(span_s, 1))
        return sorted({int(s) for s in np.linspace(0, max(span_s - 1, 0), n).round()}), None
    covered, n_faces = np.unique(tl["second"].to_numpy(np.int64)[ok], return_counts=True)
    overview = int(covered[np.argmax(n_faces)])  # the most faces; of equal counts the first second
    if len(covered) > max_frames:
        covered = covered[np.unique(np.linspace(0, len(covered) - 1, max_frames - 1).round().astype(int))]
    return sorted({*map(int, covered), overview}), overview


def boxes(tl: pd.DataFrame, seconds: list[int], *, lane_of) -> dict[str, list]:
    """second -> [[label, x1, y1, x2, y2], ...] for the given seconds (JSON keys are strings);
    lane_of(face id) names a box."""
    sec = tl["second"].to_numpy()
    ok = np.flatnonzero(_face_rows(tl) & np.isin(sec, seconds))
    out: dict[str, list] = {}
    coords = np.round(np.column_stack([tl[c].to_numpy(np.float64)[ok] for c in BOX_COLS]), 1).tolist()
    for second, face, xy in zip(sec[ok].tolist(), tl["face_id"].to_numpy()[ok].tolist(), coords):
        out.setdefault(str(second), []).append([lane_of(face), *xy])
    return out


def _save(img: np.ndarray, path: Path, width: int) -> None:
    from PIL import Image

    im = Image.fromarray(img)
    if im.width > width:
        im = im.resize((width, max(1, round(im.height * width / im.width))), Image.Resampling.BILINEAR)
    tmp = path.with_name(f".{path.name}.tmp")
    im.save(tmp, format="JPEG", quality=80)
    os.replace(tmp, path)


def extract(path: str | None, *, seconds: list[int], thumbs: dict[str, tuple[float, tuple]], dest: Path,
            rel: str, duration_s: float | None = None) -> Evidence:
    """Decode the frames at `seconds` (+0.5 s) and the thumbnails (lane -> (time, box)) into `dest`."""
    ev = Evidence()
    if not seconds and not thumbs:
        return ev
    if not path or not os.path.isfile(path):
        ev.note = f"frames not shown: the video file is no longer at {path or '(no path)'} (moved or deleted)"
        return ev
    try:
        import av

        container = av.open(path)
    except Exception as e:  # noqa: BLE001 - any open problem just means no frames
        ev.note = f"frames not shown: the video file cannot be opened ({type(e).__name__})"
        return ev
    dest.mkdir(parents=True, exist_ok=True)
    end = None if duration_s is None or duration_s != duration_s else max(0.0, float(duration_s) - 0.05)
    wants = [(min(s + 0.5, end) if end is not None else s + 0.5, "f", s) for s in seconds]
    wants += [(t, "t", lane) for lane, (t, _) in thumbs.items()]
    failed = 0
    with container:
        if not container.streams.video:
            ev.note = "frames not shown: the file has no video stream"
            return ev
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for t, kind, key in sorted(wants, key=lambda w: w[0]):
            try:
                img = frame_at(container, stream, t)
                if img is None:
                    failed += 1
                    continue
                if kind == "f":
                    name = f"s{key}.jpg"
                    _save(img, dest / name, FRAME_WIDTH)
                    ev.frames[key] = f"{rel}/{name}"
                    ev.size = ev.size or (img.shape[1], img.shape[0])
                else:
                    part = crop(img, thumbs[key][1])
                    if part is None:
                        failed += 1
                        continue
                    name = "t-" + "".join(c if c.isalnum() else "_" for c in key) + ".jpg"
                    _save(part, dest / name, THUMB)
                    ev.thumbs[key] = f"{rel}/{name}"
            except Exception:  # noqa: BLE001,S112 - skip this frame, keep the others
                failed += 1
    if failed:
        ev.note = f"{failed} frame(s) or thumbnail(s) could not be decoded"
    return ev

"""Face thumbnails for the report: one decoded frame per face, cropped to its mean box.

The frame is decoded with PyAV from the manifest's path at the face's best second. When
the file is gone or cannot be decoded the thumbnails are skipped with a reason; the report
never fails because of them.
"""

from __future__ import annotations

import base64
import io
import os

import numpy as np

MARGIN = 0.2  # of the box size, on each side
SIZE = 112  # longest side of a thumbnail, pixels


def _frame_at(container, stream, t: float) -> np.ndarray | None:
    """RGB frame shown at time t (seconds): the first decoded frame at or after it."""
    container.seek(max(0, int(t / stream.time_base)), stream=stream, backward=True)
    half = 0.5 / float(stream.average_rate or 25)
    last = None
    for frame in container.decode(stream):
        last = frame
        if frame.time is not None and frame.time >= t - half:
            break
    return None if last is None else last.to_ndarray(format="rgb24")


def crop(img: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    h, w = img.shape[:2]
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * MARGIN, (y2 - y1) * MARGIN
    l, t = int(max(0, x1 - mx)), int(max(0, y1 - my))
    r, b = int(min(w, np.ceil(x2 + mx))), int(min(h, np.ceil(y2 + my)))
    if r - l < 2 or b - t < 2:
        return None
    return img[t:b, l:r]


def encode_jpeg(img: np.ndarray, size: int = SIZE) -> str:
    """A data: URI of the image scaled so its longest side is `size`."""
    from PIL import Image

    im = Image.fromarray(img)
    scale = size / max(im.size)
    im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                   Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def face_thumbnails(
    path: str | None, wants: dict[int, tuple[float, tuple[float, float, float, float]]]
) -> tuple[dict[int, str], str | None]:
    """Thumbnails keyed by face id, and a one-line reason when some could not be made.

    wants: face id -> (time in seconds, mean box x1, y1, x2, y2 in full-resolution pixels)
    """
    if not wants:
        return {}, None
    if not path or not os.path.isfile(path):
        return {}, "video file no longer available"
    try:
        import av

        container = av.open(path)
    except Exception as e:  # noqa: BLE001 - any decode problem just means no thumbnails
        return {}, f"cannot open the video: {type(e).__name__}"
    out: dict[int, str] = {}
    with container:
        if not container.streams.video:
            return {}, "the file has no video stream"
        stream = container.streams.video[0]
        for face, (t, box) in sorted(wants.items(), key=lambda kv: kv[1][0]):
            try:
                img = _frame_at(container, stream, t)
                part = None if img is None else crop(img, box)
                if part is not None:
                    out[face] = encode_jpeg(part)
            except Exception:  # noqa: BLE001,S112 - skip this face, keep the others
                continue
    missing = len(wants) - len(out)
    return out, (f"{missing} thumbnail(s) could not be decoded" if missing else None)

"""Decoding one frame with PyAV at a time, and cropping a face box out of it with a margin
(used by evidence.py for frames and lane thumbnails and by pages/persons.py for crops)."""

from __future__ import annotations

import numpy as np

MARGIN = 0.2  # of the box size, on each side


def frame_at(container, stream, t: float) -> np.ndarray | None:
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

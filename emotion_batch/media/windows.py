"""Consecutive frames of short windows, downscaled in the decoder, for A/V sync's mouth motion.

The sync stage needs every frame (up to `MAX_MOTION_FPS`) of a few stretches of the video,
but only around the mouths, so frames are resized inside FFmpeg (decord's reader resizes
while decoding) and read in chunks: memory is one chunk of small frames. The frame index
comes from `probe` (`MediaInfo.frame_starts`), so the file is not indexed again for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import decord
import numpy as np

from emotion_batch.media.frames import sample_indices
from emotion_batch.media.probe import MediaInfo

MAX_MOTION_FPS = 30.0  # at 60-120 fps the change between frames is below sensor noise


class WindowReader:
    """Frames of `info.path` resized so the longest side is `max_side`, enlarged (up to full
    size) so the smallest mouth box stays >= 24 px wide. `scale` is output / full-resolution."""

    def __init__(self, info: MediaInfo, min_mouth_px: float | None = None, max_side: int = 256):
        h, w = info.height, info.width
        scale = min(1.0, max_side / max(h, w, 1))
        if min_mouth_px:
            scale = min(1.0, max(scale, 24.0 / min_mouth_px))
        self.starts = np.asarray(info.frame_starts, np.float64)
        if scale >= 0.999:
            self._vr = decord.VideoReader(info.path, ctx=decord.cpu(0), num_threads=0)
            self.scale = 1.0
        else:
            nw, nh = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
            self._vr = decord.VideoReader(info.path, ctx=decord.cpu(0), width=nw, height=nh, num_threads=0)
            self.scale = nw / w

    def frames(self, t0: float, t1: float, chunk: int = 32) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Consecutive frames (capped at MAX_MOTION_FPS) starting in [t0, t1): (times, frames) chunks."""
        idx = sample_indices(self.starts, MAX_MOTION_FPS, t0, t1)
        for i in range(0, len(idx), chunk):
            b = idx[i : i + chunk]
            yield self.starts[b], self._vr.get_batch(b.tolist()).asnumpy()

    def close(self) -> None:
        self._vr = None

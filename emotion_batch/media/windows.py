"""Consecutive frames of short windows, downscaled in the decoder, for A/V sync's mouth motion.

The sync stage needs every frame (up to `MAX_MOTION_FPS`) of a few stretches of the video,
but only around the mouths, so frames are resized inside FFmpeg (libswscale, in the same call
that converts them to RGB) and read in chunks: memory is one chunk of small frames. Frames are
turned upright like `iter_frames`' (the scale and the mouth boxes are in displayed pixels). The
frame index comes from `probe` (`MediaInfo.frame_starts`), so the file is not indexed again.

Decoded with PyAV: it opens every file `probe` accepts (decord cannot open AV1 .mkv files, fails
in its filter graph on cut recordings and ignores rotation; its frames of `no_face.mp4` are 3
frames late, from the edit list), and on the six sample videos it costs the same CPU time as
decord's resizing reader within 15 % (`benchmarks/window_decode.py`), so decord is not used.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from emotion_batch.media.container import (
    DecodeReport, decoded_frames, open_container, quarter_turns, time_origin, upright, video_stream,
)
from emotion_batch.media.frames import sample_indices
from emotion_batch.media.probe import MediaError, MediaInfo

MAX_MOTION_FPS = 30.0  # at 60-120 fps the change between frames is below sensor noise
_SAME_FRAME_S = 1e-4  # a decoded frame is the indexed one when their times agree this closely


class WindowReader:
    """Frames of `info.path` resized so the longest side is `max_side`, enlarged (up to full
    size) so the smallest mouth box stays >= 24 px wide. `scale` is output / full-resolution
    (displayed) size. `report` counts damaged packets skipped while reading windows."""

    def __init__(self, info: MediaInfo, min_mouth_px: float | None = None, max_side: int = 256):
        h, w = info.height, info.width
        scale = min(1.0, max_side / max(h, w, 1))
        if min_mouth_px:
            scale = min(1.0, max(scale, 24.0 / min_mouth_px))
        self.starts = np.asarray(info.frame_starts, np.float64)
        self.report = DecodeReport()
        if scale >= 0.999:
            self.scale, self._size = 1.0, None
        else:
            nw, nh = max(2, int(round(w * scale / 2)) * 2), max(2, int(round(h * scale / 2)) * 2)
            self.scale = nw / w
            # the decoder's picture is stored sideways when the video is rotated a quarter turn
            self._size = (nh, nw) if info.rotation % 2 else (nw, nh)
        self._scaler = _Scaler(*self._size) if self._size is not None else None
        self._container = open_container(info.path)
        self._stream = video_stream(self._container)
        if self._stream is None:
            self._container.close()
            raise MediaError("no video stream")
        self._stream.thread_type = "AUTO"
        self._tb = float(self._stream.time_base)
        self._origin = time_origin(self._container)

    def frames(self, t0: float, t1: float, chunk: int = 32) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Consecutive frames (capped at MAX_MOTION_FPS) starting in [t0, t1): (times, frames)
        chunks, frames uint8 (N, h, w, 3) RGB upright. A frame the file's data does not hold
        (damaged or cut) is missing from the output rather than an error."""
        wanted = self.starts[sample_indices(self.starts, MAX_MOTION_FPS, t0, t1)]
        if len(wanted) == 0:
            return
        c, s = self._container, self._stream
        c.seek(int(round((self._origin + wanted[0]) / self._tb)), stream=s, backward=True, any_frame=False)
        times: list[float] = []
        frames: list[np.ndarray] = []
        for frame in decoded_frames(c, s, self.report):
            if frame.pts is None:
                continue
            t = frame.pts * self._tb - self._origin
            if t > wanted[-1] + _SAME_FRAME_S:
                break
            j = min(int(np.searchsorted(wanted, t - _SAME_FRAME_S)), len(wanted) - 1)
            if abs(wanted[j] - t) > _SAME_FRAME_S:
                continue
            times.append(float(wanted[j]))
            frames.append(self._rgb(frame))
            if len(frames) == chunk:
                yield np.asarray(times, np.float64), np.stack(frames)
                times, frames = [], []
        if frames:
            yield np.asarray(times, np.float64), np.stack(frames)

    def _rgb(self, frame: av.VideoFrame) -> np.ndarray:
        if self._size is None:
            img = frame.to_ndarray(format="rgb24")
        else:
            img = self._scaler(frame)
        return upright(img, quarter_turns(frame.rotation))

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> "WindowReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Scaler:
    """Decoded frame -> RGB at (width, height) through an FFmpeg filter graph (scale, then
    format=rgb24: the path decord's resizing reader takes). Measured on the sample videos, it
    costs 35-40 % less CPU than `VideoFrame.reformat` with the same bicubic filter (e.g.
    472 frames of 640x360 H.264 to 256x144: 0.41 s vs 0.69 s CPU, decode included; decord 0.44).
    The graph is rebuilt if the stream's picture size or format changes mid-file."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self._graph = None
        self._key = None

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        key = (frame.width, frame.height, frame.format.name)
        if key != self._key:
            self._graph, self._key = self._build(frame), key
        self._graph.vpush(frame)
        return self._graph.vpull().to_ndarray()

    def _build(self, frame: av.VideoFrame):
        g = av.filter.Graph()
        src = g.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                           time_base=frame.time_base or Fraction(1, 1000))
        scale = g.add("scale", f"{self.width}:{self.height}:flags=bicubic")
        rgb = g.add("format", "rgb24")
        sink = g.add("buffersink")
        src.link_to(scale)
        scale.link_to(rgb)
        rgb.link_to(sink)
        g.configure()
        return g

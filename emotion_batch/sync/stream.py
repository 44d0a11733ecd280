"""Mouth motion from the analysis' own decode: one decode per video.

The main decode (`media.iter_frames`) hands every decoded frame to `MotionStream.frame`, the
analysed ones and the ones between them (H.264 and the like decode every frame anyway; only
the analysed ones are turned into RGB). The stream keeps the luma plane of the frames at up to
`MAX_MOTION_FPS` (FFmpeg's Y plane as it comes out of the decoder, downscaled in FFmpeg when the
picture is larger than `MAX_SIDE`), and once the faces of a chunk are detected
(`advance(track_log, done_s)`) it measures the mouth motion of the frames whose boxes are
settled and drops them. Sync then reads the samples (`finish` -> `signals.MotionSamples`)
instead of decoding windows of the video a second time.

When a frame's boxes are settled: a mouth box between two analysed detections is interpolated
between them, and a track not seen for more than 1 s has a gap (`interpolate_boxes`). So frames
are measured once the detections reach 1 s past them (`SETTLE_S`); memory is the luma planes of
about one chunk plus 1 s of frames (640x360 at 30 fps: ~0.23 MB a frame). At a gap's edge a box
is held for 0.2 s after the last detection before it, whether or not the track comes back later
(the window reader, reading after all detections, held it only at a track's very end).

Luma from the Y plane: limited-range Y differences are scaled by 255 / 219 to gray levels of
full-range luma (the RGB -> luma of `media.LUMA`, within ~1 gray level on the samples);
other pixel formats (10-bit, RGB) are converted to 8-bit gray by FFmpeg.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from emotion_batch.media import MediaInfo
from emotion_batch.media.container import quarter_turns, upright
from emotion_batch.media.windows import MAX_MOTION_FPS
from emotion_batch.sync.signals import MotionAccumulator, MotionSamples
from emotion_batch.vision.mouths import TrackLog

MAX_SIDE = 640  # luma planes kept at most this long a side (mouth boxes stay > 24 px at 1080p)
SETTLE_S = 1.2  # interpolate_boxes' longest gap (1 s) plus a margin
_LIMITED_GAIN = 255.0 / 219.0
_EIGHT_BIT_YUV = ("yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "nv12", "nv21", "gray")


class MotionStream:
    """Collects luma planes from the main decode and measures mouth motion chunk by chunk."""

    def __init__(self, info: MediaInfo, start_s: float = 0.0, max_fps: float = MAX_MOTION_FPS):
        scale = min(1.0, MAX_SIDE / max(info.width, info.height, 1))
        self._size: tuple[int, int] | None = None
        if scale < 0.999:
            nw, nh = max(2, int(round(info.width * scale / 2)) * 2), max(2, int(round(info.height * scale / 2)) * 2)
            scale = nw / info.width
            self._size = (nh, nw) if info.rotation % 2 else (nw, nh)  # the coded picture is sideways
        self.scale = scale
        self._start, self._step = start_s, 1.0 / max_fps
        self._k = 0  # next 30 Hz grid point: start_s + k / max_fps
        self._times: list[float] = []
        self._planes: list[np.ndarray] = []
        self._graph: _Resize | None = None
        self._acc: MotionAccumulator | None = None
        self.frames_kept = 0

    def frame(self, t: float, frame: av.VideoFrame) -> None:
        """A decoded frame at time t (seconds); kept when it is the first at or after the next
        grid point (the rule of `media.sample_indices`)."""
        if t < self._start + self._k * self._step - 1e-6:
            return
        self._k = int(np.floor((t - self._start + 1e-6) / self._step)) + 1
        plane, gain = self._luma(frame)
        if self._acc is None:
            self._acc = MotionAccumulator({}, self.scale, gain)
        self._times.append(t)
        self._planes.append(upright(plane, quarter_turns(frame.rotation)))
        self.frames_kept += 1

    def advance(self, log: TrackLog, done_s: float) -> None:
        """Measure the frames whose boxes are settled: detections reach `done_s`."""
        n = int(np.searchsorted(np.asarray(self._times), done_s - SETTLE_S, side="right"))
        self._measure(log, n)

    def finish(self, log: TrackLog) -> MotionSamples:
        """Measure every frame left (all detections are in) and return the samples."""
        self._measure(log, len(self._times))
        return self._acc.result() if self._acc is not None else MotionSamples({}, 1 / 25)

    def _measure(self, log: TrackLog, n: int) -> None:
        if n == 0 or self._acc is None:
            return
        self._acc.track(log.tracks(min_obs=1))
        self._acc.add(np.asarray(self._times[:n], np.float64), np.stack(self._planes[:n]))
        del self._times[:n], self._planes[:n]

    def _luma(self, frame: av.VideoFrame) -> tuple[np.ndarray, float]:
        """The frame's 8-bit luma plane at the stream's size, and the gain to gray levels."""
        if self._size is not None:
            if self._graph is None:
                self._graph = _Resize(*self._size)
            frame = self._graph(frame)
        if frame.format.name not in _EIGHT_BIT_YUV:
            frame, gain = frame.reformat(format="gray"), 1.0
        else:
            full = frame.format.name == "gray" or frame.color_range == 2  # AVCOL_RANGE_JPEG
            gain = 1.0 if full else _LIMITED_GAIN
        p = frame.planes[0]
        y = np.frombuffer(p, np.uint8).reshape(p.height, p.line_size)[:, : p.width]
        return y.copy(), gain


class _Resize:
    """Decoded frame -> the same pixel format at (width, height), bicubic (an FFmpeg filter graph
    like `media.windows._Scaler`'s, rebuilt if the stream's picture size or format changes)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self._graph, self._key = None, None

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        key = (frame.width, frame.height, frame.format.name)
        if key != self._key:
            g = av.filter.Graph()
            src = g.add_buffer(width=frame.width, height=frame.height, format=frame.format,
                               time_base=frame.time_base or Fraction(1, 1000))
            scale = g.add("scale", f"{self.width}:{self.height}:flags=bicubic")
            sink = g.add("buffersink")
            src.link_to(scale)
            scale.link_to(sink)
            g.configure()
            self._graph, self._key = g, key
        self._graph.vpush(frame)
        return self._graph.vpull()

"""What a file holds: its streams, duration, size and every video frame's container timestamp.

decord indexes the video (every frame's start and end time, so variable frame rate and 120 fps
files are exact); PyAV reads the stream layout and the audio track's placement. The frame start
times are kept in `MediaInfo.frame_starts`, so later stages (the sync windows) reuse this index
instead of building their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av
import decord
import numpy as np

from emotion_batch.errors import UserFacingError, first_line


class MediaError(UserFacingError):
    """A file can't be analysed; str() is a one-line reason a user can act on."""


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    duration_s: float  # of the video stream (last frame end)
    fps: float  # average frame rate over the file
    n_frames: int
    width: int
    height: int
    has_audio: bool
    audio_start_s: float | None = None
    audio_duration_s: float | None = None
    # start time of every indexed frame (pre-roll included, negative), float64 (N,)
    frame_starts: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def audio_span(self) -> tuple[float, float] | None:
        """(start, end) of the audio track on the container clock, when both are known."""
        if self.audio_start_s is None or self.audio_duration_s is None:
            return None
        return self.audio_start_s, self.audio_start_s + self.audio_duration_s


def open_container(path: str, stream_kind: str):
    """av.open for reading, with a one-line MediaError naming the stream we wanted."""
    try:
        return av.open(path)
    except av.error.FFmpegError as e:
        raise MediaError(f"cannot open the {stream_kind} stream: {first_line(e, 200)}") from None


def declared_video_end(container, stream) -> float | None:
    """Where the container says the video stream ends, relative to its start."""
    if stream.duration:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1e6
    return None


def _open_reader(path: str) -> decord.VideoReader:
    try:
        return decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0)
    except (RuntimeError, decord.DECORDError) as e:
        raise MediaError(f"cannot open the video stream for decoding: {first_line(e, 200)}") from None


def probe(path: str) -> MediaInfo:
    """Container facts, or MediaError with a one-line reason (empty, not a video, ...)."""
    if not os.path.isfile(path):
        raise MediaError("file not found or not a regular file")
    size = os.path.getsize(path)
    if size == 0:
        raise MediaError("empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError("file is not readable (check its permissions)")
    try:
        with av.open(path) as c:
            if not c.streams.video:
                kind = "audio-only file" if c.streams.audio else "no streams"
                raise MediaError(f"no video stream ({kind})")
            audio = c.streams.audio[0] if c.streams.audio else None
            a_start = a_dur = None
            if audio is not None:
                tb = float(audio.time_base)
                a_start = max(0.0, (audio.start_time or 0) * tb)
                if audio.duration:
                    a_dur = audio.duration * tb
                elif c.duration:
                    a_dur = max(0.0, c.duration / 1e6 - a_start)
    except av.error.FFmpegError as e:
        raise MediaError(f"not a readable media file ({first_line(e, 200)})") from None
    vr = _open_reader(path)
    n = len(vr)
    if n == 0:
        raise MediaError("video stream has no frames")
    ts = _timestamps(vr)
    keep = ts[:, 0] >= 0
    if not keep.any():
        raise MediaError("video stream has no frames with a valid timestamp")
    h, w = vr[0].shape[:2] if n else (0, 0)
    starts, ends = ts[keep, 0], ts[keep, 1]
    duration = float(max(ends[-1], starts[-1]))
    return MediaInfo(
        path=path,
        size_bytes=size,
        duration_s=duration,
        fps=float(vr.get_avg_fps()),
        n_frames=int(keep.sum()),
        width=int(w),
        height=int(h),
        has_audio=audio is not None,
        audio_start_s=a_start,
        audio_duration_s=a_dur,
        frame_starts=ts[:, 0].copy(),
    )


def _timestamps(vr: decord.VideoReader) -> np.ndarray:
    try:
        return np.asarray(vr.get_frame_timestamp(np.arange(len(vr))), dtype=np.float64)
    except (RuntimeError, decord.DECORDError) as e:
        raise MediaError(f"cannot read frame timestamps: {first_line(e, 200)}") from None

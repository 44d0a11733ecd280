"""Opening a file with PyAV, and the few facts every reader of it shares.

* `open_container`: av.open with a plain one-line `MediaError` (what is wrong with the file and
  what to do), never FFmpeg's errno number, a C++ check message or a build path.
* `video_stream`: the first real video stream; cover art in .mp3/.m4a files (an "attached
  picture" stream) is not video.
* `time_origin`: the clock origin of all times the media stage hands out: the video stream's
  start time (so the first shown frame is at 0 even in .ts/.mts files whose clock starts at
  1.4 s), or for a file without video, the audio stream's start time.
* `upright`: a decoded frame turned as a player shows it (the stream's display matrix).
* `decoded_frames`: decode a stream packet by packet, skipping packets the decoder rejects and
  stopping, not raising, where the demuxer finds no more data (a cut or damaged file); the
  caller's `DecodeReport` records how far it got.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from emotion_batch.errors import UserFacingError


class MediaError(UserFacingError):
    """A file can't be analysed; str() is a one-line reason a user can act on."""


def ffmpeg_reason(e: BaseException) -> str:
    """FFmpeg's own wording of an error, without '[Errno N]' and the file path."""
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return " ".join(str(text).split())[:200]


def open_container(path: str, timeout: float | None = None):
    """av.open for reading, or MediaError with a plain reason. `timeout`: seconds FFmpeg may
    wait for data in one read (a stalled network mount) before the read fails."""
    try:
        return av.open(path, metadata_errors="ignore", timeout=timeout)
    except av.error.InvalidDataError as e:
        raise MediaError(
            "not a readable media file: FFmpeg finds no audio or video it can read in it (if it is a recording "
            "that was cut off before it was finished, its index is missing: remux or re-export it)",
            detail=str(e),  # FFmpeg's own words, for the run's log
        ) from None
    except av.error.ExitError as e:  # FFmpeg's interrupt: the timeout passed
        raise MediaError(f"the file gave no data for {timeout:g} s (a stalled network drive or a pipe?)",
                         detail=str(e)) from None
    except av.error.FFmpegError as e:
        raise MediaError(f"cannot open the file ({ffmpeg_reason(e)})", detail=str(e)) from None


def video_stream(container):
    """The first video stream that is not a still picture (cover art), or None."""
    for s in container.streams.video:
        if not (s.disposition & av.stream.Disposition.attached_pic):
            return s
    return None


def time_origin(container) -> float:
    """Seconds on the container clock that the media stage calls 0 (see the module doc)."""
    v = video_stream(container)
    s = v if v is not None else (container.streams.audio[0] if container.streams.audio else None)
    if s is None or s.start_time is None:
        return 0.0
    return float(s.start_time * s.time_base)


def quarter_turns(rotation: float | None) -> int:
    """np.rot90's k for FFmpeg's rotation (degrees counter-clockwise; nearest quarter turn)."""
    return int(round((rotation or 0) / 90.0)) % 4


def upright(image: np.ndarray, turns: int) -> np.ndarray:
    """A (H, W, C) frame as displayed: rotated counter-clockwise by `turns` quarter turns."""
    return np.rot90(image, turns) if turns else image


@dataclass
class DecodeReport:
    """How far decoding a stream got; filled in while frames are read."""

    reached_s: float | None = None  # end of the last decoded frame (origin-relative seconds)
    bad_packets: int = 0  # packets the decoder rejected and that were skipped
    data_ended: str | None = None  # why the demuxer stopped before the stream's end, if it did

    def warning(self, kind: str, expected_end_s: float | None, tolerance_s: float = 1.0) -> str | None:
        """A one-line warning when the decode ended short of `expected_end_s` or skipped packets."""
        parts = []
        if (expected_end_s is not None and self.reached_s is not None
                and self.reached_s < expected_end_s - tolerance_s):
            parts.append(f"{kind} decoding stopped at {self.reached_s:.1f} s of {expected_end_s:.1f} s "
                         "(damaged data); analysed up to there")
        if self.bad_packets:
            parts.append(f"{self.bad_packets} damaged {kind} packet(s) skipped")
        return " | ".join(parts) or None  # probe.WARNING_SEPARATOR


def decoded_frames(container, stream, report: DecodeReport) -> Iterator:
    """Frames of `stream` in decode order. A packet the decoder rejects is skipped (counted in
    `report.bad_packets`); a demuxer error ends the stream (recorded in `report.data_ended`)."""
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:
            report.data_ended = ffmpeg_reason(e)
            packet = None  # flush what the decoder holds, then stop
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError:
            report.bad_packets += 1
            continue
        yield from frames
        if packet is None:
            return

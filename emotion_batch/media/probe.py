"""What a file holds: its streams, duration, displayed size and every video frame's timestamp.

One PyAV pass over the file's packets (demuxing only, no decoding beyond the first picture):

* every video packet's timestamp, sorted, is `MediaInfo.frame_starts` (variable frame rate and
  120 fps files are exact; pre-roll frames of edit lists have negative times and are not
  counted). Later stages (the sync windows) reuse this index instead of building their own.
* the first picture is decoded, which proves the stream decodes and gives its rotation (the
  display matrix a phone writes for a portrait recording stored sideways): `width`/`height`
  are the displayed ones, and frames are turned upright when decoded (`rotation`).
* where the data ends is compared with what the container declares, so a recording cut
  short is analysed up to where its data ends, with a warning (`MediaInfo.warnings`), instead
  of being rejected; a file with nothing decodable fails with a plain reason.
* sound that runs on past the last picture (AUDIO_TAIL_MIN_S or more) is analysed: the
  duration becomes the sound's, the seconds after the picture are voice-only rows (face_id
  -1), and `warnings` says so and which stream `duration_s` measured (`video_end_s` keeps the
  picture's end).
* a file with audio but no video (an .m4a/.mp3/.wav interview, an .mp4 without a video
  stream) is `has_video=False`: its duration is the audio's, and it becomes a voice-only
  timeline.

* the cost of a file is bounded before anything is decoded: a video stream declaring more than
  `MAX_FRAME_PIXELS` (36 Mpx: DCI 8K, 8192x4320, fits) per picture is refused with a plain
  reason (a 752 KB crafted 16000x16000 file took 236 s of face detection for 2 frames), and
  so is one whose frames come faster than `MAX_FPS` on average (decoding cost per video-second
  grows with both). The unit timeout stays the last resort.
* pictures smaller than the smallest face the detector finds (1x1, 16x16) are analysed: they
  give no-face (audio-only) rows.

All times are seconds from `container.time_origin` (the video stream's start).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import av
import numpy as np

from emotion_batch.media.container import (
    DecodeReport, MediaError, ffmpeg_reason, open_container, quarter_turns, time_origin, video_stream,
)

__all__ = ["MediaError", "MediaInfo", "TRUNCATION_TOLERANCE_S", "media_warning", "probe"]

MAX_FRAME_PIXELS = 36_000_000  # declared width x height above this: refused before decoding
MAX_FPS = 1000.0  # average frames per second above this: refused (decode cost per video-second)
PROBE_TIMEOUT_S = 120.0  # the whole packet pass; a stalled read fails after the same time
TRUNCATION_TOLERANCE_S = 1.0
# Sound this much or more past the last picture is analysed as voice-only seconds; a shorter tail
# (encoder padding) lies inside the last second's audio window (audio_window_s 2.0 around s + 0.5).
AUDIO_TAIL_MIN_S = 0.5  # data ending this much before the declared end is a truncation
WARNING_SEPARATOR = " | "  # between the warnings of one file in the manifest's one-line `warning`


@dataclass(frozen=True)
class MediaInfo:
    path: str
    size_bytes: int
    duration_s: float  # the span analysed: the picture's (last frame end); the sound's when has_video is False
    #                    or when the sound runs AUDIO_TAIL_MIN_S or more past the picture (video_end_s then set)
    fps: float  # average frame rate over the file (0 without video)
    n_frames: int
    width: int  # displayed (rotation applied); 0 without video
    height: int
    has_audio: bool
    audio_start_s: float | None = None
    audio_duration_s: float | None = None  # up to where the audio data ends
    # start time of every indexed frame (pre-roll included, negative), float64 (N,)
    frame_starts: np.ndarray | None = field(default=None, repr=False, compare=False)
    has_video: bool = True
    rotation: int = 0  # quarter turns counter-clockwise that make decoded frames upright (np.rot90 k)
    declared_duration_s: float | None = None  # what the container promised, when it says
    warnings: tuple[str, ...] = ()  # one line each, e.g. a truncated recording
    video_end_s: float | None = None  # where the picture ends, when duration_s is the sound's (longer)

    @property
    def picture_end_s(self) -> float:
        """Where the picture's frames end (duration_s unless the sound runs past it)."""
        return self.video_end_s if self.video_end_s is not None else self.duration_s

    @property
    def audio_span(self) -> tuple[float, float] | None:
        """(start, end) of the audio track on the media clock, when both are known."""
        if self.audio_start_s is None or self.audio_duration_s is None:
            return None
        return self.audio_start_s, self.audio_start_s + self.audio_duration_s


@dataclass
class _Index:
    """What the packet pass collects."""

    starts: list[float] = field(default_factory=list)  # video packet times
    durations: list[float] = field(default_factory=list)  # video packet durations (NaN: unknown)
    audio_end: float | None = None  # end of the last audio packet
    first_frame: object = None  # the first decoded picture (av.VideoFrame)
    bad_packets: int = 0
    data_ended: str | None = None  # demuxer error that ended the pass early


def probe(path: str, timeout_s: float = PROBE_TIMEOUT_S) -> MediaInfo:
    """Container facts, or MediaError with a one-line reason (empty, not a media file, a pass
    over the packets that takes longer than `timeout_s`, ...)."""
    size = _check_file(path)
    deadline = time.monotonic() + timeout_s
    with open_container(path, timeout=timeout_s) as c:
        video = video_stream(c)
        audio = c.streams.audio[0] if c.streams.audio else None
        if video is None and audio is None:
            raise MediaError("no video or audio stream in the file (nothing to analyse)")
        if video is not None:
            _check_picture_size(video)
        used = {s.index for s in (video, audio) if s is not None}
        for s in c.streams:  # read only the packets we use (the demuxer skips the rest)
            if s.index not in used:
                s.discard = av.stream.Discard.all
        origin = time_origin(c)
        idx = _scan(c, video, audio, origin=origin, deadline=deadline, timeout_s=timeout_s)
        declared = _Declared(_stream_end(video, origin), _stream_end(audio, origin), _file_end(c, origin))
        if video is None:
            return _audio_only(path, size, audio, idx, declared=declared, origin=origin)
        return _video_info(path, size, video, audio, idx, declared=declared, origin=origin)


def _check_picture_size(video) -> None:
    """Refuse a declared picture size past MAX_FRAME_PIXELS before any picture is decoded."""
    w, h = video.codec_context.width or 0, video.codec_context.height or 0
    if w * h > MAX_FRAME_PIXELS:
        raise MediaError(f"the picture is {w}x{h} ({w * h / 1e6:.0f} Mpx), above the {MAX_FRAME_PIXELS / 1e6:.0f} Mpx "
                         "this tool analyses (decoding and face detection cost grows with it); scale it down, "
                         "e.g. to 3840 px wide, and run again")


def _check_frame_rate(n_frames: int, duration: float) -> None:
    if duration > 0 and n_frames / duration > MAX_FPS:
        raise MediaError(f"{n_frames} frames in {duration:.2f} s ({n_frames / duration:.0f} per second), above the "
                         f"{MAX_FPS:.0f} per second this tool decodes; re-encode it at a normal frame rate")


def _check_file(path: str) -> int:
    if not os.path.isfile(path):
        raise MediaError("file not found or not a regular file")
    size = os.path.getsize(path)
    if size == 0:
        raise MediaError("empty file (0 bytes)")
    if not os.access(path, os.R_OK):
        raise MediaError("file is not readable (check its permissions)")
    return size


def _scan(c, video, audio, *, origin: float, deadline: float, timeout_s: float) -> _Index:
    """One demux pass: video packet times, where the audio's data lies, the first picture.
    Raises MediaError past `deadline` (time.monotonic)."""
    idx = _Index()
    streams = [s for s in (video, audio) if s is not None]
    if video is not None:
        video.thread_type = "NONE"  # one picture: no frame threads to spin up
    packets = c.demux(streams)
    while True:
        try:
            pkt = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as e:
            idx.data_ended = ffmpeg_reason(e)
            break
        if time.monotonic() > deadline:
            raise MediaError(f"reading the file's index took longer than {timeout_s:g} s (probe time limit); "
                             "the file is unusually large or its storage is stalled")
        if pkt.size == 0:
            continue
        tb = float(pkt.time_base)
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        if video is not None and pkt.stream.index == video.index:
            if ts is not None:
                idx.starts.append(ts * tb - origin)
                idx.durations.append(pkt.duration * tb if pkt.duration else np.nan)
            if idx.first_frame is None:
                idx.first_frame = _first_picture(video, pkt, idx)
        elif ts is not None:
            end = (ts + (pkt.duration or 0)) * tb - origin
            idx.audio_end = end if idx.audio_end is None else max(idx.audio_end, end)
    if video is not None and idx.first_frame is None:
        idx.first_frame = _first_picture(video, None, idx)  # a picture the decoder still holds
    return idx


def _first_picture(video, pkt, idx: _Index):
    try:
        frames = video.decode(pkt)
    except av.error.FFmpegError:
        idx.bad_packets += 1
        return None
    return frames[0] if frames else None


@dataclass(frozen=True)
class _Declared:
    """Where the container says the streams end (origin-relative seconds), when it says."""

    video: float | None  # the stream's own duration (MP4/MOV have one per stream)
    audio: float | None
    file: float | None  # the whole file's (all Matroska/WebM has)

    def warnings(self, video_end: float | None, audio_end: float | None) -> list[str]:
        """A 'truncated' line per stream whose data ends well before its declared end; for
        streams without their own duration, the data's end is checked against the file's."""
        out = [w for w in (_truncation("video", video_end, self.video), _truncation("audio", audio_end, self.audio)) if w]
        if not out and self.video is None and self.audio is None:
            ends = [e for e in (video_end, audio_end) if e is not None]
            if ends and (w := _truncation("the file's", max(ends), self.file)):
                out.append(w)
        return out


def _stream_end(stream, origin: float) -> float | None:
    if stream is None or not stream.duration:
        return None
    start = float((stream.start_time or 0) * stream.time_base) - origin
    return start + float(stream.duration * stream.time_base)


def _file_end(c, origin: float) -> float | None:
    return ((c.start_time or 0) + c.duration) / 1e6 - origin if c.duration else None


def _truncation(whose: str, data_end: float | None, declared: float | None) -> str | None:
    """'truncated: video data ends at 13.5 s of 19.7 s declared; ...' when it ends that early."""
    if data_end is None or declared is None or data_end >= declared - TRUNCATION_TOLERANCE_S:
        return None
    return (f"truncated: {whose} data ends at {data_end:.1f} s of {declared:.1f} s declared; "
            "analysed up to there")


def _video_info(path: str, size: int, video, audio, idx: _Index, *, declared: _Declared, origin: float) -> MediaInfo:
    if not idx.starts:
        raise MediaError("the video stream holds no frames (the file is empty or its data is missing)")
    if idx.first_frame is None:
        codec = video.codec_context.name if video.codec_context else "unknown"
        raise MediaError(f"the video stream ({codec}) holds no picture FFmpeg can decode: the file is damaged, "
                         "or its codec is not supported by this FFmpeg build")
    starts = np.sort(np.asarray(idx.starts, np.float64), kind="stable")
    keep = starts >= 0
    if not keep.any():
        raise MediaError("the video stream has no frame with a valid timestamp")
    duration = float(starts[keep][-1] + _frame_period(video, idx))
    _check_frame_rate(int(keep.sum()), duration)
    frame = idx.first_frame
    turns = quarter_turns(frame.rotation)
    w, h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    rate = video.average_rate or video.guessed_rate
    fps = float(rate) if rate else 1.0 / _frame_period(video, idx)
    a_start, a_dur = _audio_span(audio, idx, declared.audio, origin)
    warnings = declared.warnings(duration, None if a_dur is None else a_start + a_dur)
    if audio is not None and a_dur is None:
        warnings.append("the audio stream holds no data; analysed without sound")
    if idx.bad_packets:
        warnings.append(f"{idx.bad_packets} damaged video packet(s) before the first picture skipped")
    if idx.data_ended and not any(w.startswith("truncated") for w in warnings):
        warnings.append(f"reading stopped before the end of the file ({idx.data_ended}); analysed up to there")
    video_end = None
    if a_dur is not None and a_start + a_dur - duration >= AUDIO_TAIL_MIN_S:
        video_end, duration = duration, a_start + a_dur
        warnings.append(f"the sound runs {duration - video_end:.1f} s past the end of the picture ({video_end:.1f} s): "
                        f"analysed to {duration:.1f} s, the seconds after the picture as voice-only rows; "
                        "duration_s is the sound's")
    return MediaInfo(
        path=path, size_bytes=size, duration_s=duration, fps=fps, n_frames=int(keep.sum()), video_end_s=video_end,
        width=int(w), height=int(h), has_audio=a_dur is not None, audio_start_s=a_start, audio_duration_s=a_dur,
        frame_starts=starts, has_video=True, rotation=turns,
        declared_duration_s=declared.video if declared.video is not None else declared.file,
        warnings=tuple(warnings),
    )


def _frame_period(video, idx: _Index) -> float:
    """How long the last frame is shown: one period of the stream's base frame rate (FFmpeg's
    r_frame_rate, as decord's index had it, so durations are unchanged from it), else the
    packets' own durations, else the median gap between frames."""
    base = video.base_rate
    if base and 0 < float(base) <= 240:
        return 1.0 / float(base)
    known = np.asarray(idx.durations, np.float64)
    known = known[np.isfinite(known) & (known > 0)]
    if len(known):
        return float(np.median(known))
    gaps = np.diff(np.sort(np.asarray(idx.starts, np.float64)))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else 0.0


def _audio_span(audio, idx: _Index, declared_end: float | None, origin: float) -> tuple[float | None, float | None]:
    """(start, duration) of the audio track: from the stream's start time (clipped at 0, the
    video's first frame) to its declared end, or to where its data ends when the container
    declares no end or the data stops well short of it (a cut track). Packet times include the
    encoder's priming samples, so a whole track's data "ends" a few ms before its declared end."""
    if audio is None or idx.audio_end is None:
        return None, None
    start = max(0.0, float((audio.start_time or 0) * audio.time_base) - origin)
    cut = declared_end is None or idx.audio_end < declared_end - TRUNCATION_TOLERANCE_S
    end = idx.audio_end if cut else declared_end
    return start, max(0.0, end - start)


def _audio_only(path: str, size: int, audio, idx: _Index, *, declared: _Declared, origin: float) -> MediaInfo:
    a_start, a_dur = _audio_span(audio, idx, declared.audio, origin)
    if a_dur is None or a_dur <= 0:
        raise MediaError("the audio stream holds no data (the file is empty or damaged)")
    end = a_start + a_dur
    return MediaInfo(
        path=path, size_bytes=size, duration_s=end, fps=0.0, n_frames=0, width=0, height=0,
        has_audio=True, audio_start_s=a_start, audio_duration_s=a_dur,
        frame_starts=np.zeros(0, np.float64), has_video=False,
        declared_duration_s=declared.audio if declared.audio is not None else declared.file,
        warnings=tuple(declared.warnings(None, end)),
    )


def media_warning(info: MediaInfo, decoded: DecodeReport | None = None, end_s: float | None = None) -> str | None:
    """The manifest's `warning`: what probe found (a truncated recording, ...) and what decoding
    the frames up to `end_s` ran into, in one line (WARNING_SEPARATOR between them); None when
    the file was read whole."""
    parts = list(info.warnings)
    if decoded is not None and info.has_video:
        expected = info.picture_end_s if end_s is None else min(end_s, info.picture_end_s)
        if (w := decoded.warning("video", expected)) is not None:
            parts.append(w)
    return WARNING_SEPARATOR.join(parts) or None

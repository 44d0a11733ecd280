"""Frames at the analysis rate, streamed in chunks, upright, each with its container timestamp."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from emotion_batch.media.container import (
    DecodeReport, MediaError, decoded_frames, open_container, quarter_turns, time_origin, upright, video_stream,
)

# ITU-R 601 luma weights for RGB, as cv2.COLOR_RGB2GRAY (what fer and FER2013 pipelines use).
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class FrameChunk:
    times: np.ndarray  # float64 (N,) container timestamps in seconds
    frames: np.ndarray  # uint8 (N, H, W, 3) RGB, full resolution


def sample_indices(starts: np.ndarray, fps: float, t0: float, t1: float) -> np.ndarray:
    """Indices of the first frame starting at or after each grid time t0, t0 + 1/fps, ...,
    keeping those that start before t1; deduplicated when the video is slower than `fps`.
    Frames never come from before t0, so adjacent time segments never share a frame."""
    valid = np.flatnonzero(starts >= 0)
    if len(valid) == 0 or t1 <= t0:
        return np.zeros(0, dtype=np.int64)
    vstarts = starts[valid]
    grid = t0 + np.arange(int(np.ceil((t1 - t0) * fps - 1e-9))) / fps
    pos = np.searchsorted(vstarts, grid - 1e-6, side="left")
    idx = np.unique(valid[pos[pos < len(valid)]])
    return idx[starts[idx] < t1]


def iter_frames(
    path: str, fps: float, chunk_frames: int = 32, *, start_s: float = 0.0, end_s: float | None = None,
    report: DecodeReport | None = None, tap: Callable[[float, object], None] | None = None,
) -> Iterator[FrameChunk]:
    """Frames sampled at `fps` in [start_s, end_s), `chunk_frames` at a time, upright.

    The selection rule is `sample_indices`': for each grid time start_s + k / fps, the first
    frame starting at or after it (pre-roll frames with negative times skipped, repeats
    dropped), applied while decoding in order. Only one chunk of decoded frames is alive at a
    time, and frames that are not sampled are never converted to RGB. Each frame is turned as
    its display matrix says (a portrait phone recording stored sideways comes out portrait).

    A cut or damaged stream is not an error: decoding skips packets the decoder rejects and
    stops where the data ends, yielding what it holds; `report` (a `DecodeReport`) records how
    far it got, for the caller's warning.

    `tap(t, frame)` sees every decoded frame (PyAV `VideoFrame`, not turned upright) starting in
    [start_s, end_s), analysed or not, before the chunk holding it is yielded: A/V sync's mouth
    motion comes from this same decode (`sync.stream.MotionStream`).

    Decoded with PyAV, one frame at a time: decord's reader pushes packets to its decoder
    thread without waiting for frames to come out, so the frames it decodes ahead pile up in
    an unbounded queue. Measured: decoding 5 fps of a 1080p sample peaked 337 MB above the
    start with decord and 50 MB with PyAV (also faster, 0.37 vs 0.57 s), and a 30-minute
    video analysed with decord peaked 54 % above a 3-minute one (benchmarks/memory.py).
    """
    report = report if report is not None else DecodeReport()
    with open_container(path) as container:
        stream = video_stream(container)
        if stream is None:
            raise MediaError("no video stream")
        stream.thread_type = "AUTO"  # frame + slice threads inside FFmpeg
        tb = float(stream.time_base)
        origin = time_origin(container)  # times are relative to the stream start
        stop = end_s if end_s is not None else float("inf")
        if start_s > 0.5:
            container.seek(int((origin + start_s - 0.5) / tb), stream=stream, backward=True, any_frame=False)
        k = 0  # next grid point: start_s + k / fps
        times: list[float] = []
        frames: list[np.ndarray] = []
        for frame in decoded_frames(container, stream, report):
            if frame.pts is None:
                continue
            t = frame.pts * tb - origin
            report.reached_s = t + (frame.duration or 0) * tb
            if t >= stop:
                break
            if tap is not None and t >= max(0.0, start_s):
                tap(t, frame)
            if t < 0 or t < start_s + k / fps - 1e-6:
                continue
            times.append(t)
            frames.append(upright(frame.to_ndarray(format="rgb24"), quarter_turns(frame.rotation)))
            k = int(np.floor((t - start_s + 1e-6) * fps)) + 1  # grid points this frame served
            if len(frames) == chunk_frames:
                yield FrameChunk(np.asarray(times, np.float64), np.stack(frames))
                times, frames = [], []
        if frames:
            yield FrameChunk(np.asarray(times, np.float64), np.stack(frames))

"""Hooks: watch a video's analysis step by step, in the manner of pyannote's pipeline hooks.

A hook is any callable passed per call, `analyzer(path, hook=...)`, and called after every
step (see the table in analyzer.py) as

    hook(step: str, artifact, *, video: VideoRef, total: float | None = None,
         completed: float | None = None) -> None

`video` says which video (or segment of one) it watches; `completed`/`total` (seconds of the
span, from its start) come with the "faces" step of every chunk of frames. A hook that raises
fails that video (the analyzer's one-line error), never the batch.

Ready-made: `ProgressHook` (seconds done of each video, for a progress bar), `TimingHook` (wall
seconds per step and video) and `Hooks` (several as one). Nothing here imports torch: the run
layer's driver uses these without loading the models.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

FINAL_STEP = "explain"  # the last step of a video that was analysed to its end


@dataclass(frozen=True)
class VideoRef:
    """Which video a hook call is about: its id and path, and the span being analysed
    ([start_s, end_s) of the file; end_s None: to its end)."""

    video_id: str
    path: str
    start_s: float = 0.0
    end_s: float | None = None

    def span_s(self, duration_s: float) -> float:
        """Seconds analysed of a file that lasts `duration_s`."""
        end = duration_s if self.end_s is None else min(self.end_s, duration_s)
        return max(0.0, end - self.start_s)


class Hook(Protocol):
    def __call__(self, step: str, artifact: Any, *, video: VideoRef, total: float | None = None,
                 completed: float | None = None) -> None: ...


class ProgressHook:
    """Calls `callback(video, completed, total)` (seconds of the video's span) as the analysis
    goes: 0 at the probe, after every chunk of frames, and `total` when the final step is
    done. A video that fails stops short of its total."""

    def __init__(self, callback: Callable[[VideoRef, float, float], None]):
        self.callback = callback
        self._total: dict[VideoRef, float] = {}

    def __call__(self, step: str, artifact: Any, *, video: VideoRef, total: float | None = None,
                 completed: float | None = None) -> None:
        if step == "probe":  # artifact: the file's MediaInfo
            self._total[video] = video.span_s(artifact.duration_s)
            self.callback(video, 0.0, self._total[video])
        elif completed is not None:
            self._total[video] = total if total is not None else self._total.get(video, completed)
            self.callback(video, completed, self._total[video])
        elif step == FINAL_STEP and video in self._total:
            whole = self._total.pop(video)
            self.callback(video, whole, whole)


class TimingHook:
    """Wall seconds per step, summed per video id (the segments of one video add up): the
    time from the previous step's report for the same video (or segment) to this one's.
    The probe, the first report, counts 0 (a runner that planned the batch passes the
    probe in, and the analyzer's own timings hold it as "decode")."""

    def __init__(self) -> None:
        self.seconds: dict[str, dict[str, float]] = {}  # video_id -> step -> wall seconds
        self._last: dict[VideoRef, float] = {}

    def __call__(self, step: str, artifact: Any, *, video: VideoRef, total: float | None = None,
                 completed: float | None = None) -> None:
        now = time.perf_counter()
        spent = now - self._last.get(video, now)
        per_step = self.seconds.setdefault(video.video_id, {})
        per_step[step] = per_step.get(step, 0.0) + spent
        self._last[video] = now
        if step == FINAL_STEP:
            del self._last[video]


class Hooks:
    """Several hooks as one, called in order (None entries are left out)."""

    def __init__(self, *hooks: Hook | None):
        self.hooks = tuple(h for h in hooks if h is not None)

    def __call__(self, step: str, artifact: Any, *, video: VideoRef, total: float | None = None,
                 completed: float | None = None) -> None:
        for h in self.hooks:
            h(step, artifact, video=video, total=total, completed=completed)

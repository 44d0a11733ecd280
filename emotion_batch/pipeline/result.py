"""What analysing one video (or one time segment of it) produces.

A `VideoResult` is frozen: the analyzer builds it whole (tables, warning, tracks, timings), and
whoever adds to it afterwards makes a new one with `dataclasses.replace` (a new `timings` dict
included), so a result that was handed on never changes under its reader."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pyarrow as pa

from emotion_batch.media import MediaInfo


class Status(StrEnum):
    """A video's outcome. A str (StrEnum): it compares equal to, formats as and is written to
    Arrow and the manifest as its value ("ok", "failed", "duplicate")."""

    OK = "ok"
    FAILED = "failed"  # with a one-line error
    DUPLICATE = "duplicate"  # same content as a file analysed under another path (not analysed again)


@dataclass(frozen=True)
class VideoResult:
    video_id: str
    path: str
    status: Status
    error: str | None = None
    info: MediaInfo | None = None
    timeline: pa.Table | None = None  # TIMELINE_SCHEMA
    attributions: pa.Table | None = None  # ATTRIBUTION_SCHEMA
    faces_found: int = 0
    face_seconds: int = 0
    av_offset_s: float | None = None
    av_confidence: float | None = None
    av_method: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # wall seconds per stage, and "total"
    tracks: pa.Table | None = None  # TRACK_SCHEMA: per face track its embedding (identity; None when off)
    warning: str | None = None  # one line: analysed, but not all of the file (truncated, damaged)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", Status(self.status))  # "ok" from older callers reads as Status.OK

    @property
    def ok(self) -> bool:
        return self.status == Status.OK

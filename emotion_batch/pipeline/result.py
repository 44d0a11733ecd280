"""What analysing one video (or one time segment of it) produces."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from emotion_batch.media import MediaInfo


@dataclass
class VideoResult:
    video_id: str
    path: str
    status: str  # ok | failed
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

    @property
    def ok(self) -> bool:
        return self.status == "ok"

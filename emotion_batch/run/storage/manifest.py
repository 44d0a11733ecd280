"""The manifest row of one video (the `videos/` table), as a typed record.

Its fields are exactly MANIFEST_SCHEMA's columns, in order (a test checks it). The local
runner, the Ray layer and the CLI summary all pass `ManifestRow`s; it becomes Arrow only when
it is written (`to_arrow`) and reads itself back from storage (`ManifestRow.read`). The
recorder (run/record.py: `manifest_row`) makes the row of an analysis result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields

import pyarrow as pa

from emotion_batch.schemas import MANIFEST_SCHEMA, STAGES


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class ManifestRow:
    video_id: str
    path: str
    size_bytes: int | None
    status: str  # ok | failed | duplicate
    error: str | None  # one line, None when ok
    warning: str | None  # one line when analysed but not whole (truncated, damaged), else None
    duration_s: float | None
    fps: float | None
    n_frames: int | None
    width: int | None
    height: int | None
    has_video: bool | None
    has_audio: bool | None
    faces_found: int | None  # distinct face tracks
    face_seconds: int | None  # timeline rows with a face
    av_offset_s: float | None
    av_confidence: float | None
    av_method: str | None
    model_version: str
    config_hash: str
    config_json: str | None
    schema_version: str
    duplicate_of: str | None = None  # status duplicate: the path whose results this content has
    t_decode: float | None = None
    t_detect: float | None = None
    t_align: float | None = None
    t_audio: float | None = None
    t_sync: float | None = None
    t_models: float | None = None
    t_explain: float | None = None
    t_write: float | None = None
    t_total: float | None = None
    worker: str | None = None
    device: str | None = None
    started_at: str | None = None  # ISO 8601 UTC
    finished_at: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def stage_seconds(self) -> dict[str, float | None]:
        return {s: getattr(self, f"t_{s}") for s in STAGES}

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pylist([asdict(self)], schema=MANIFEST_SCHEMA)

    @classmethod
    def read(cls, store, video_id: str) -> "ManifestRow | None":
        """The video's row as written on storage (`store`: a ResultStore), None when there is
        no readable one."""
        try:
            row = store.read("videos", video_id).to_pylist()[0]
        except (OSError, IndexError, pa.ArrowInvalid):
            return None
        return cls(**{f.name: row[f.name] for f in fields(cls)})

"""The manifest row of one video (the `videos/` table), as a typed record.

Its fields are exactly MANIFEST_SCHEMA's columns, in order (a test checks it). The local
runner, the Ray layer and the CLI summary all pass `ManifestRow`s; it becomes Arrow only when
it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import pyarrow as pa

from emotion_batch.errors import plain_message
from emotion_batch.pipeline.result import VideoResult
from emotion_batch.schemas import MANIFEST_SCHEMA, SCHEMA_VERSION, STAGES

if TYPE_CHECKING:
    from emotion_batch.run.context import RunContext


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
    def from_result(cls, result: VideoResult, *, item=None, ctx: RunContext, started_at: str,
                    write_s: float = 0.0) -> "ManifestRow":
        """The row for `result` (`item`: the plan's WorkItem, whose probe stands in when the
        result has none, may be None); `write_s`: seconds spent writing its tables."""
        info = result.info or (item.info if item is not None else None)
        video = info is not None and info.has_video
        size_bytes = item.size_bytes if item is not None else None
        if size_bytes is None and os.path.exists(result.path):
            size_bytes = os.path.getsize(result.path)
        timings = dict(result.timings)
        timings["write"] = timings.get("write", 0.0) + write_s
        return cls(
            video_id=result.video_id,
            path=result.path,
            size_bytes=size_bytes,
            status=str(getattr(result.status, "value", result.status)),
            error=plain_message(result.error) if result.error else None,  # never technical text
            warning=result.warning,
            duration_s=info.duration_s if info else None,
            fps=info.fps if video else None,
            n_frames=info.n_frames if video else None,
            width=info.width if video else None,
            height=info.height if video else None,
            has_video=info.has_video if info else None,
            has_audio=info.has_audio if info else None,
            faces_found=result.faces_found if result.ok else None,
            face_seconds=result.face_seconds if result.ok else None,
            av_offset_s=result.av_offset_s,
            av_confidence=result.av_confidence,
            av_method=result.av_method,
            model_version=ctx.model_version,
            config_hash=ctx.config_hash,
            config_json=json.dumps(ctx.config.to_dict(), sort_keys=True),
            schema_version=SCHEMA_VERSION,
            duplicate_of=item.duplicate_of if item is not None and result.status == "duplicate" else None,
            **{f"t_{s}": timings.get(s) for s in STAGES},
            t_total=timings.get("total"),
            worker=f"{socket.gethostname()}:{os.getpid()}",
            device=ctx.device,
            started_at=started_at,
            finished_at=now_utc(),
        )

    @classmethod
    def read(cls, store, video_id: str) -> "ManifestRow | None":
        """The video's row as written on storage (`store`: a ResultStore), None when there is
        no readable one."""
        try:
            row = store.read("videos", video_id).to_pylist()[0]
        except (OSError, IndexError, pa.ArrowInvalid):
            return None
        return cls(**{f.name: row[f.name] for f in fields(cls)})

"""The recorder both engines share: results to Parquet, one manifest row per file, the summary.

`record(ctx, result, item)` writes a video's tables and then its manifest row (last: its
presence means "this video is finished") and drops the video's claim. The local runner and the
Ray actors call it for every analysed video, the planners (`decide.py`) for what is known before
decoding (`record_known`: unreadable files and duplicates). A write that fails raises
`OutputError` (storage/output.py): the run stops at once with one line.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field

from emotion_batch.errors import plain_message
from emotion_batch.identity.collection import drop_tracks, write_tracks
from emotion_batch.pipeline.result import VideoResult
from emotion_batch.run.context import RunContext
from emotion_batch.run.decide import dup_id
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.storage.claims import drop_claim
from emotion_batch.run.storage.manifest import ManifestRow, now_utc
from emotion_batch.run.storage.output import write_failure
from emotion_batch.schemas import SCHEMA_VERSION, STAGES

log = logging.getLogger(__name__)


def record(ctx: RunContext, result: VideoResult, item: WorkItem | None = None, *,
           started_at: str | None = None) -> ManifestRow:
    """Write the video's tables, then its manifest row (last: it marks the video done).
    Raises OutputError when the results cannot be written."""
    store = ctx.store
    t0 = time.perf_counter()
    try:
        if result.ok:
            store.write("timelines", result.video_id, result.timeline, ctx.model_version)
            if result.attributions is not None:
                store.write("attributions", result.video_id, result.attributions, ctx.model_version)
            if result.tracks is not None:  # identity: persons are given after the run's units
                write_tracks(store.fs, store.root, result.video_id, result.tracks)
            else:  # --identity off: no person of an earlier analysis may stay joined to these rows
                drop_tracks(store.fs, store.root, result.video_id)
        row = manifest_row(result, item=item, ctx=ctx, started_at=started_at or now_utc(),
                           write_s=time.perf_counter() - t0)
        if result.status != "duplicate":
            store.delete("videos", dup_id(result.path))  # it was a duplicate once; no longer
        store.write("videos", result.video_id, row.to_arrow(), ctx.model_version)
    except OSError as e:
        raise write_failure(e, store.root_uri) from e
    drop_claim(store.fs, store.root, result.video_id)
    return row


def manifest_row(result: VideoResult, *, item: WorkItem | None = None, ctx: RunContext, started_at: str,
                 write_s: float = 0.0) -> ManifestRow:
    """The row for `result` (`item`: the plan's WorkItem, whose probe stands in when the
    result has none, may be None); `write_s`: seconds spent writing its tables."""
    info = result.info or (item.info if item is not None else None)
    video = info is not None and info.has_video
    size_bytes = item.size_bytes if item is not None else None
    if size_bytes is None and os.path.exists(result.path):
        size_bytes = os.path.getsize(result.path)
    timings = dict(result.timings)
    timings["write"] = timings.get("write", 0.0) + write_s
    return ManifestRow(
        video_id=result.video_id,
        path=result.path,
        size_bytes=size_bytes,
        status=str(result.status),  # a Status (StrEnum): its plain string
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
        config_json=json.dumps(ctx.config.to_flat(), sort_keys=True),  # the option names (flat; stable keys)
        schema_version=SCHEMA_VERSION,
        duplicate_of=item.duplicate_of if item is not None and result.status == "duplicate" else None,
        **{f"t_{s}": timings.get(s) for s in STAGES},
        t_total=timings.get("total"),
        worker=f"{socket.gethostname()}:{os.getpid()}",
        device=ctx.device,
        started_at=started_at,
        finished_at=now_utc(),
    )


def record_known(ctx: RunContext, items: list[WorkItem]) -> list[ManifestRow]:
    """Manifest rows for what is known before decoding: `failed` (item.error) or `duplicate`
    (item.duplicate_of)."""
    rows = []
    for item in items:
        if item.duplicate_of:
            res = VideoResult(dup_id(item.path), item.path, "duplicate", None, item.info)
        else:
            res = VideoResult(item.video_id, item.path, "failed", item.error)
        rows.append(record(ctx.on("none"), res, item))
    return rows


def settle_undelivered(ctx: RunContext, awaited) -> tuple[ManifestRow, bool]:
    """The row of a video planned for analysis whose result never reached the driver
    (`distributed.ledger.Awaited`): (the row its worker wrote, True) when the ledger saw it
    written, else (a failed row, False), so that it is neither dropped nor mistaken for done."""
    if awaited.written:
        row = ManifestRow.read(ctx.store, awaited.video_id)
        if row is not None:
            return row, True
    error = f"worker lost while analysing {awaited.path}; no result came back: run again to retry it"
    item = WorkItem(awaited.path, awaited.video_id, awaited.size_bytes, None, error)
    return record_known(ctx, [item])[0], False


@dataclass
class BatchSummary:
    """What a run did, for the console, small however many videos: every row that is not ok,
    the first `keep_ok` ok rows, and running totals for the rest."""

    rows: list[ManifestRow] = field(default_factory=list)  # manifest rows written by this run (see above)
    skipped: int = 0  # already done
    busy: int = 0  # held by another live run into the same results
    wall_s: float = 0.0
    keep_ok: int = 200
    n_ok: int = 0
    video_seconds: float = 0.0  # of the videos analysed ok
    stages: dict = field(default_factory=lambda: {s: 0.0 for s in STAGES})

    def add(self, row: ManifestRow) -> None:
        if row.ok:
            self.n_ok += 1
            self.video_seconds += row.duration_s or 0.0
        if not row.ok or self.n_ok <= self.keep_ok:
            self.rows.append(row)
        for s in STAGES:
            self.stages[s] += getattr(row, f"t_{s}") or 0.0

    @property
    def failed(self) -> list[ManifestRow]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def duplicates(self) -> list[ManifestRow]:
        return [r for r in self.rows if r.status == "duplicate"]

    def stage_totals(self) -> dict[str, float]:
        return dict(self.stages)

    def note(self, row: ManifestRow, say) -> None:
        """Add the row and say what a user must hear about it (a failure, a duplicate, a warning)."""
        self.add(row)
        if row.status == "duplicate":
            say(f"duplicate {row.path}: same content as {row.duplicate_of} (analysed once)")
        elif not row.ok:
            say(f"FAILED {row.path}: {row.error}")
            log.warning("FAILED %s: %s", row.path, row.error)
        elif row.warning:
            say(f"WARNING {row.path}: {row.warning}")
            log.warning("WARNING %s: %s", row.path, row.warning)

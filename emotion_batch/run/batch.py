"""A batch of videos: record results, summarise, and the local (no Ray) runner.

Shared by the local runner below and the Ray layer (`distributed.py`): both turn a
`VideoResult` into Parquet files with `record_result`, which writes the manifest row last
so that its presence means "this video is finished", then drops the video's claim. A write
that fails raises `OutputError` (output.py): the run stops at once with one line.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field

import pyarrow as pa
from tqdm import tqdm

from emotion_batch.config import RunConfig
from emotion_batch.identity.collection import drop_tracks, write_tracks
from emotion_batch.pipeline import ProgressHook, VideoResult
from emotion_batch.run.bar import set_progress, status_text, videos_bar
from emotion_batch.run.claims import drop_claim
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.ledger import Awaited
from emotion_batch.run.manifest import ManifestRow, now_utc
from emotion_batch.run.output import write_failure
from emotion_batch.run.persons import give_persons
from emotion_batch.run.plan import Plan, dup_id, plan
from emotion_batch.run.store import ResultStore
from emotion_batch.schemas import STAGES

log = logging.getLogger(__name__)


def record_result(
    store: ResultStore, result: VideoResult, item: WorkItem | None, config: RunConfig, model_version: str,
    device: str, started_at: str,
) -> ManifestRow:
    """Write the video's tables, then its manifest row (last: it marks the video done).
    Raises OutputError when the results cannot be written."""
    t0 = time.perf_counter()
    try:
        if result.ok:
            store.write("timelines", result.video_id, result.timeline, model_version)
            if result.attributions is not None:
                store.write("attributions", result.video_id, result.attributions, model_version)
            if result.tracks is not None:  # identity (issue 24): persons are given after the run's units
                write_tracks(store.fs, store.root, result.video_id, result.tracks)
            else:  # --identity off: no person of an earlier analysis may stay joined to these rows
                drop_tracks(store.fs, store.root, result.video_id)
        write_s = result.timings.get("write", 0.0) + time.perf_counter() - t0
        result = dataclasses.replace(result, timings={**result.timings, "write": write_s})  # results are frozen
        row = ManifestRow.from_result(result, item.size_bytes if item else None, item.info if item else None,
                                      config, model_version, device, started_at)
        if result.status == "duplicate":
            row.duplicate_of = item.duplicate_of
        else:
            store.delete("videos", dup_id(result.path))  # it was a duplicate once; no longer
        store.write("videos", result.video_id, row.to_arrow(), model_version)
    except OSError as e:
        raise write_failure(e, store.root_uri) from e
    drop_claim(store.fs, store.root, result.video_id)
    return row


@dataclass
class BatchSummary:
    rows: list[ManifestRow] = field(default_factory=list)  # manifest rows written by this run
    skipped: int = 0
    busy: int = 0  # held by another live run into the same results
    wall_s: float = 0.0

    @property
    def failed(self) -> list[ManifestRow]:
        return [r for r in self.rows if r.status == "failed"]

    @property
    def duplicates(self) -> list[ManifestRow]:
        return [r for r in self.rows if r.status == "duplicate"]

    @property
    def video_seconds(self) -> float:
        return sum(r.duration_s or 0.0 for r in self.rows if r.ok)

    def stage_totals(self) -> dict[str, float]:
        return {s: sum(getattr(r, f"t_{s}") or 0.0 for r in self.rows) for s in STAGES}


def record_unreadable(store: ResultStore, items: list[WorkItem], config: RunConfig,
                      model_version: str) -> list[ManifestRow]:
    """Manifest rows for what is known before decoding: `failed` (item.error) or `duplicate`."""
    rows = []
    for item in items:
        if item.duplicate_of:
            res = VideoResult(dup_id(item.path), item.path, "duplicate", None, item.info)
        else:
            res = VideoResult(item.video_id, item.path, "failed", item.error)
        rows.append(record_result(store, res, item, config, model_version, "none", now_utc()))
    return rows


def stored_row(store: ResultStore, video_id: str) -> ManifestRow | None:
    """The video's manifest row on storage, if there is a readable one."""
    try:
        row = store.read("videos", video_id).to_pylist()[0]
    except (OSError, IndexError, pa.ArrowInvalid):
        return None
    return ManifestRow(**{f.name: row[f.name] for f in dataclasses.fields(ManifestRow)})


def settle_undelivered(store: ResultStore, awaited: Awaited, config: RunConfig,
                       model_version: str) -> tuple[ManifestRow, bool]:
    """The row of a video planned for analysis whose result never reached the driver:
    (the row its worker wrote, True) when the ledger saw it written, else (a failed row,
    False) so that it is neither dropped silently nor mistaken for done."""
    if awaited.written:
        row = stored_row(store, awaited.video_id)
        if row is not None:
            return row, True
    error = f"worker lost while analysing {awaited.path}; no result came back: run again to retry it"
    item = WorkItem(awaited.path, awaited.video_id, awaited.size_bytes, None, error)
    return record_unreadable(store, [item], config, model_version)[0], False


def record_planned(store: ResultStore, p: Plan, config: RunConfig, model_version: str, summary: BatchSummary,
                   echo=print) -> None:
    """Rows for the plan's unreadable files and duplicates; say what is skipped and why."""
    for row in record_unreadable(store, p.unreadable + p.duplicates, config, model_version):
        if row.status == "failed":
            echo(f"FAILED {row.path}: {row.error}")
            log.warning("FAILED %s: %s", row.path, row.error)
        else:
            echo(f"duplicate {row.path}: same content as {row.duplicate_of} (analysed once)")
        summary.rows.append(row)
    for item, claim in p.busy:
        echo(f"skipped {item.path}: another run is analysing it ({claim.describe()})")
    summary.busy += len(p.busy)


def run_local(
    paths: list[str], store: ResultStore, config: RunConfig, force: bool = False, progress: bool = True,
    echo=print,
) -> BatchSummary:
    """Analyse videos one after another in this process (no Ray). Each video is claimed
    just before it is analysed, so another run into the same results skips it meanwhile."""
    t0 = time.perf_counter()
    bar = videos_bar(len(paths), enabled=progress)
    state = {"settled": 0, "duration": 0.0, "analysed_s": 0.0}  # files settled; the current video

    def show(completed: float = 0.0) -> None:
        part = min(1.0, completed / state["duration"]) if state["duration"] > 0 else 0.0
        text = status_text(analysed_s=state["analysed_s"] + completed, elapsed_s=time.perf_counter() - t0,
                           failed=len(summary.failed), done_before=summary.skipped)
        set_progress(bar, state["settled"] + part, text)

    hook = ProgressHook(lambda video, completed, total: show(completed))
    from emotion_batch.pipeline import VideoAnalyzer  # torch and the models: only where analysis runs

    analyzer = VideoAnalyzer(config)
    p = plan(paths, store, config, analyzer.model_version, force, claim=False)
    summary = BatchSummary(skipped=len(p.skipped))
    try:
        with bar:
            if p.unreadable or p.duplicates or p.busy:  # lines to print above the bar
                with tqdm.external_write_mode():
                    record_planned(store, p, config, analyzer.model_version, summary, echo)
            state["settled"] = len(paths) - len(p.todo)
            show()
            for item in p.todo:
                state["duration"] = item.duration_s
                n_rows = len(summary.rows)
                _analyse_one(analyzer, item, store, config, force, p, summary, bar, hook=hook)
                state["settled"] += 1
                state["analysed_s"] += sum(r.duration_s or 0.0 for r in summary.rows[n_rows:] if r.ok)
                state["duration"] = 0.0
                show()
    finally:
        p.claims.release_all()
    give_persons(store.root_uri, config, echo)  # once, after every unit (identity, run/persons.py)
    summary.wall_s = time.perf_counter() - t0
    return summary


def _analyse_one(analyzer: VideoAnalyzer, item: WorkItem, store: ResultStore, config: RunConfig, force: bool,
                 p: Plan, summary: BatchSummary, bar, *, hook=None) -> None:
    other = p.claims.take(item.video_id)
    if other is not None:
        bar.write(f"skipped {item.path}: another run is analysing it ({other.describe()})")
        summary.busy += 1
        return
    if not force and store.is_done(item.video_id, analyzer.model_version, config.config_hash()):
        p.claims.release(item.video_id)  # another run finished it meanwhile
        summary.skipped += 1
        return
    started = now_utc()
    result = analyzer(item.path, item.video_id, info=item.info, hook=hook)
    row = record_result(store, result, item, config, analyzer.model_version, str(analyzer.device), started)
    p.claims.held.discard(item.video_id)  # record_result dropped it
    summary.rows.append(row)
    if not result.ok:
        bar.write(f"FAILED {item.path}: {row.error}")
        log.warning("FAILED %s: %s", item.path, row.error)
    elif result.warning:
        bar.write(f"WARNING {item.path}: {result.warning}")
        log.warning("WARNING %s: %s", item.path, result.warning)

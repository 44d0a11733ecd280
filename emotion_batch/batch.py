"""A batch of videos: plan (skip finished work), record results, summarise.

Shared by the local runner below and the Ray layer (`distributed.py`): both turn a
`VideoResult` into Parquet files with `record_result`, which writes the manifest row last
so that its presence means "this video is finished".
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
from dataclasses import dataclass, field

import pyarrow as pa
from tqdm import tqdm

from emotion_batch.config import RunConfig
from emotion_batch.discover import WorkItem, describe
from emotion_batch.pipeline import VideoAnalyzer, VideoResult
from emotion_batch.schemas import MANIFEST_SCHEMA, SCHEMA_VERSION, STAGES
from emotion_batch.store import ResultStore


def now_utc() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def manifest_row(
    result: VideoResult, item: WorkItem | None, config: RunConfig, model_version: str, device: str, started_at: str
) -> dict:
    info = result.info or (item.info if item else None)
    row = {
        "video_id": result.video_id,
        "path": result.path,
        "size_bytes": item.size_bytes if item else (os.path.getsize(result.path) if os.path.exists(result.path) else None),
        "status": result.status,
        "error": result.error,
        "duration_s": info.duration_s if info else None,
        "fps": info.fps if info else None,
        "n_frames": info.n_frames if info else None,
        "width": info.width if info else None,
        "height": info.height if info else None,
        "has_audio": info.has_audio if info else None,
        "faces_found": result.faces_found if result.ok else None,
        "face_seconds": result.face_seconds if result.ok else None,
        "av_offset_s": result.av_offset_s,
        "av_confidence": result.av_confidence,
        "av_method": result.av_method,
        "model_version": model_version,
        "config_hash": config.config_hash(),
        "config_json": json.dumps(config.to_dict(), sort_keys=True),
        "schema_version": SCHEMA_VERSION,
        "t_total": result.timings.get("total"),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
        "device": device,
        "started_at": started_at,
        "finished_at": now_utc(),
    }
    for s in STAGES:
        row[f"t_{s}"] = result.timings.get(s)
    return row


def record_result(
    store: ResultStore, result: VideoResult, item: WorkItem | None, config: RunConfig, model_version: str,
    device: str, started_at: str,
) -> dict:
    """Write the video's tables, then its manifest row (last: it marks the video done)."""
    t0 = time.perf_counter()
    if result.ok:
        store.write("timelines", result.video_id, result.timeline, model_version)
        if result.attributions is not None:
            store.write("attributions", result.video_id, result.attributions, model_version)
    result.timings["write"] = result.timings.get("write", 0.0) + time.perf_counter() - t0
    row = manifest_row(result, item, config, model_version, device, started_at)
    store.write("videos", result.video_id, pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA), model_version)
    return row


@dataclass
class Plan:
    todo: list[WorkItem]
    skipped: list[WorkItem]  # already finished with the same model and settings
    unreadable: list[WorkItem]  # failed before decoding (not a video, empty, ...)


def plan(paths: list[str], store: ResultStore, config: RunConfig, model_version: str, force: bool) -> Plan:
    """Describe every file; drop what the store already holds; longest video first."""
    todo, skipped, bad, seen = [], [], [], set()
    for path in paths:
        item = describe(path)
        if item.video_id in seen:  # same content twice in the input: analyse once
            skipped.append(item)
            continue
        seen.add(item.video_id)
        if item.error:
            bad.append(item)
        elif not force and store.is_done(item.video_id, model_version, config.config_hash()):
            skipped.append(item)
        else:
            todo.append(item)
    todo.sort(key=lambda it: -it.duration_s)
    return Plan(todo, skipped, bad)


@dataclass
class BatchSummary:
    rows: list[dict] = field(default_factory=list)  # manifest rows written by this run
    skipped: int = 0
    wall_s: float = 0.0

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if r["status"] != "ok"]

    @property
    def video_seconds(self) -> float:
        return sum(r["duration_s"] or 0.0 for r in self.rows if r["status"] == "ok")

    def stage_totals(self) -> dict[str, float]:
        return {s: sum(r.get(f"t_{s}") or 0.0 for r in self.rows) for s in STAGES}


def record_unreadable(store: ResultStore, items: list[WorkItem], config: RunConfig, model_version: str) -> list[dict]:
    rows = []
    for item in items:
        res = VideoResult(item.video_id, item.path, "failed", item.error)
        rows.append(record_result(store, res, item, config, model_version, "none", now_utc()))
    return rows


def run_local(
    paths: list[str], store: ResultStore, config: RunConfig, force: bool = False, progress: bool = True,
    echo=print,
) -> BatchSummary:
    """Analyse videos one after another in this process (no Ray)."""
    t0 = time.perf_counter()
    bar = tqdm(total=0.0, unit="video-s", disable=not progress, dynamic_ncols=True,
               bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} video-s [{elapsed}<{remaining}, {rate_fmt}{postfix}]")
    done_before = 0.0  # video-seconds of finished videos

    def hook(step, artifact=None, total=None, completed=None):
        if step == "frames" and completed is not None:
            bar.n = done_before + completed
            bar.refresh()

    analyzer = VideoAnalyzer(config, hook=hook)
    p = plan(paths, store, config, analyzer.model_version, force)
    summary = BatchSummary(skipped=len(p.skipped))
    for row in record_unreadable(store, p.unreadable, config, analyzer.model_version):
        echo(f"FAILED {row['path']}: {row['error']}")
        summary.rows.append(row)
    bar.total = sum(it.duration_s for it in p.todo)
    with bar:
        for i, item in enumerate(p.todo):
            bar.set_postfix_str(f"video {i + 1}/{len(p.todo)}, {len(summary.failed)} failed")
            started = now_utc()
            result = analyzer(item.path, item.video_id)
            row = record_result(store, result, item, config, analyzer.model_version, str(analyzer.device), started)
            summary.rows.append(row)
            if not result.ok:
                bar.write(f"FAILED {item.path}: {result.error}")
            done_before += item.duration_s
            bar.n = done_before
            bar.refresh()
    summary.wall_s = time.perf_counter() - t0
    return summary

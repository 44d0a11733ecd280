"""A batch of videos: record results, summarise, and the local (no Ray) runner.

Shared by the local runner below and the Ray layer (`distributed.py`): both turn a
`VideoResult` into Parquet files with `record_result`, which writes the manifest row last
so that its presence means "this video is finished".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tqdm import tqdm

from emotion_batch.config import RunConfig
from emotion_batch.pipeline import VideoAnalyzer, VideoResult
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.manifest import ManifestRow, now_utc
from emotion_batch.run.plan import plan
from emotion_batch.run.store import ResultStore
from emotion_batch.schemas import STAGES


def record_result(
    store: ResultStore, result: VideoResult, item: WorkItem | None, config: RunConfig, model_version: str,
    device: str, started_at: str,
) -> ManifestRow:
    """Write the video's tables, then its manifest row (last: it marks the video done)."""
    t0 = time.perf_counter()
    if result.ok:
        store.write("timelines", result.video_id, result.timeline, model_version)
        if result.attributions is not None:
            store.write("attributions", result.video_id, result.attributions, model_version)
    result.timings["write"] = result.timings.get("write", 0.0) + time.perf_counter() - t0
    row = ManifestRow.from_result(result, item.size_bytes if item else None, item.info if item else None,
                                  config, model_version, device, started_at)
    store.write("videos", result.video_id, row.to_arrow(), model_version)
    return row


@dataclass
class BatchSummary:
    rows: list[ManifestRow] = field(default_factory=list)  # manifest rows written by this run
    skipped: int = 0
    wall_s: float = 0.0

    @property
    def failed(self) -> list[ManifestRow]:
        return [r for r in self.rows if not r.ok]

    @property
    def video_seconds(self) -> float:
        return sum(r.duration_s or 0.0 for r in self.rows if r.ok)

    def stage_totals(self) -> dict[str, float]:
        return {s: sum(getattr(r, f"t_{s}") or 0.0 for r in self.rows) for s in STAGES}


def record_unreadable(store: ResultStore, items: list[WorkItem], config: RunConfig,
                      model_version: str) -> list[ManifestRow]:
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
        if completed is not None:
            bar.n = done_before + completed
            bar.refresh()

    analyzer = VideoAnalyzer(config, hook=hook)
    p = plan(paths, store, config, analyzer.model_version, force)
    summary = BatchSummary(skipped=len(p.skipped))
    for row in record_unreadable(store, p.unreadable, config, analyzer.model_version):
        echo(f"FAILED {row.path}: {row.error}")
        summary.rows.append(row)
    bar.total = sum(it.duration_s for it in p.todo)
    with bar:
        for i, item in enumerate(p.todo):
            bar.set_postfix_str(f"video {i + 1}/{len(p.todo)}, {len(summary.failed)} failed")
            started = now_utc()
            result = analyzer(item.path, item.video_id, info=item.info)
            row = record_result(store, result, item, config, analyzer.model_version, str(analyzer.device), started)
            summary.rows.append(row)
            if not result.ok:
                bar.write(f"FAILED {item.path}: {result.error}")
            elif result.warning:
                bar.write(f"WARNING {item.path}: {result.warning}")
            done_before += item.duration_s
            bar.n = done_before
            bar.refresh()
    summary.wall_s = time.perf_counter() - t0
    return summary

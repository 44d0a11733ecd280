"""Units of work and what a worker does with one (no Ray here): the local runner and every Ray
actor (distributed/actor.py) hold a `UnitRunner`.

A **unit** is a whole video, or one time segment of a video longer than `--segment-s`
(`segments.plan_segments`). `UnitRunner` analyses a unit with a `VideoAnalyzer` and puts
the outcome on storage at once, so nothing finished lives only in memory:

* a whole video: its tables, then its manifest row (`record.record`);
* a segment: `<out>/segments/<video_id>/<index>.parquet` (storage/segment_files.py), written
  atomically; when every segment of the video is there, one worker merges them in order
  (face ids stitched, `segments.merge_segments`), writes the video like a whole one and
  deletes the segment files. A resumed run finds the segment files and analyses only
  the missing segments.

CUDA out-of-memory is retried here with half the frames per chunk each time (down to one)
before the unit fails, since `chunk_frames` bounds the GPU memory of one analysis and does
not change results beyond float noise (it is not part of the config hash).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from emotion_batch.media import MediaInfo, probe
from emotion_batch.pipeline.result import VideoResult
from emotion_batch.run.context import RunContext
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.record import record
from emotion_batch.run.storage.manifest import ManifestRow, now_utc
from emotion_batch.run.storage.segment_files import SegmentFiles
from emotion_batch.run.storage.segments import Segment, merge_segments

_OOM = re.compile(r"(CUDA|cuDNN|CUBLAS).*out of memory|OutOfMemoryError", re.IGNORECASE)


@dataclass(frozen=True)
class Unit:
    """One unit of work: a whole video (`segment` None) or one of its `n_segments` segments."""

    item: WorkItem
    segment: Segment | None = None
    n_segments: int = 1

    @property
    def key(self) -> str:
        return self.item.video_id if self.segment is None else f"{self.item.video_id}/{self.segment.index}"

    @property
    def seconds(self) -> float:
        return self.item.duration_s if self.segment is None else self.segment.length(self.item.duration_s)

    def label(self) -> str:
        if self.segment is None:
            return self.item.path
        end = "end" if self.segment.end_s is None else f"{self.segment.end_s:g} s"
        return f"{self.item.path} [{self.segment.start_s:g} s, {end})"


def segment_error(seg: Segment, error: str) -> str:
    """The failed video's reason when one of its segments failed (as merge_segments words it)."""
    end = "end" if seg.end_s is None else f"{seg.end_s:g} s"
    return f"segment {seg.index} [{seg.start_s:g} s, {end}): {error}"


def is_cuda_oom(error: str | None) -> bool:
    return bool(error) and bool(_OOM.search(error))


class UnitRunner:
    """Analyses units with one VideoAnalyzer and writes each outcome where it belongs; the
    local runner and every Ray actor hold one."""

    def __init__(self, analyzer, ctx: RunContext, *, echo=print):
        self.analyzer, self.echo = analyzer, echo
        self.ctx = ctx.on(analyzer.device)
        self.segments = SegmentFiles(ctx.store)
        self._infos: dict[str, MediaInfo] = {}  # full probes of videos whose segments came slim

    @property
    def device(self) -> str:
        return self.ctx.device

    def _info(self, item: WorkItem) -> MediaInfo | None:
        """The plan's probe; segment units carry it without the frame index, probed here once."""
        info = item.info
        if info is None or info.frame_starts is not None:
            return info
        if item.video_id not in self._infos:
            if len(self._infos) >= 4:
                self._infos.pop(next(iter(self._infos)))
            self._infos[item.video_id] = probe(item.path)
        return self._infos[item.video_id]

    def analyse(self, unit: Unit, *, hook=None) -> VideoResult:
        """Run the analyzer; on CUDA out-of-memory, again with half the frames per chunk."""
        from emotion_batch.pipeline.analyzer import frames_per_chunk

        item, seg = unit.item, unit.segment
        start, end = (0.0, None) if seg is None else (seg.start_s, seg.end_s)
        info = self._info(item)
        analyzer, chunk = self.analyzer, frames_per_chunk(self.ctx.config.chunk_frames, info)  # what the analyzer uses
        while True:
            result = analyzer(item.path, item.video_id, start_s=start, end_s=end, info=info, hook=hook)
            if result.ok or not is_cuda_oom(result.error) or chunk <= 1:
                break
            chunk = max(1, chunk // 2)
            self.echo(f"CUDA out of memory on {unit.label()}: retrying with --chunk-frames {chunk}")
            _free_cuda_cache()
            analyzer = self.analyzer.with_chunk_frames(chunk)  # same models, smaller chunks
        if not result.ok and is_cuda_oom(result.error):
            error = f"CUDA out of memory even with --chunk-frames {chunk}: {result.error}"
            result = dataclasses.replace(result, error=error)
        return result

    def run_video(self, unit: Unit, *, hook=None) -> ManifestRow:
        started = now_utc()
        return record(self.ctx, self.analyse(unit, hook=hook), unit.item, started_at=started)

    def run_segment(self, unit: Unit, *, hook=None) -> str | None:
        """Analyse one segment and write it; returns the failure reason, None when written."""
        started = now_utc()
        result = self.analyse(unit, hook=hook)
        if not result.ok:
            return result.error
        self.segments.write(unit.segment, result, self.ctx.model_version, self.ctx.config_hash, started)
        return None

    def merge(self, item: WorkItem, segments: list[Segment], errors: dict[int, str]) -> ManifestRow:
        """Write the video from its segment files (or, when a segment failed, its failed row);
        the segment files go once the video is written. Those of a failed video stay, so
        that a later run redoes only the failed segments."""
        if errors:
            first = min(errors)
            return self.fail(item, segment_error(segments[first], errors[first]))
        parts, started = self.segments.read(item, segments)
        merged = merge_segments(parts, self.ctx.config.track_iou)
        row = record(self.ctx, merged, item, started_at=started)
        self.segments.remove(item.video_id)
        return row

    def fail(self, item: WorkItem, error: str) -> ManifestRow:
        res = VideoResult(item.video_id, item.path, "failed", error, item.info)
        return record(self.ctx.on("none"), res, item)

    def finished_row(self, item: WorkItem) -> ManifestRow | None:
        """The manifest row a previous attempt already wrote for this video in this run."""
        if not self.ctx.finished(self.ctx.store.done_record(item.video_id)):
            return None
        return ManifestRow.read(self.ctx.store, item.video_id)


def slim(item: WorkItem) -> WorkItem:
    """The item without its frame index (a long video's is megabytes; segment units would
    each carry a copy): the worker probes such a video again, once."""
    if item.info is None or item.info.frame_starts is None:
        return item
    return dataclasses.replace(item, info=dataclasses.replace(item.info, frame_starts=None))


def _free_cuda_cache() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()

"""Units of work and what a worker does with one (no Ray here; `ray_stages.py` runs it).

A **unit** is a whole video, or one time segment of a video longer than `--segment-s`
(`segments.plan_segments`). `UnitRunner` analyses a unit with a `VideoAnalyzer` and puts
the outcome on storage at once, so nothing finished lives only in memory:

* a whole video: its tables, then its manifest row (`batch.record_result`);
* a segment: `<out>/segments/<video_id>/<index>.parquet` (`SegmentFiles`), written
  atomically; when every segment of the video is there, one worker merges them in order
  (face ids stitched, `segments.merge_segments`), writes the video like a whole one and
  deletes the segment files. A resumed run finds the segment files and analyses only
  the missing segments.

CUDA out-of-memory is retried here with half the frames per chunk each time (down to one)
before the unit fails, since `chunk_frames` bounds the GPU memory of one analysis and does
not change results beyond float noise (it is not part of the config hash).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.config import RunConfig
from emotion_batch.media import MediaInfo, probe
from emotion_batch.pipeline import VideoResult
from emotion_batch.run.batch import record_result, stored_row
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.manifest import ManifestRow, now_utc
from emotion_batch.run.segments import Segment, merge_segments
from emotion_batch.fs import write_atomic
from emotion_batch.run.store import ResultStore

SEGMENTS_DIR = "segments"
_META_KEY = b"emotion_batch.segment"
_SEGMENT_FILE = re.compile(r"^(\d+)\.parquet$")
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


class SegmentFiles:
    """Finished segments of videos not merged yet: `<root>/segments/<video_id>/<index>.parquet`
    (the timeline; the result's other fields in its metadata) and `<index>.attributions.parquet`
    written before it. The timeline file appears last (temp + rename), so its presence means
    "this segment is done"."""

    def __init__(self, store: ResultStore):
        self.fs = store.fs
        self.root = f"{store.root}/{SEGMENTS_DIR}"

    def _dir(self, video_id: str) -> str:
        return f"{self.root}/{video_id}"

    def _put(self, path: str, table: pa.Table) -> None:
        write_atomic(self.fs, path, table)

    def write(self, seg: Segment, result: VideoResult, model_version: str, config_hash: str, started_at: str) -> None:
        d = self._dir(result.video_id)
        self.fs.create_dir(d, recursive=True)
        if result.attributions is not None:
            self._put(f"{d}/{seg.index}.attributions.parquet", result.attributions)
        if result.tracks is not None:  # identity: the segment's face tracks and embeddings
            self._put(f"{d}/{seg.index}.tracks.parquet", result.tracks)
        meta = {"index": seg.index, "start_s": seg.start_s, "end_s": seg.end_s, "model_version": model_version,
                "config_hash": config_hash, "started_at": started_at, "faces_found": result.faces_found,
                "face_seconds": result.face_seconds, "av_offset_s": result.av_offset_s,
                "av_confidence": result.av_confidence, "av_method": result.av_method, "timings": result.timings,
                "attributions": result.attributions is not None, "tracks": result.tracks is not None}
        table = result.timeline.replace_schema_metadata(
            {**(result.timeline.schema.metadata or {}), _META_KEY: json.dumps(meta).encode()})
        self._put(f"{d}/{seg.index}.parquet", table)

    def _meta(self, video_id: str, index: int) -> dict:
        with self.fs.open_input_file(f"{self._dir(video_id)}/{index}.parquet") as f:
            return json.loads(pq.read_schema(f).metadata[_META_KEY])

    def exists(self, video_id: str, index: int) -> bool:
        return self.fs.get_file_info(f"{self._dir(video_id)}/{index}.parquet").type == pafs.FileType.File

    def usable(self, video_id: str, segments: list[Segment], model_version: str, config_hash: str) -> set[int]:
        """Indices of segments already written with the same model, settings and bounds. Files
        that do not match (another --segment-s, model or config) are deleted."""
        sel = pafs.FileSelector(self._dir(video_id), allow_not_found=True)
        names = [i.base_name for i in self.fs.get_file_info(sel)]
        by_index = {s.index: s for s in segments}
        good: set[int] = set()
        for name in names:
            m = _SEGMENT_FILE.match(name)
            if not m:
                continue
            i, seg = int(m[1]), by_index.get(int(m[1]))
            try:
                meta = self._meta(video_id, i)
            except (OSError, KeyError, ValueError, pa.ArrowInvalid):
                meta = None
            if (seg is not None and meta is not None and meta["model_version"] == model_version
                    and meta["config_hash"] == config_hash and meta["start_s"] == seg.start_s
                    and meta["end_s"] == seg.end_s):
                good.add(i)
            else:
                self.fs.delete_file(f"{self._dir(video_id)}/{name}")
        return good

    def read(self, item: WorkItem, segments: list[Segment]) -> tuple[list[tuple[Segment, VideoResult]], str]:
        """Every segment's result, and the earliest time one of them started."""
        parts, started = [], []
        d = self._dir(item.video_id)
        for seg in segments:
            with self.fs.open_input_file(f"{d}/{seg.index}.parquet") as f:
                timeline = pq.read_table(f)
            meta = json.loads(timeline.schema.metadata[_META_KEY])
            attributions = None
            if meta["attributions"]:
                with self.fs.open_input_file(f"{d}/{seg.index}.attributions.parquet") as f:
                    attributions = pq.read_table(f)
            tracks = None
            if meta.get("tracks"):
                with self.fs.open_input_file(f"{d}/{seg.index}.tracks.parquet") as f:
                    tracks = pq.read_table(f)
            started.append(meta["started_at"])
            parts.append((seg, VideoResult(
                item.video_id, item.path, "ok", None, item.info, timeline.replace_schema_metadata(None),
                attributions, faces_found=meta["faces_found"], face_seconds=meta["face_seconds"],
                av_offset_s=meta["av_offset_s"], av_confidence=meta["av_confidence"], av_method=meta["av_method"],
                timings=meta["timings"], tracks=tracks)))
        return parts, min(started)

    def remove(self, video_id: str) -> None:
        try:
            self.fs.delete_dir(self._dir(video_id))
        except (FileNotFoundError, OSError):
            pass


class UnitRunner:
    """Analyses units with one VideoAnalyzer and writes each outcome where it belongs."""

    def __init__(self, analyzer: VideoAnalyzer, store: ResultStore, config: RunConfig, echo=print, *, hook=None):
        self.analyzer, self.store, self.config, self.echo = analyzer, store, config, echo
        self.hook = hook  # told every step of every unit (pipeline/hooks.py)
        self.segments = SegmentFiles(store)
        self.model_version = analyzer.model_version
        self.device = str(analyzer.device)
        self._infos: dict[str, MediaInfo] = {}  # full probes of videos whose segments came slim

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

    def analyse(self, unit: Unit) -> VideoResult:
        """Run the analyzer; on CUDA out-of-memory, again with half the frames per chunk."""
        item, seg = unit.item, unit.segment
        start, end = (0.0, None) if seg is None else (seg.start_s, seg.end_s)
        info = self._info(item)
        analyzer = self.analyzer
        from emotion_batch.pipeline.analyzer import frames_per_chunk

        chunk = frames_per_chunk(self.config.chunk_frames, info)  # what the analyzer uses
        while True:
            result = analyzer(item.path, item.video_id, start_s=start, end_s=end, info=info, hook=self.hook)
            if result.ok or not is_cuda_oom(result.error) or chunk <= 1:
                break
            chunk = max(1, chunk // 2)
            self.echo(f"CUDA out of memory on {unit.label()}: retrying with --chunk-frames {chunk}")
            _free_cuda_cache()
            analyzer = copy.copy(self.analyzer)  # same models, smaller chunks
            analyzer.config = dataclasses.replace(self.config, chunk_frames=chunk)
        if not result.ok and is_cuda_oom(result.error):
            result = dataclasses.replace(
                result, error=f"CUDA out of memory even with --chunk-frames {chunk}: {result.error}")
        return result

    def run_video(self, unit: Unit) -> ManifestRow:
        started = now_utc()
        result = self.analyse(unit)
        return record_result(self.store, result, unit.item, self.config, self.model_version, self.device, started)

    def run_segment(self, unit: Unit) -> str | None:
        """Analyse one segment and write it; returns the failure reason, None when written."""
        started = now_utc()
        result = self.analyse(unit)
        if not result.ok:
            return result.error
        self.segments.write(unit.segment, result, self.model_version, self.config.config_hash(), started)
        return None

    def merge(self, item: WorkItem, segments: list[Segment], errors: dict[int, str]) -> ManifestRow:
        """Write the video from its segment files (or, when a segment failed, its failed row);
        the segment files go once the video is written. Those of a failed video stay, so
        that a later run redoes only the failed segments."""
        if errors:
            first = min(errors)
            return self.fail(item, segment_error(segments[first], errors[first]))
        parts, started = self.segments.read(item, segments)
        merged = merge_segments(parts, self.config.track_iou)
        row = record_result(self.store, merged, item, self.config, self.model_version, self.device, started)
        self.segments.remove(item.video_id)
        return row

    def fail(self, item: WorkItem, error: str) -> ManifestRow:
        res = VideoResult(item.video_id, item.path, "failed", error, item.info)
        return record_result(self.store, res, item, self.config, self.model_version, "none", now_utc())

    def finished_row(self, item: WorkItem) -> ManifestRow | None:
        """The manifest row a previous attempt already wrote for this video in this run."""
        if not self.store.is_done(item.video_id, self.model_version, self.config.config_hash()):
            return None
        return stored_row(self.store, item.video_id)


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

"""Finished segments of videos not merged yet, on storage (the Ray layer cuts long videos into
segments, `segments.plan_segments`, and merges them when the last one is in).

    <out>/segments/<video_id>/<index>.parquet               the segment's timeline; the
                                                            result's other fields in its metadata
    <out>/segments/<video_id>/<index>.attributions.parquet  written before it
    <out>/segments/<video_id>/<index>.tracks.parquet        identity: its tracks' embeddings

The timeline file appears last (temporary name + rename), so its presence means "this
segment is done". A resumed run analyses only the segments that are missing.
"""

from __future__ import annotations

import json
import re

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.fs import write_atomic
from emotion_batch.pipeline.result import VideoResult
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.storage.segments import Segment
from emotion_batch.run.storage.store import ResultStore

SEGMENTS_DIR = "segments"
_META_KEY = b"emotion_batch.segment"
_SEGMENT_FILE = re.compile(r"^(\d+)\.parquet$")


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

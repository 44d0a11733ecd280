"""Split a long video into time segments and merge their results back into one video.

Ray-free on purpose (the Ray layer only schedules): `plan_segments` cuts a video at whole
seconds, so every timeline second belongs to exactly one segment and the face_id -1 rows
("no face in this second") of the segments are already the video's rows; `merge_segments`
concatenates the segment results in time order and makes face ids unique across segments.

Face ids: each segment's tracker counts from 0. Rather than offsetting ids per segment
(which would split every face that crosses a boundary into two tracks), a face seen in the
last second before a boundary is *stitched* to a face seen in the first second after it
when their mean boxes overlap by at least `min_iou` (one-to-one, best overlap first); it
then keeps the earlier global id. Every other local id gets the next unused global id, in
the order the segment's tracker created them, which is the order a single tracker over the
whole video would have used. So a video cut into segments usually ends up with the same
face ids as the same video analysed in one piece.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from emotion_batch.identity.merge import merge_tracks
from emotion_batch.vision.track import iou_matrix
from emotion_batch.pipeline import VideoResult
from emotion_batch.schemas import NO_FACE


@dataclass(frozen=True)
class Segment:
    index: int
    start_s: float
    end_s: float | None  # None: to the end of the file

    def length(self, duration_s: float) -> float:
        end = duration_s if self.end_s is None else min(self.end_s, duration_s)
        return max(end - self.start_s, 0.0)


def plan_segments(duration_s: float, segment_s: float) -> list[Segment]:
    """Cut [0, duration) at multiples of `segment_s` (rounded to whole seconds, >= 1).
    A tail shorter than a quarter segment joins the previous segment. A video no longer
    than one segment (or of unknown length) is one segment covering the whole file."""
    step = max(1, int(round(segment_s)))
    if not duration_s or duration_s <= step or not math.isfinite(duration_s):
        return [Segment(0, 0.0, None)]
    cuts = list(range(step, int(math.ceil(duration_s)), step))
    if cuts and duration_s - cuts[-1] < step / 4:
        cuts.pop()
    starts = [0, *cuts]
    ends: list[float | None] = [float(c) for c in cuts] + [None]
    return [Segment(i, float(s), e) for i, (s, e) in enumerate(zip(starts, ends))]


def _boxes_at(table: pa.Table, second: int) -> tuple[np.ndarray, np.ndarray]:
    """(face ids, mean boxes) of the faces seen in one second of a timeline."""
    rows = table.filter(pc.and_(pc.equal(table["second"], second), pc.greater_equal(table["face_id"], 0)))
    ids = np.asarray(rows["face_id"].to_numpy(zero_copy_only=False), np.int64)
    if not len(ids):
        return ids, np.zeros((0, 4))
    cols = ("box_x1", "box_y1", "box_x2", "box_y2")
    boxes = np.stack([np.asarray(rows[c].to_numpy(zero_copy_only=False), np.float64) for c in cols], axis=1)
    return ids, boxes


def _stitch(prev_ids: np.ndarray, prev_boxes: np.ndarray, ids: np.ndarray, boxes: np.ndarray, min_iou: float) -> dict:
    """local id -> earlier global id for faces continuing across a boundary."""
    if not len(prev_ids) or not len(ids):
        return {}
    iou = iou_matrix(prev_boxes, boxes)
    out: dict[int, int] = {}
    used_prev: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        r, c = np.unravel_index(flat, iou.shape)
        if iou[r, c] < min_iou:
            break
        if r in used_prev or int(ids[c]) in out:
            continue
        used_prev.add(r)
        out[int(ids[c])] = int(prev_ids[r])
    return out


def _remap(table: pa.Table | None, mapping: dict[int, int]) -> pa.Table | None:
    if table is None or table.num_rows == 0:
        return table
    old = table["face_id"].to_numpy(zero_copy_only=False)
    new = np.array([mapping.get(int(f), int(f)) if f != NO_FACE else NO_FACE for f in old], np.int32)
    i = table.schema.get_field_index("face_id")
    return table.set_column(i, table.schema.field(i), pa.array(new, pa.int32()))


def merge_segments(parts: list[tuple[Segment, VideoResult]], min_iou: float = 0.3) -> VideoResult:
    """One VideoResult for the whole video from its segments' results (any order).
    A failed segment fails the video, naming the segment in the error."""
    parts = sorted(parts, key=lambda p: p[0].index)
    first = parts[0][1]
    timings: dict[str, float] = {}
    for _, r in parts:
        for k, v in r.timings.items():
            timings[k] = timings.get(k, 0.0) + v
    for seg, r in parts:
        if not r.ok:
            end = "end" if seg.end_s is None else f"{seg.end_s:g} s"
            err = f"segment {seg.index} [{seg.start_s:g} s, {end}): {r.error}"
            return VideoResult(first.video_id, first.path, "failed", err, r.info or first.info, timings=timings)
    timelines, attributions, tracks = [], [], []
    next_id, prev = 0, None  # prev: (table in global ids, last second) of the previous segment
    for seg, r in parts:
        tl = r.timeline
        local = sorted({int(f) for f in tl["face_id"].to_pylist() if f != NO_FACE})
        mapping: dict[int, int] = {}
        if prev is not None and prev[1] is not None:
            mapping = _stitch(*_boxes_at(prev[0], prev[1]), *_boxes_at(tl, int(seg.start_s)), min_iou)
        for f in local:
            if f not in mapping:
                mapping[f] = next_id
                next_id += 1
        next_id = max([next_id, *(g + 1 for g in mapping.values())])
        tl = _remap(tl, mapping)
        timelines.append(tl)
        tracks.append((r.tracks, mapping))
        if r.attributions is not None:
            attributions.append(_remap(r.attributions, mapping))
        last = pc.max(tl["second"]).as_py() if tl.num_rows else None
        prev = (tl, last)
    timeline = pa.concat_tables(timelines)
    faces = {int(f) for f in timeline["face_id"].to_pylist() if f != NO_FACE}
    best = max((r for _, r in parts), key=lambda r: -1.0 if r.av_confidence is None else r.av_confidence)
    return VideoResult(
        first.video_id, first.path, "ok", None, first.info, timeline,
        pa.concat_tables(attributions) if attributions else None,
        faces_found=len(faces), face_seconds=sum(r.face_seconds for _, r in parts),
        av_offset_s=best.av_offset_s, av_confidence=best.av_confidence,
        av_method=best.av_method if best.av_method is not None else first.av_method,
        timings=timings, warning=_merged_warning([r for _, r in parts]), tracks=merge_tracks(tracks),
    )


def _merged_warning(results: list[VideoResult]) -> str | None:
    """The segments' warnings in one line, each distinct one once (every segment repeats what
    probe found, e.g. a truncation); " | " separates warnings (media.probe.WARNING_SEPARATOR)."""
    parts = [w for r in results if r.warning for w in r.warning.split(" | ")]
    return " | ".join(dict.fromkeys(parts)) or None

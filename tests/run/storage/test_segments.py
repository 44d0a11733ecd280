"""Segment planning and merging (Ray-free): whole-second cuts, ordered merge, face-id
stitching across boundaries, failure of one segment fails the video."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from emotion_batch.pipeline import VideoResult
from emotion_batch.schemas import NO_FACE, TIMELINE_SCHEMA
from emotion_batch.run.storage.segments import Segment, merge_segments, plan_segments


def test_plan_cuts_at_whole_seconds_and_folds_a_short_tail():
    assert plan_segments(10.0, 300) == [Segment(0, 0.0, None)]
    assert plan_segments(0.0, 300) == [Segment(0, 0.0, None)]
    segs = plan_segments(7.2, 2)
    assert [(s.start_s, s.end_s) for s in segs] == [(0, 2), (2, 4), (4, 6), (6, None)]
    assert sum(s.length(7.2) for s in segs) == pytest.approx(7.2)
    # a 0.3 s tail (< a quarter segment) joins the previous segment
    assert [(s.start_s, s.end_s) for s in plan_segments(6.3, 2)] == [(0, 2), (2, 4), (4, None)]
    assert [(s.start_s, s.end_s) for s in plan_segments(900.5, 300)] == [(0, 300), (300, 600), (600, None)]
    # fractional segment lengths round to whole seconds
    assert [s.start_s for s in plan_segments(10, 2.6)] == [0, 3, 6, 9]


def _timeline(rows: list[tuple[int, int, tuple]]) -> pa.Table:
    """rows: (face_id, second, box); face_id -1 rows have no box."""
    cols = {n: [] for n in TIMELINE_SCHEMA.names}
    for fid, s, box in rows:
        for n in TIMELINE_SCHEMA.names:
            cols[n].append(None)
        cols["video_id"][-1], cols["face_id"][-1], cols["second"][-1] = "v", fid, s
        cols["t_start"][-1], cols["t_end"][-1], cols["n_frames"][-1] = float(s), float(s + 1), 0 if fid < 0 else 5
        if box is not None:
            for k, n in enumerate(("box_x1", "box_y1", "box_x2", "box_y2")):
                cols[n][-1] = float(box[k])
            cols["v_happy"][-1] = 0.5 + fid / 10
    return pa.table(cols, schema=TIMELINE_SCHEMA)


A, B, C = (0, 0, 100, 100), (300, 0, 400, 100), (600, 300, 700, 400)


def _ok(rows, faces) -> VideoResult:
    return VideoResult("v", "/x.mp4", "ok", timeline=_timeline(rows), faces_found=faces,
                       face_seconds=sum(1 for f, *_ in rows if f >= 0), timings={"detect": 1.0, "total": 2.0})


def test_merge_stitches_faces_that_cross_a_boundary_and_numbers_new_ones():
    s0, s1, s2 = Segment(0, 0, 2), Segment(1, 2, 4), Segment(2, 4, None)
    r0 = _ok([(0, 0, A), (0, 1, A), (1, 1, B)], 2)  # faces A (id 0) and B (id 1)
    # segment 1: B continues (local 0, box moved a little), C is new (local 1); A is gone
    r1 = _ok([(0, 2, (305, 0, 405, 100)), (1, 2, C), (NO_FACE, 3, None)], 2)
    r2 = _ok([(NO_FACE, 4, None), (0, 5, A)], 1)  # A comes back after a gap: a new track
    merged = merge_segments([(s2, r2), (s0, r0), (s1, r1)])  # any order in
    assert merged.ok
    got = list(zip(merged.timeline["second"].to_pylist(), merged.timeline["face_id"].to_pylist()))
    assert got == [(0, 0), (1, 0), (1, 1), (2, 1), (2, 2), (3, NO_FACE), (4, NO_FACE), (5, 3)]
    assert merged.faces_found == 4
    assert merged.face_seconds == 6
    assert merged.timings["detect"] == 3.0 and merged.timings["total"] == 6.0
    seconds = merged.timeline["second"].to_pylist()
    assert seconds == sorted(seconds)


def test_merge_fails_the_video_when_a_segment_failed():
    s0, s1 = Segment(0, 0, 2), Segment(1, 2, None)
    bad = VideoResult("v", "/x.mp4", "failed", "video decoding failed near t=2.50s")
    merged = merge_segments([(s0, _ok([(0, 0, A)], 1)), (s1, bad)])
    assert not merged.ok
    assert merged.error == "segment 1 [2 s, end): video decoding failed near t=2.50s"


def test_merge_keeps_the_most_confident_av_offset():
    s0, s1 = Segment(0, 0, 2), Segment(1, 2, None)
    r0, r1 = _ok([(NO_FACE, 0, None)], 0), _ok([(NO_FACE, 2, None)], 0)
    r0 = dataclasses.replace(r0, av_offset_s=0.1, av_confidence=0.2, av_method="dtw")
    r1 = dataclasses.replace(r1, av_offset_s=-0.04, av_confidence=0.9, av_method="dtw")
    merged = merge_segments([(s0, r0), (s1, r1)])
    assert (merged.av_offset_s, merged.av_confidence) == (-0.04, 0.9)
    assert merged.timeline["second"].to_pylist() == [0, 2]


def test_merge_keeps_each_distinct_warning_once():
    s0, s1, s2 = Segment(0, 0, 2), Segment(1, 2, 4), Segment(2, 4, None)
    cut = "truncated: video data ends at 5.2 s of 9.0 s declared; analysed up to there"
    r0, r1, r2 = (_ok([(NO_FACE, s, None)], 0) for s in (0, 2, 4))
    r0 = dataclasses.replace(r0, warning=cut)  # probe's finding reaches every segment
    r1 = dataclasses.replace(r1, warning=f"{cut} | 2 damaged video packet(s) skipped")
    r2 = dataclasses.replace(r2, warning=cut)
    merged = merge_segments([(s0, r0), (s1, r1), (s2, r2)])
    assert merged.warning == f"{cut} | 2 damaged video packet(s) skipped"
    assert merge_segments([(s0, _ok([(NO_FACE, 0, None)], 0))]).warning is None


def test_merge_joins_the_tracks_of_a_face_that_crosses_a_cut():
    """Identity: the segments' tracks take the video's face ids; a face on both sides of a cut
    becomes one track (weighted mean embedding, outer span, summed seconds, better crop)."""
    import numpy as np

    from emotion_batch.schemas import TRACK_SCHEMA

    def tracks(rows):
        full = [{"video_id": "v", "face_id": f, "t_first": t0, "t_last": t1, "seconds": s, "n_crops": n,
                 "quality": q, "crop_t": t0, "crop_box": [0, 0, 1, 1], "embedding": e, "reason": None}
                for f, t0, t1, s, n, q, e in rows]
        return pa.Table.from_pylist(full, schema=TRACK_SCHEMA)

    e0, e1 = [1.0] + [0.0] * 127, [0.0, 1.0] + [0.0] * 126
    s0, s1 = Segment(0, 0, 2), Segment(1, 2, None)
    r0 = _ok([(0, 0, A), (0, 1, A), (1, 1, B)], 2)
    r0 = dataclasses.replace(r0, tracks=tracks([(0, 0.0, 1.8, 2, 3, 0.5, e0), (1, 1.0, 1.8, 1, 1, 0.9, e1)]))
    r1 = _ok([(0, 2, (305, 0, 405, 100)), (1, 2, C)], 2)  # B continues (local 0), C new (local 1)
    r1 = dataclasses.replace(r1, tracks=tracks([(0, 2.0, 2.8, 1, 1, 0.95, e0), (1, 2.0, 2.8, 1, 2, 0.7, e1)]))
    merged = merge_segments([(s0, r0), (s1, r1)]).tracks.to_pylist()
    assert [r["face_id"] for r in merged] == [0, 1, 2]
    b = merged[1]
    assert (b["t_first"], b["t_last"], b["seconds"], b["n_crops"]) == (1.0, 2.8, 2, 2)
    assert b["quality"] == pytest.approx(0.95) and b["crop_t"] == 2.0
    np.testing.assert_allclose(b["embedding"][:2], [0.70710677, 0.70710677], atol=1e-6)
    assert merged[2]["embedding"] == e1 and merged[0]["embedding"] == e0
    assert merge_segments([(s0, _ok([(0, 0, A)], 1)), (s1, _ok([(0, 2, A)], 1))]).tracks is None

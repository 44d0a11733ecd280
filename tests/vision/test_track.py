"""The tracker: stable face ids across frames."""

import numpy as np
import pytest

from emotion_batch.vision.track import IoUTracker, center_distance, iou_matrix


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0], atol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4))).shape == (1, 0)


def test_center_distance_is_in_face_widths():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[10, 0, 20, 10]], np.float32)
    assert center_distance(a, b)[0, 0] == pytest.approx(1.0)


def test_tracker_keeps_ids_for_moving_faces_and_separates_people():
    tr = IoUTracker()
    ids = []
    for k in range(10):  # two faces moving right 6 px per frame (0.6 of a 10-px face width)
        t = k * 0.2
        boxes = np.array([[6 * k, 0, 6 * k + 10, 10], [100 + 6 * k, 50, 110 + 6 * k, 60]], np.float32)
        ids.append(tr.update(t, boxes).tolist())
    assert all(i == [0, 1] for i in ids)


def test_tracker_new_id_after_gap_and_for_far_boxes():
    tr = IoUTracker(max_gap_s=1.0)
    assert tr.update(0.0, np.array([[0, 0, 10, 10]], np.float32)).tolist() == [0]
    assert tr.update(0.2, np.array([[200, 200, 210, 210]], np.float32)).tolist() == [1]
    assert tr.update(2.0, np.array([[0, 0, 10, 10]], np.float32)).tolist() == [2]  # track 0 expired
    assert tr.update(2.2, np.zeros((0, 4), np.float32)).tolist() == []


def test_gap_is_judged_in_analysed_frames_as_well_as_seconds():
    """At 1 analysed frame per second (frames ~1.04 s apart) a face missed in two frames keeps
    its id; a third missed frame ends the track. Seconds-only (max_gap_frames=0) ends it at once."""
    box = np.array([[0, 0, 10, 10]], np.float32)
    none = np.zeros((0, 4), np.float32)
    tr = IoUTracker(max_gap_s=1.0, max_gap_frames=2, frame_step_s=1.0)
    assert tr.update(0.0, box).tolist() == [0]
    assert tr.update(1.04, box).tolist() == [0]  # one step: seconds alone would have ended it
    tr.update(2.08, none)
    tr.update(3.12, none)
    assert tr.update(4.16, box).tolist() == [0]  # two frames missed
    for t in (5.2, 6.24, 7.28):
        tr.update(t, none)
    assert tr.update(8.32, box).tolist() == [1]  # three frames missed: a new track
    secs = IoUTracker(max_gap_s=1.0, max_gap_frames=0, frame_step_s=1.0)
    assert secs.update(0.0, box).tolist() == [0]
    assert secs.update(1.04, box).tolist() == [1]


def test_gap_in_seconds_still_rules_at_high_rates():
    """At 10 frames/s two missed frames are 0.3 s: the 1 s limit is the longer and applies."""
    tr = IoUTracker(max_gap_s=1.0, max_gap_frames=2, frame_step_s=0.1)
    assert tr.gap_s == pytest.approx(1.0)
    box = np.array([[0, 0, 10, 10]], np.float32)
    assert tr.update(0.0, box).tolist() == [0]
    assert tr.update(0.9, box).tolist() == [0]
    assert tr.update(2.0, box).tolist() == [1]

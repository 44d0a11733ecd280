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

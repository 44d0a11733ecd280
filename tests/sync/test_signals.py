"""sync.signals: mouth boxes between detections and the mouth-motion signal on raw frames."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_batch import sync
from emotion_batch.vision.mouths import mouth_boxes

FPS = 25


def test_interpolate_boxes_gaps_and_span():
    t_obs = np.array([0.0, 0.2, 2.0])
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [2, 0, 12, 10]], float)
    out = sync.interpolate_boxes(t_obs, boxes, np.array([-0.5, 0.1, 1.0, 2.1, 3.0]), max_gap_s=1.0)
    assert np.isnan(out[0]).all() and np.isnan(out[2]).all() and np.isnan(out[4]).all()
    np.testing.assert_allclose(out[1], [1, 0, 11, 10])
    np.testing.assert_allclose(out[3], [2, 0, 12, 10])


def test_mouth_boxes_cover_mouth_and_jaw():
    lm = np.array([[[40, 40], [60, 40], [50, 50], [40, 60], [60, 60]]], float)
    (x0, y0, x1, y1), = mouth_boxes(lm)
    assert x0 < 40 < 60 < x1 and y0 < 60 < y1 and y1 - 60 > 60 - y0


@pytest.mark.shared
def test_mouth_signal_follows_mouth_opening(tf, speech):
    """mouth_signal on raw frames: correlates with |change of opening| between frames."""
    times = np.arange(100) / FPS
    opening = tf.mouth_envelope(speech, times)
    frames = tf.make_frames(opening, sway_px=0.0)
    lm = np.zeros((1, 5, 2))
    lm[0, 3:5] = tf.mouth_corners()[0]
    boxes = np.repeat(mouth_boxes(lm), len(times), 0)
    grid = (times[1:] + times[:-1]) / 2
    sig = sync.mouth_signal(frames, times, boxes, grid)
    assert np.isfinite(sig).all()
    assert np.corrcoef(sig, np.abs(np.diff(opening)))[0, 1] > 0.8
    half = sync.mouth_signal(frames[:, ::2, ::2], times, boxes, grid, scale=0.5)  # downscaled frames
    assert np.corrcoef(half, sig)[0, 1] > 0.95

"""Shot cuts: colour-histogram distance between analysed frames."""

import numpy as np

from emotion_batch.vision.cuts import CUT_DISTANCE, ShotCuts, colour_histogram
from emotion_batch.vision.track import IoUTracker


def _frame(rgb, noise=0, seed=0):
    f = np.empty((96, 128, 3), np.uint8)
    f[:] = rgb
    if noise:
        f = np.clip(f.astype(int) + np.random.default_rng(seed).integers(-noise, noise + 1, f.shape), 0, 255)
    return f.astype(np.uint8)


def test_histogram_sums_to_one_per_channel():
    h = colour_histogram(_frame((10, 128, 250), noise=20))
    assert h.shape == (48,)
    np.testing.assert_allclose(h.reshape(3, -1).sum(axis=1), 1.0, atol=1e-6)


def test_same_shot_is_no_cut_another_shot_is():
    cuts = ShotCuts()
    assert not cuts.is_cut(_frame((200, 180, 160), noise=10, seed=1))  # the first frame never is
    assert cuts.distance(_frame((200, 180, 160), noise=10, seed=2)) < 0.1  # same shot, new noise
    assert cuts.is_cut(_frame((30, 40, 60), noise=10, seed=3))  # a dark shot after a light one
    assert ShotCuts(threshold=1.01).distance(_frame((0, 0, 0))) == 0.0
    assert 0 < CUT_DISTANCE < 1


def test_end_all_starts_new_tracks_and_keeps_counting():
    tr = IoUTracker()
    box = np.array([[0, 0, 10, 10]], np.float32)
    assert tr.update(0.0, box).tolist() == [0]
    tr.end_all()
    assert tr.update(0.2, box).tolist() == [1]
    assert tr.live_ids(0.2) == {1}

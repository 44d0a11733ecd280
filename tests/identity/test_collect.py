"""Chips per track: few, spaced, sharp and large enough; embedded when the track ends."""

import numpy as np
import pytest

from emotion_batch.identity.collect import TrackCrops
from emotion_batch.identity.embed import CHIP, FaceEmbedder, frontality, sharpness
from emotion_batch.identity.group import SAME_PERSON_SIM

LANDMARKS = np.array([[[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]]], np.float32)  # frontal


class FakeEmbedder:
    """Chips: noise (sharp) unless the frame is flat; embedding: a fixed direction per chip count."""

    def __init__(self):
        self.batches = []

    def chips(self, frame, boxes):
        rng = np.random.default_rng(int(frame.mean()))
        flat = frame.std() == 0
        return [np.full((CHIP, CHIP, 3), 128, np.uint8) if flat else rng.integers(0, 255, (CHIP, CHIP, 3), np.uint8)
                for _ in boxes]

    def embed(self, chips):
        self.batches.append(len(chips))
        v = np.zeros((len(chips), 128), np.float32)
        v[:, 0] = 1
        return v


def _frame(flat=False):
    return np.full((200, 200, 3), 90, np.uint8) if flat else np.random.default_rng(0).integers(0, 255, (200, 200, 3), np.uint8)


def _add(tc, t, fid, side=100.0, flat=False):
    box = np.array([[0, 0, side, side]], np.float32)
    tc.add(t, _frame(flat), np.array([fid], np.int32), boxes=box, scores=np.array([0.99], np.float32),
           landmarks=LANDMARKS * side / 100)


def test_at_most_three_spaced_chips_per_track_embedded_in_one_batch_when_it_ends():
    emb = FakeEmbedder()
    tc = TrackCrops(emb)
    for k in range(20):
        _add(tc, 0.25 * k, 0)
    _add(tc, 0.0, 1, side=20)  # too small for an embedding
    tc.finish({0})  # track 0 still live: only track 1 ends
    assert [r["face_id"] for r in tc.rows] == [1] and emb.batches == [0]
    times = sorted(c.t for c in tc.tracks[0].best)
    assert len(times) == 3 and min(np.diff(times)) >= 1.0
    table = tc.table("vid")
    assert emb.batches == [0, 3]
    rows = {r["face_id"]: r for r in table.to_pylist()}
    assert rows[0]["n_crops"] == 3 and rows[0]["reason"] is None and len(rows[0]["embedding"]) == 128
    assert rows[0]["seconds"] == 5 and rows[0]["t_first"] == 0.0 and rows[0]["t_last"] == pytest.approx(4.75)
    assert rows[1]["embedding"] is None and rows[1]["reason"] == "too small" and rows[1]["person_id"] is None


def test_blurred_faces_get_no_embedding_and_say_why():
    tc = TrackCrops(FakeEmbedder())
    for k in range(4):
        _add(tc, float(k), 0, flat=True)
    row = tc.table("vid").to_pylist()[0]
    assert row["embedding"] is None and row["n_crops"] == 0 and row["reason"] == "too blurred"


def test_frontality_and_sharpness():
    profile = LANDMARKS.copy()
    profile[0, 2, 0] = 68  # nose at the right eye
    assert frontality(LANDMARKS)[0] == pytest.approx(1.0) and frontality(profile)[0] < 0.2
    assert sharpness(np.full((CHIP, CHIP, 3), 7, np.uint8)) == 0.0
    assert sharpness(_frame()) > 1000


def test_real_model_same_face_under_shift_and_scale_is_one_person():
    import skimage.data
    from PIL import Image

    img = skimage.data.astronaut()
    box = np.array([[178.9, 57.2, 266.5, 173.8]], np.float32)  # MTCNN's box of her face
    small = np.asarray(Image.fromarray(img).resize((384, 384)))
    emb = FaceEmbedder()
    chips = emb.chips(img, box) + emb.chips(small, box * 0.75) + emb.chips(img, np.array([[300, 300, 400, 400]]))
    v = emb.embed(chips)
    assert v.shape == (3, 128)
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] >= SAME_PERSON_SIM  # the same face at 3/4 size
    assert v[0] @ v[2] < SAME_PERSON_SIM  # her suit is nobody

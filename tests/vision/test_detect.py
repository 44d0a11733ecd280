"""Face detection (our batched MTCNN driver) and refinement between keyframes."""

import numpy as np
import pytest
import torch

from emotion_batch.vision.detect import FaceDetector
from videogen import face_photo


@pytest.fixture(scope="module")
def detector():
    return FaceDetector(torch.device("cpu"), max_side=640)


def test_detector_finds_the_astronaut(detector):
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[:, 40:280] = face_photo(240)
    blank = np.zeros_like(frame)
    faces = detector.detect(np.stack([frame, blank, frame]))
    assert [len(f) for f in faces] == [1, 0, 1]
    box, lm = faces[0].boxes[0], faces[0].landmarks[0]
    assert faces[0].scores[0] > 0.95
    # landmarks inside the box: eyes above the mouth corners, left eye left of right eye
    assert box[0] < lm[:, 0].min() and lm[:, 0].max() < box[2]
    assert lm[0, 0] < lm[1, 0] and lm[:2, 1].max() < lm[3:, 1].min()


def test_detector_maps_downscaled_boxes_to_full_resolution():
    big = np.full((960, 1280, 3), 90, np.uint8)
    big[:, 160:1120] = face_photo(960)
    full = FaceDetector(torch.device("cpu"), max_side=1280).detect(big[None])[0]
    small = FaceDetector(torch.device("cpu"), max_side=320).detect(big[None])[0]
    assert len(full) == len(small) == 1
    side = full.boxes[0, 2] - full.boxes[0, 0]
    assert np.abs(full.boxes[0] - small.boxes[0]).max() < 0.1 * side


def test_refine_refinds_a_moved_face_without_the_pyramid(detector):
    frame = np.full((360, 640, 3), 90, np.uint8)
    frame[:, 100:460] = face_photo(360)
    first = detector.detect(frame[None])[0]
    moved = np.roll(frame, 15, axis=1)
    again = detector.refine(moved, first.boxes)
    assert len(again) == 1 and again.scores[0] > 0.9
    np.testing.assert_allclose(again.landmarks[0], first.landmarks[0] + [15, 0], atol=3.0)
    assert len(detector.refine(np.zeros_like(frame), first.boxes)) == 0  # nothing there: nothing found
    assert len(detector.refine(frame, np.zeros((0, 4), np.float32))) == 0


def test_detect_interval_tracks_between_keyframes(made_videos):
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    res = VideoAnalyzer(RunConfig.from_flat(device="cpu", detect_interval_s=1.0, explain="none"))(made_videos["face"][0])
    rows = [r for r in res.timeline.to_pylist() if r["face_id"] >= 0]
    assert [(r["face_id"], r["second"], r["n_frames"]) for r in rows] == [(0, 0, 5), (0, 1, 5), (0, 2, 5)]


@pytest.mark.parametrize("scale, thresh", [(0.6, 0.6), (0.213, 0.3), (0.6, 0.0), (0.6, 1.01)])
def test_pnet_boxes_match_facenets_generate_bounding_box(scale, thresh):
    """The numpy selection of P-Net cells gives facenet's boxes, scores, regressions and frame
    indices (same float32 operations: 1e-6 allows for nothing but rounding), none included."""
    from facenet_pytorch.models.utils.detect_face import generateBoundingBox

    from emotion_batch.vision.mtcnn import pnet_boxes

    g = torch.Generator().manual_seed(0)
    reg, probs = torch.randn(3, 4, 37, 53, generator=g), torch.rand(3, 37, 53, generator=g)
    want_b, want_i = generateBoundingBox(reg, probs, scale, thresh)
    got_b, got_i = pnet_boxes(reg, probs, scale, thresh)
    assert got_b.dtype == want_b.dtype == torch.float32 and got_i.dtype == want_i.dtype == torch.int64
    assert got_b.shape == want_b.shape and torch.equal(got_i, want_i)
    np.testing.assert_allclose(got_b.numpy(), want_b.numpy(), atol=1e-6)


def test_pyramid_and_crops_work_on_planar_frames(detector, monkeypatch):
    """P-Net's pyramid levels and the R/O-Net crop source are NCHW-contiguous float frames:
    channels-last ones (what permute(...).float() of the uint8 frames gives) made the area
    resampling ~40 % slower and were copied on every roi_align and onnxruntime call, for the
    same numbers (benchmarks/detect_layout_ab.py)."""
    from emotion_batch.vision import mtcnn

    seen = {"pnet": [], "roi": []}
    pnet, roi_align = detector.pnet, mtcnn.roi_align
    monkeypatch.setattr(detector, "pnet", lambda x: seen["pnet"].append(x.is_contiguous()) or pnet(x))
    monkeypatch.setattr(mtcnn, "roi_align",
                        lambda x, *a, **k: seen["roi"].append(x.is_contiguous()) or roi_align(x, *a, **k))
    frame = np.full((240, 320, 3), 90, np.uint8)
    frame[:, 40:280] = face_photo(240)
    assert [len(f) for f in detector.detect(np.stack([frame, frame]))] == [1, 1]
    assert len(seen["pnet"]) > 3 and all(seen["pnet"])
    assert len(seen["roi"]) == 2 and all(seen["roi"])

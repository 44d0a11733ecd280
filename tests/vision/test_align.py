"""Face alignment: Umeyama transform, pixel geometry of the warp, real-face behaviour."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emotion_batch.vision.align import (
    CROP_SIZE,
    REGION_NAMES,
    REGIONS_64,
    TEMPLATE_64,
    align_faces,
    align_faces_batch,
    region_masks,
    rotation_deg,
    similarity_transform,
    to_model_input,
)


def _similarity(scale, deg, tx, ty):
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[scale * c, -scale * s, tx], [scale * s, scale * c, ty]])


def _apply(m, pts):
    return pts @ m[:, :2].T + m[:, 2]


@pytest.mark.parametrize(("scale", "deg", "tx", "ty"), [(0.3, 17.0, 5.0, -2.0), (2.5, -140.0, 100.0, 40.0)])
def test_similarity_transform_recovers_known_transform(scale, deg, tx, ty):
    src = np.random.default_rng(0).uniform(0, 300, size=(5, 2))
    m_true = _similarity(scale, deg, tx, ty)
    m = similarity_transform(src, _apply(m_true, src))
    np.testing.assert_allclose(m, m_true, atol=1e-9)
    assert rotation_deg(m) == pytest.approx(deg)


def test_similarity_transform_never_reflects():
    src = TEMPLATE_64.copy()
    mirrored = src * np.array([-1.0, 1.0])
    m = similarity_transform(src, mirrored)
    assert np.linalg.det(m[:, :2]) > 0
    # A pure similarity fit of a mirror image cannot be exact.
    assert np.abs(_apply(m, src) - mirrored).max() > 1.0


def test_similarity_transform_rejects_degenerate():
    with pytest.raises(ValueError):
        similarity_transform(np.ones((5, 2)), TEMPLATE_64)


@pytest.mark.parametrize("supersample", [1, 2])
@pytest.mark.parametrize("axis", [0, 1])
def test_warp_samples_the_right_pixels(axis, supersample):
    """Landmarks = 2 * template + (-30, 80): crop pixel (u, v) must read frame pixel
    (2u - 30, 2v + 80), with the frame's edge pixels repeated outside it (the crop runs off the
    left and bottom edges). On a linear ramp, bilinear sampling and box averaging are exact."""
    h, w = 200, 200
    ramp = np.arange(w if axis == 0 else h, dtype=np.float64)
    frame = np.broadcast_to(ramp[None, :] if axis == 0 else ramp[:, None], (h, w))
    frame = np.repeat(frame[..., None], 3, axis=2).astype(np.uint8)
    offset = np.array([-30.0, 80.0])
    crop = align_faces(frame, (TEMPLATE_64 * 2 + offset)[None], supersample=supersample)[0]
    u = np.arange(CROP_SIZE, dtype=np.float64)
    expected = np.clip(2 * u + offset[axis], 0, 199)
    got = (crop[0, :] if axis == 0 else crop[:, 0]).astype(np.float64)
    if supersample == 1:
        np.testing.assert_array_equal(got, expected)
    else:  # box averaging straddles the clamp at the frame edge: exact away from it
        inside = (2 * u + offset[axis] - 1 >= 0) & (2 * u + offset[axis] + 1 <= 199)
        np.testing.assert_array_equal(got[inside], expected[inside])
        assert np.abs(got - expected).max() <= 1.0


def test_output_dtype_shape_and_model_input():
    frame = np.random.default_rng(1).integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    lm = np.stack([TEMPLATE_64 + 30, TEMPLATE_64 * 1.5 + 5])
    crops = align_faces(frame, lm)
    assert crops.dtype == np.uint8 and crops.shape == (2, 64, 64)
    assert align_faces(frame, np.zeros((0, 5, 2))).shape == (0, 64, 64)
    x = to_model_input(crops)
    assert x.dtype == torch.float32 and x.shape == (2, 1, 64, 64)
    assert float(x.min()) >= -1.0 and float(x.max()) <= 1.0
    np.testing.assert_allclose(x[:, 0].numpy(), (crops / 255.0 - 0.5) * 2, atol=1e-6)
    with pytest.raises(ValueError):
        to_model_input(crops.astype(np.float32))


def test_batch_matches_single_frame_calls():
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, size=(3, 90, 120, 3), dtype=np.uint8)
    lm = np.stack([TEMPLATE_64 + 10, TEMPLATE_64 * 0.8 + 20, TEMPLATE_64 + 40, TEMPLATE_64 + 5])
    fidx = np.array([2, 0, 2, 1])
    batch = align_faces_batch(torch.from_numpy(frames), fidx, lm, supersample=1, chunk=3).numpy()
    single = np.concatenate([align_faces(frames[f], l[None], supersample=1) for f, l in zip(fidx, lm)])
    # Batch and single calls sample through different patch origins, so a bilinear value that
    # lands within float32 rounding of x.5 may round either way depending on the CPU's kernels:
    # at most one uint8 level, and only on a few pixels.
    diff = np.abs(batch.astype(int) - single.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_regions_partition_crop_and_hold_their_landmarks():
    masks = region_masks()
    assert tuple(masks) == REGION_NAMES
    total = sum(m.astype(int) for m in masks.values())
    assert (total == 1).all()
    y0s = [REGIONS_64[n][0] for n in REGION_NAMES[:3]]
    assert y0s == sorted(y0s)
    for name, points in [("brows_eyes", [0, 1]), ("nose_cheeks", [2]), ("mouth_jaw", [3, 4])]:
        for x, y in np.rint(TEMPLATE_64[points]).astype(int):
            assert masks[name][y, x], (name, x, y)


# --- real face: skimage's astronaut (Eileen Collins) with facenet-pytorch MTCNN -----------------

@pytest.fixture(scope="module")
def mtcnn():
    from facenet_pytorch import MTCNN

    return MTCNN(keep_all=True, device="cpu")


def _landmarks(mtcnn, rgb):
    boxes, probs, points = mtcnn.detect(rgb, landmarks=True)
    assert boxes is not None, "no face found"
    return points[int(np.argmax(probs))].astype(np.float64)


@pytest.fixture(scope="module")
def astronaut():
    from skimage.data import astronaut

    return astronaut()


def test_aligned_astronaut_has_landmarks_at_template(mtcnn, astronaut):
    crop = align_faces(astronaut, _landmarks(mtcnn, astronaut)[None])[0]
    # Independent check: re-detect the face on the (upscaled) aligned crop.
    big = np.repeat(np.repeat(crop, 4, 0), 4, 1)
    pts = (_landmarks(mtcnn, np.repeat(big[..., None], 3, 2)) + 0.5) / 4 - 0.5
    eye_rows, template_eye_rows = pts[:2, 1], TEMPLATE_64[:2, 1]
    assert np.abs(eye_rows - template_eye_rows).max() < 2.0
    assert np.abs(pts - TEMPLATE_64).max() < 3.5  # nose/mouth: her proportions differ a bit


def test_rotated_face_aligns_to_nearly_the_same_crop(mtcnn, astronaut):
    from skimage.transform import rotate

    lm = _landmarks(mtcnn, astronaut)
    centre = tuple(lm.mean(0))
    rotated = rotate(astronaut, 25, center=centre, preserve_range=True, mode="edge").astype(np.uint8)
    lm_rot = _landmarks(mtcnn, rotated)
    # The landmarks really moved (skimage rotates counter-clockwise in the displayed image).
    assert abs(rotation_deg(similarity_transform(lm, lm_rot)) + 25) < 5
    a = align_faces(astronaut, lm[None])[0].astype(np.float64)
    b = align_faces(rotated, lm_rot[None])[0].astype(np.float64)
    centre_box = (slice(12, 56), slice(10, 54))
    diff = np.abs(a - b)[centre_box].mean()
    corr = np.corrcoef(a[centre_box].ravel(), b[centre_box].ravel())[0, 1]
    # Without re-alignment the same crop window on the rotated image is far off: a yardstick.
    c = align_faces(rotated, lm[None])[0].astype(np.float64)
    baseline = np.abs(a - c)[centre_box].mean()
    assert corr > 0.9, corr
    assert diff < 0.5 * baseline, (diff, baseline)

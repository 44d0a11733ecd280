"""vision/mtcnn_ops.py against what it stands in for: facenet-pytorch's box helpers and
torchvision's nms / batched_nms / roi_align (imported here, in the test process, as references)."""

import numpy as np
import pytest
import torch
import torchvision
from facenet_pytorch.models.utils import detect_face as facenet

from emotion_batch.vision import mtcnn_ops


def _boxes(n: int, seed: int, span: float = 300.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n overlapping boxes (clusters, as P-Net proposes them), scores, frame indices 0-2."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(max(1, n // 8), 2, generator=g) * span
    c = centres[torch.randint(len(centres), (n,), generator=g)] + torch.randn(n, 2, generator=g) * 4
    half = 6 + torch.rand(n, 1, generator=g) * 30
    boxes = torch.cat([c - half, c + half], 1).floor()
    return boxes, torch.rand(n, generator=g), torch.randint(3, (n,), generator=g)


@pytest.mark.parametrize("n", [0, 1, 40, 1500])  # 1500 boxes (6000 numbers) takes torchvision's per-index branch
def test_batched_nms_keeps_what_torchvision_keeps(n):
    boxes, scores, idxs = _boxes(n, seed=n)
    for iou in (0.5, 0.7):
        ours = mtcnn_ops.batched_nms(boxes, scores, idxs, iou)
        ref = torchvision.ops.batched_nms(boxes, scores, idxs, iou)
        assert ours.dtype == torch.int64 and ours.tolist() == ref.tolist()
    if n:
        assert mtcnn_ops.nms(boxes, scores, 0.5).tolist() == torchvision.ops.nms(boxes, scores, 0.5).tolist()


@pytest.mark.parametrize("method", ["Min", "Union"])
def test_batched_nms_numpy_keeps_what_facenet_keeps(method):
    boxes, scores, idxs = _boxes(300, seed=3)
    ours = mtcnn_ops.batched_nms_numpy(boxes, scores, idxs, 0.7, method)
    ref = facenet.batched_nms_numpy(boxes, scores, idxs, 0.7, method)
    assert ours.tolist() == ref.tolist() and len(ours) < len(boxes)
    assert len(mtcnn_ops.batched_nms_numpy(boxes[:0], scores[:0], idxs[:0], 0.7, method)) == 0


def test_roi_align_matches_torchvision():
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(2, 3, 90, 120, generator=g) * 255
    boxes, _, idxs = _boxes(30, seed=1, span=100.0)
    rois = torch.cat([(idxs % 2)[:, None].float(), boxes], 1)  # boxes partly outside: zero there
    for size, ratio in (((24, 24), 2), ((48, 48), 2), ((12, 7), -1)):
        ours = mtcnn_ops.roi_align(frames, rois, size, spatial_scale=1.0, sampling_ratio=ratio, aligned=False)
        ref = torchvision.ops.roi_align(frames, rois, size, spatial_scale=1.0, sampling_ratio=ratio, aligned=False)
        assert ours.shape == (30, 3, *size)
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=0, atol=1e-4)  # the same kernel


def test_box_helpers_match_facenet():
    boxes, scores, _ = _boxes(50, seed=2)
    b = torch.cat([boxes, scores[:, None]], 1)
    reg = torch.randn(50, 4, generator=torch.Generator().manual_seed(4)) * 0.1
    np.testing.assert_allclose(mtcnn_ops.rerec(b.clone()).numpy(), facenet.rerec(b.clone()).numpy(), atol=1e-4)
    np.testing.assert_allclose(mtcnn_ops.bbreg(b.clone(), reg).numpy(), facenet.bbreg(b.clone(), reg).numpy(),
                               atol=1e-4)
    img = torch.rand(2, 3, 61, 83) * 255
    np.testing.assert_allclose(mtcnn_ops.imresample(img, (30, 41)).numpy(), facenet.imresample(img, (30, 41)).numpy(),
                               atol=1e-4)
    g = torch.Generator().manual_seed(5)
    reg4, probs = torch.randn(2, 4, 20, 25, generator=g), torch.rand(2, 20, 25, generator=g)
    ours, ours_i = mtcnn_ops.generate_bounding_box(reg4, probs, 0.6, 0.7)
    ref, ref_i = facenet.generateBoundingBox(reg4, probs, 0.6, 0.7)
    assert len(ours) > 0 and ours_i.tolist() == ref_i.tolist()
    np.testing.assert_allclose(ours.numpy(), ref.numpy(), atol=1e-4)


def test_ops_come_from_a_torchvision_import_when_its_library_cannot_be_found():
    import subprocess
    import sys

    code = ("import importlib.util, sys; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda n, *a: None if n == 'torchvision' else real(n, *a); "
            "import torch; from emotion_batch.vision import mtcnn_ops; "
            "b = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11]]); "
            "print(mtcnn_ops.nms(b, torch.tensor([0.8, 0.9]), 0.5).tolist(), 'torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[1] True", out

"""A batched MTCNN driver over facenet-pytorch's P-, R- and O-Net (weights ship in its wheel).

Same cascade and thresholds as `facenet_pytorch.models.utils.detect_face`, with two changes
that we measured on the sample videos:

1. The P-Net image pyramid is built from a frame pre-scaled by 12 / min_face (MTCNN's first
   pyramid scale, 0.6 for 20-px faces), not from the full-resolution frame: the same
   scales for less resampling work.
2. R-Net and O-Net crop their candidates from the *full-resolution* frame, all candidates of
   the batch at once with torchvision's `roi_align` (sampling_ratio 2: each output pixel is
   the mean of 2x2 bilinear samples, an area-like resize), instead of one Python-level
   resize per candidate, and run in fixed-size batches (batching.py: bounded memory).
   Cropping from the pre-scaled frame instead blurred small faces:
   on the 1080p crowd video it found 108 detections / 36 face-seconds against 115 / 40 at
   full resolution; this driver keeps full-resolution quality (benchmarks/face_recall.py).
"""

from __future__ import annotations

import numpy as np
import torch

from emotion_batch.models.batching import run_batched
from emotion_batch.vision.mtcnn_ops import (
    batched_nms,
    batched_nms_numpy,
    bbreg,
    generate_bounding_box,
    imresample,
    rerec,
    roi_align,
)


def _crops(full: torch.Tensor, boxes: torch.Tensor, inds: torch.Tensor, size: int) -> torch.Tensor:
    """(M, 3, size, size) normalised crops of integer pixel boxes [x1, y1, x2, y2] (inclusive,
    as MTCNN rounds them) from full (N, 3, H, W) float frames; zero outside the frame."""
    b = boxes[:, :4].trunc()
    rois = torch.cat([inds[:, None].to(b), b[:, :2], b[:, 2:] + 1], 1)
    out = roi_align(full, rois, (size, size), spatial_scale=1.0, sampling_ratio=2, aligned=False)
    return (out - 127.5) * 0.0078125


def pnet_boxes(reg: torch.Tensor, probs: torch.Tensor, scale: float, thresh: float):
    """facenet's `generateBoundingBox`: the P-Net cells with face probability >= thresh as boxes
    (K, 9: x1, y1, x2, y2, score, 4 regressions) in the resampled image's pixels, and their frame
    indices (K,). On the CPU the sparse selection runs in numpy: torch's nonzero and boolean
    indexing cost ~7 ms each on an 8-frame pyramid level here, numpy's argwhere 0.3 ms, and
    with the nets in onnxruntime that was ~15 % of detection. Same float32 arithmetic."""
    if reg.device.type != "cpu":
        return generate_bounding_box(reg, probs, scale, thresh)
    p, r = probs.numpy(), reg.numpy()
    n, y, x = np.nonzero(p >= thresh)
    bb = np.stack([x, y], 1).astype(np.float32)
    q1 = np.floor((2 * bb + 1) / np.float32(scale))
    q2 = np.floor((2 * bb + 12) / np.float32(scale))
    out = np.concatenate([q1, q2, p[n, y, x][:, None], r[n, :, y, x]], 1, dtype=np.float32)
    return torch.from_numpy(out), torch.from_numpy(n.astype(np.int64))


def _stage1(small: torch.Tensor, minsize: float, pnet, threshold: float, factor: float):
    """P-Net over the pyramid of `small` (N, 3, h, w): candidate boxes in `small` pixels."""
    h, w = small.shape[2:]
    m = 12.0 / minsize
    minl = min(h, w) * m
    scales = []
    scale = m
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor
    if not scales:  # a picture smaller than the smallest face: nothing to find (issue 26)
        return torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)
    boxes, inds = [], []
    for scale in scales:
        # the pre-scaled frame is the first level itself (facenet would stretch it by one pixel)
        im = small if scale == 1.0 else imresample(small, (int(h * scale + 1), int(w * scale + 1)))
        reg, probs = pnet((im - 127.5) * 0.0078125)
        b, i = pnet_boxes(reg, probs[:, 1], scale, threshold)
        pick = batched_nms(b[:, :4], b[:, 4], i, 0.5)
        boxes.append(b[pick])
        inds.append(i[pick])
    boxes, inds = torch.cat(boxes), torch.cat(inds)
    pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
    boxes, inds = boxes[pick], inds[pick]
    rw, rh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    q = torch.stack([boxes[:, 0] + boxes[:, 5] * rw, boxes[:, 1] + boxes[:, 6] * rh,
                     boxes[:, 2] + boxes[:, 7] * rw, boxes[:, 3] + boxes[:, 8] * rh, boxes[:, 4]], 1)
    return rerec(q), inds


def refine(full: torch.Tensor, boxes: torch.Tensor, inds: torch.Tensor, *, rnet, onet, thresholds):
    """MTCNN stages 2 and 3 on candidate boxes (full-resolution pixels) of frames `full`
    (N, 3, H, W) float. Returns boxes (K, 5: x1, y1, x2, y2, score), landmarks (K, 5, 2)
    and frame indices (K,)."""
    empty = (torch.zeros(0, 5), torch.zeros(0, 5, 2), torch.zeros(0, dtype=torch.long))
    if len(boxes) == 0:
        return empty
    reg, prob = run_batched(rnet, _crops(full, boxes, inds, 24))
    ok = prob[:, 1] > thresholds[1]
    boxes = torch.cat([boxes[ok, :4], prob[ok, 1:2]], 1)
    reg, inds = reg[ok], inds[ok]
    if len(boxes) == 0:
        return empty
    pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
    boxes = rerec(bbreg(boxes[pick], reg[pick]))
    inds = inds[pick]
    reg, pts, prob = run_batched(onet, _crops(full, boxes, inds, 48))
    ok = prob[:, 1] > thresholds[2]
    boxes, pts, reg, inds = torch.cat([boxes[ok, :4], prob[ok, 1:2]], 1), pts[ok], reg[ok], inds[ok]
    if len(boxes) == 0:
        return empty
    bw = (boxes[:, 2] - boxes[:, 0] + 1)[:, None]
    bh = (boxes[:, 3] - boxes[:, 1] + 1)[:, None]
    lm = torch.stack([bw * pts[:, :5] + boxes[:, 0:1] - 1, bh * pts[:, 5:10] + boxes[:, 1:2] - 1], -1)
    boxes = bbreg(boxes, reg)
    pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], inds, 0.7, "Min")
    return boxes[pick].cpu(), lm[pick].cpu(), inds[pick].cpu()


# Frames that go through the cascade together: the pass's float copies and P-Net feature
# maps are a quarter of what a 32-frame chunk needs, and P-Net was no slower per frame
# (123 vs 143 ms per 32 frames of 193x145 at 8 vs 32 frames per pass).
FRAMES_PER_PASS = 8


def detect(frames: torch.Tensor, prescale: float, min_face_px: float, *, pnet, rnet, onet,
           thresholds, factor: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Faces in uint8 (N, H, W, 3) frames: per frame (boxes (K, 5), landmarks (K, 5, 2)) in
    full-resolution pixels. P-Net sees the frames pre-scaled by `prescale`."""
    out = []
    for i in range(0, len(frames), FRAMES_PER_PASS):
        out += _detect(frames[i : i + FRAMES_PER_PASS], prescale, min_face_px, pnet=pnet, rnet=rnet, onet=onet,
                       thresholds=thresholds, factor=factor)
    return out


def _detect(frames, prescale, min_face_px, *, pnet, rnet, onet, thresholds, factor):
    # Planar (NCHW-contiguous) float frames, made by copying the uint8 frames before the float
    # conversion: `permute(...).float()` alone keeps the frames' channels-last strides, on
    # which torch's area resampling runs ~40 % slower, and roi_align and onnxruntime copy them
    # to planar on every call. Same values bit for bit; -14 to -15 % detection CPU
    # (benchmarks/detect_layout_ab.py).
    full = frames.permute(0, 3, 1, 2).contiguous().float()
    n, _, h, w = full.shape
    small = full
    if prescale < 1.0:
        small = imresample(full, (max(1, int(h * prescale + 1)), max(1, int(w * prescale + 1))))
    sy, sx = small.shape[2] / h, small.shape[3] / w
    cand, inds = _stage1(small, max(12.0, min_face_px * prescale), pnet, thresholds[0], factor)
    cand = cand.clone()
    cand[:, [0, 2]] /= sx
    cand[:, [1, 3]] /= sy
    boxes, lm, inds = refine(full, cand, inds, rnet=rnet, onet=onet, thresholds=thresholds)
    boxes, lm, inds = boxes.numpy(), lm.numpy(), inds.numpy()
    return [(boxes[inds == i], lm[inds == i]) for i in range(n)]

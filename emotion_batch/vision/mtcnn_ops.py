"""MTCNN's box arithmetic and the two torchvision ops it needs, without importing torchvision.

`import torchvision` costs ~1.6 s of CPU in every analysis process (its `ops` package imports
`torch._dynamo`), and `facenet_pytorch` imports it at once. The onnx runtime needs neither
package's Python code: only facenet's box helpers (below, from facenet-pytorch 2.5.3,
`models/utils/detect_face.py`, MIT licence, same arithmetic) and two compiled torchvision ops,
`nms` and `roi_align`, which live in torchvision's C++ extension library. That library is loaded
here directly, as `torchvision.extension` itself does; if it cannot be found, torchvision is
imported instead. tests/vision/test_mtcnn_ops.py checks each function against the original.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np
import torch
from torch.nn.functional import interpolate

__all__ = ["batched_nms", "batched_nms_numpy", "bbreg", "generate_bounding_box", "imresample", "nms", "rerec",
           "roi_align"]


@cache
def _torchvision_ops():
    """torch.ops.torchvision, with torchvision's compiled ops registered."""
    try:
        torch.ops.torchvision.nms  # noqa: B018  (already registered: torchvision was imported)
        return torch.ops.torchvision
    except (AttributeError, RuntimeError):
        pass
    spec = importlib.util.find_spec("torchvision")  # finds the package without running it
    for folder in (spec.submodule_search_locations or []) if spec else []:
        for lib in sorted(Path(folder).glob("_C*.so")) + sorted(Path(folder).glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(lib))
                torch.ops.torchvision.nms  # noqa: B018
                return torch.ops.torchvision
            except (OSError, RuntimeError, AttributeError):
                continue
    import torchvision  # noqa: F401  (registers the ops the usual way)

    return torch.ops.torchvision


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    """torchvision.ops.nms: indices of the kept boxes, by decreasing score."""
    return _torchvision_ops().nms(boxes, scores, iou)


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou: float) -> torch.Tensor:
    """torchvision.ops.batched_nms: NMS within each index value, never across (same two
    strategies, chosen by the same size rule)."""
    if boxes.numel() > (4000 if boxes.device.type == "cpu" else 100_000):
        keep = torch.zeros_like(scores, dtype=torch.bool)
        for value in torch.unique(idxs):
            inds = torch.where(idxs == value)[0]
            keep[inds[nms(boxes[inds], scores[inds], iou)]] = True
        kept = torch.where(keep)[0]
        return kept[scores[kept].sort(descending=True)[1]]
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=boxes.device)
    offsets = idxs.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes))
    return nms(boxes + offsets[:, None], scores, iou)


def roi_align(x: torch.Tensor, rois: torch.Tensor, size: tuple[int, int], *, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False) -> torch.Tensor:
    """torchvision.ops.roi_align for float input and (K, 5) rois [batch index, x1, y1, x2, y2]."""
    return _torchvision_ops().roi_align(x, rois, spatial_scale, size[0], size[1], sampling_ratio, aligned)


# ----------------------------------------------------------------------------- facenet's helpers


def imresample(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return interpolate(img, size=size, mode="area")


def rerec(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes made square around their centres (side = the longer side), in place."""
    h = boxes[:, 3] - boxes[:, 1]
    w = boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, :2] + side.repeat(2, 1).permute(1, 0)
    return boxes


def bbreg(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Boxes moved by the nets' regression outputs (fractions of width / height), in place."""
    if reg.shape[1] == 1:
        reg = torch.reshape(reg, (reg.shape[2], reg.shape[3]))
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    b1 = boxes[:, 0] + reg[:, 0] * w
    b2 = boxes[:, 1] + reg[:, 1] * h
    b3 = boxes[:, 2] + reg[:, 2] * w
    b4 = boxes[:, 3] + reg[:, 3] * h
    boxes[:, :4] = torch.stack([b1, b2, b3, b4]).permute(1, 0)
    return boxes


def generate_bounding_box(reg: torch.Tensor, probs: torch.Tensor, scale: float, thresh: float):
    """facenet's `generateBoundingBox` (the torch version, used off the CPU)."""
    stride, cellsize = 2, 12
    reg = reg.permute(1, 0, 2, 3)
    mask = probs >= thresh
    mask_inds = mask.nonzero()
    image_inds = mask_inds[:, 0]
    score = probs[mask]
    reg = reg[:, mask].permute(1, 0)
    bb = mask_inds[:, 1:].type(reg.dtype).flip(1)
    q1 = ((stride * bb + 1) / scale).floor()
    q2 = ((stride * bb + cellsize - 1 + 1) / scale).floor()
    return torch.cat([q1, q2, score.unsqueeze(1), reg], dim=1), image_inds


def _nms_numpy(boxes: np.ndarray, scores: np.ndarray, threshold: float, method: str) -> np.ndarray:
    """Greedy NMS of (K >= 1, 4) boxes; indices kept, best first."""
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(scores)
    pick = np.zeros_like(scores, dtype=np.int16)
    counter = 0
    while order.size > 0:
        i = order[-1]
        pick[counter] = i
        counter += 1
        rest = order[0:-1]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        inter = w * h
        if method == "Min":
            o = inter / np.minimum(area[i], area[rest])
        else:
            o = inter / (area[i] + area[rest] - inter)
        order = order[np.where(o <= threshold)]
    return pick[:counter].copy()


def batched_nms_numpy(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, threshold: float,
                      method: str) -> torch.Tensor:
    """facenet's NMS within each index value, "Min" (intersection over the smaller box) or IoU."""
    device = boxes.device
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64, device=device)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    keep = _nms_numpy((boxes + offsets[:, None]).cpu().numpy(), scores.cpu().numpy(), threshold, method)
    return torch.as_tensor(keep, dtype=torch.long, device=device)

"""Face detection: MTCNN, batched (see mtcnn.py), boxes and landmarks per frame.

MTCNN's image pyramid starts at scale 12 / min_face_px (its P-Net sees 12-px faces), so the
frame is pre-scaled by that for P-Net, while R-Net and O-Net crop from the full-resolution
frame (mtcnn.py explains why). A `max_side` smaller than that pre-scale gives scales the
frame further for speed and loses faces below 12 / scale pixels (benchmarks/face_recall.py).
Boxes and landmarks are in full-resolution pixels, where alignment crops from.

The three nets run under a `Runtime` (emotion_batch/models/runtime: eager torch, or their ONNX exports
in onnxruntime). Their torch modules (facenet-pytorch's, weights in its wheel) are built only when
torch runs them: an onnx run checks its exports against the weight files and never imports
facenet-pytorch or torchvision (vision/mtcnn_ops.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from emotion_batch.models.runtime import Runtime
from emotion_batch.models.runtime.specs import facenet_weights, torch_net, weights_digest
from emotion_batch.vision import mtcnn
from emotion_batch.vision.mtcnn_ops import rerec

# facenet-pytorch's MTCNN defaults: P-, R-, O-Net face probability thresholds, pyramid factor
THRESHOLDS = (0.6, 0.7, 0.7)
FACTOR = 0.709


@dataclass
class FrameFaces:
    """Faces found in one frame, full-resolution pixel coordinates."""

    boxes: np.ndarray  # float32 (K, 4) x1, y1, x2, y2
    scores: np.ndarray  # float32 (K,) MTCNN probability
    landmarks: np.ndarray  # float32 (K, 5, 2) eyes, nose, mouth corners as (x, y)

    @staticmethod
    def empty() -> "FrameFaces":
        return FrameFaces(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32)
        )

    def __len__(self) -> int:
        return len(self.scores)


class FaceDetector:
    """MTCNN over a batch of same-sized frames on one device."""

    def __init__(self, device: torch.device, max_side: int = 0, min_face_px: int = 20, min_score: float = 0.9,
                 runtime: Runtime | str = "torch"):
        self.device = device
        self.max_side = max_side
        self.min_face_px = min_face_px
        self.min_score = min_score
        self.thresholds, self.factor = list(THRESHOLDS), FACTOR
        self.runtime = rt = runtime if isinstance(runtime, Runtime) else Runtime.resolve(runtime, device)
        self.pnet, self.rnet, self.onet = (rt.net(n, lambda n=n: torch_net(n).to(device), _digest(n, rt.is_onnx))
                                           for n in ("pnet", "rnet", "onet"))

    def scale_for(self, h: int, w: int) -> float:
        lossless = min(1.0, 12.0 / self.min_face_px)
        return lossless if self.max_side <= 0 else min(lossless, self.max_side / max(h, w))

    @torch.inference_mode()
    def detect(self, frames: np.ndarray | torch.Tensor) -> list[FrameFaces]:
        """frames: uint8 (N, H, W, 3) RGB. Returns one FrameFaces per frame."""
        if len(frames) == 0:
            return []
        x = torch.as_tensor(frames).to(self.device)
        found = mtcnn.detect(x, self.scale_for(*x.shape[1:3]), self.min_face_px, pnet=self.pnet, rnet=self.rnet,
                             onet=self.onet, thresholds=self.thresholds, factor=self.factor)
        return [self._keep(b, p) for b, p in found]

    def _keep(self, boxes: np.ndarray, points: np.ndarray) -> FrameFaces:
        ok = boxes[:, 4] >= self.min_score
        if not ok.any():
            return FrameFaces.empty()
        return FrameFaces(boxes[ok, :4].astype(np.float32), boxes[ok, 4].astype(np.float32),
                          points[ok].astype(np.float32))

    @torch.inference_mode()
    def refine(self, frame: np.ndarray | torch.Tensor, boxes: np.ndarray, grow: float = 1.25) -> FrameFaces:
        """Re-detect faces near known positions in one full-resolution frame.

        Runs only MTCNN's second and third stages (R-Net, O-Net) on the given boxes,
        enlarged by `grow` so a face that moved is still inside, exactly as MTCNN treats
        the candidates its first stage proposes. This skips the image pyramid and P-Net,
        which are nearly all of the detector's cost, so tracking a face between full
        detections costs a few milliseconds. New faces are not found here.
        """
        if len(boxes) == 0:
            return FrameFaces.empty()
        # planar float frame, as in mtcnn._detect (roi_align would copy a channels-last one per call)
        img = torch.as_tensor(frame).to(self.device).permute(2, 0, 1).contiguous()[None].float()
        b = torch.as_tensor(np.asarray(boxes, np.float32), device=self.device)
        c, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) * grow / 2
        cand = rerec(torch.cat([c - half, c + half, torch.ones(len(b), 1, device=self.device)], 1))
        inds = torch.zeros(len(cand), dtype=torch.long, device=self.device)
        out, lm, _ = mtcnn.refine(img, cand, inds, rnet=self.rnet, onet=self.onet, thresholds=self.thresholds)
        return self._keep(out.numpy(), lm.numpy())


def _digest(name: str, needed: bool) -> str | None:
    """weights_digest of a net, read from its weight file (no module built), when an export is
    to be checked against it."""
    if not needed:
        return None
    return weights_digest(torch.load(facenet_weights(name), map_location="cpu", weights_only=True))

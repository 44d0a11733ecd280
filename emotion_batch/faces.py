"""Face detection (facenet-pytorch MTCNN, batched) and an IoU tracker for stable face ids.

MTCNN's image pyramid starts at scale 12 / min_face_px (its P-Net sees 12-px faces), so
with the default 20-px minimum the full-resolution frame is never looked at: detecting on
a frame pre-scaled by 0.6 with a 12-px minimum gives the same pyramid for less work. That
is the default (`max_side=0`). A smaller `max_side` scales further and loses faces below
12 / scale pixels (measured by benchmarks/face_recall.py). Boxes and landmarks are mapped
back to full-resolution coordinates, where alignment crops from the original pixels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from facenet_pytorch import MTCNN
from facenet_pytorch.models.utils.detect_face import (
    batched_nms_numpy,
    bbreg,
    detect_face,
    fixed_batch_process,
    imresample,
    pad,
    rerec,
)
from torchvision.ops.boxes import batched_nms
from scipy.optimize import linear_sum_assignment


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

    def __init__(self, device: torch.device, max_side: int = 0, min_face_px: int = 20, min_score: float = 0.9):
        self.device = device
        self.max_side = max_side
        self.min_face_px = min_face_px
        self.min_score = min_score
        # Weights of P-, R- and O-Net ship inside the facenet-pytorch wheel.
        self.mtcnn = MTCNN(keep_all=True, device=device).eval()

    def scale_for(self, h: int, w: int) -> float:
        lossless = min(1.0, 12.0 / self.min_face_px)
        return lossless if self.max_side <= 0 else min(lossless, self.max_side / max(h, w))

    @torch.inference_mode()
    def detect(self, frames: np.ndarray | torch.Tensor) -> list[FrameFaces]:
        """frames: uint8 (N, H, W, 3) RGB. Returns one FrameFaces per frame."""
        if len(frames) == 0:
            return []
        x = torch.as_tensor(frames).to(self.device)
        h, w = x.shape[1:3]
        scale = self.scale_for(h, w)
        if scale < 1.0:
            size = (max(1, round(h * scale)), max(1, round(w * scale)))
            x = x.permute(0, 3, 1, 2).float()
            x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
            x = x.clamp_(0, 255).permute(0, 2, 3, 1)
        minsize = max(12.0, self.min_face_px * scale)
        m = self.mtcnn
        boxes, points = detect_face(x, minsize, m.pnet, m.rnet, m.onet, m.thresholds, m.factor, self.device)
        out = []
        for b, p in zip(boxes, points):
            b = np.asarray(b, dtype=np.float32).reshape(-1, 5)
            p = np.asarray(p, dtype=np.float32).reshape(-1, 5, 2)
            keep = b[:, 4] >= self.min_score
            if not keep.any():
                out.append(FrameFaces.empty())
                continue
            out.append(FrameFaces(b[keep, :4] / scale, b[keep, 4], p[keep] / scale))
        return out


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
        img = torch.as_tensor(frame).to(self.device).permute(2, 0, 1)[None].float()
        h, w = img.shape[2:]
        b = torch.as_tensor(np.asarray(boxes, np.float32), device=self.device)
        c, half = (b[:, :2] + b[:, 2:]) / 2, (b[:, 2:] - b[:, :2]) * grow / 2
        cand = torch.cat([c - half, c + half, torch.ones(len(b), 1, device=self.device)], 1)
        cand = rerec(cand)
        inds = torch.zeros(len(cand), dtype=torch.long, device=self.device)
        m = self.mtcnn
        # stage 2 (R-Net) on the candidates, as in facenet_pytorch.detect_face
        out = fixed_batch_process(_crops(img, cand, w, h, 24), m.rnet)
        score = out[1][:, 1]
        ok = score > m.thresholds[1]
        cand = torch.cat([cand[ok, :4], score[ok, None]], 1)
        mv, inds = out[0][ok], inds[ok]
        if len(cand) == 0:
            return FrameFaces.empty()
        pick = batched_nms(cand[:, :4], cand[:, 4], inds, 0.7)
        cand = rerec(bbreg(cand[pick], mv[pick]))
        inds = inds[pick]
        # stage 3 (O-Net): final box, score and the five landmarks
        out = fixed_batch_process(_crops(img, cand, w, h, 48), m.onet)
        score = out[2][:, 1]
        ok = score > max(m.thresholds[2], self.min_score)
        if not ok.any():
            return FrameFaces.empty()
        pts, cand, mv, inds = out[1][ok], cand[ok], out[0][ok], inds[ok]
        bw = (cand[:, 2] - cand[:, 0] + 1)[:, None]
        bh = (cand[:, 3] - cand[:, 1] + 1)[:, None]
        px = bw * pts[:, :5] + cand[:, 0:1] - 1
        py = bh * pts[:, 5:10] + cand[:, 1:2] - 1
        lm = torch.stack([px, py], -1)
        cand = bbreg(torch.cat([cand[:, :4], score[ok, None]], 1), mv)
        pick = batched_nms_numpy(cand[:, :4], cand[:, 4], inds, 0.7, "Min")
        cand, lm = cand[pick].cpu().numpy(), lm[pick].cpu().numpy()
        return FrameFaces(cand[:, :4].astype(np.float32), cand[:, 4].astype(np.float32), lm.astype(np.float32))


def _crops(img: torch.Tensor, boxes: torch.Tensor, w: int, h: int, size: int) -> torch.Tensor:
    """Square crops of `boxes` from a (1, 3, H, W) float image, resized and normalised for
    MTCNN's R-Net (24) or O-Net (48); zero-padded where a box leaves the frame."""
    y, ey, x, ex = pad(boxes, w, h)
    out = []
    for k in range(len(y)):
        if ey[k] > y[k] - 1 and ex[k] > x[k] - 1:
            out.append(imresample(img[:, :, y[k] - 1 : ey[k], x[k] - 1 : ex[k]], (size, size)))
        else:  # degenerate box: an empty crop that the nets will reject
            out.append(torch.zeros(1, 3, size, size, device=img.device))
    return (torch.cat(out) - 127.5) * 0.0078125


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes a (M, 4) and b (N, 4)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


@dataclass
class _Track:
    face_id: int
    box: np.ndarray
    velocity: np.ndarray  # box change per second
    last_t: float

    def predict(self, t: float) -> np.ndarray:
        return self.box + self.velocity * (t - self.last_t)


def center_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise distance between box centres of a (M, 4) and b (N, 4), in units of the
    geometric-mean box side of each pair (scale-free: 1.0 = one face width apart)."""
    ca = (a[:, None, :2] + a[:, None, 2:]) / 2
    cb = (b[None, :, :2] + b[None, :, 2:]) / 2
    side_a = np.sqrt(np.prod(a[:, 2:] - a[:, :2], axis=1).clip(1e-9))
    side_b = np.sqrt(np.prod(b[:, 2:] - b[:, :2], axis=1).clip(1e-9))
    return np.linalg.norm(ca - cb, axis=2) / np.sqrt(side_a[:, None] * side_b[None, :])


@dataclass
class IoUTracker:
    """Gives each face a stable id across frames.

    Each live track predicts its box at the new frame's time (constant velocity), and
    detections are matched to predictions by a Hungarian assignment on IoU. At 5 analysed
    frames per second a walking face often moves more than its own overlap allows, so a
    pair also matches when the centres are within `max_center_dist` face widths and the
    sizes agree within a factor `max_size_ratio`. Unmatched detections start new tracks;
    a track unseen for longer than `max_gap_s` ends. Ids count up from 0 and are never
    reused within a video.
    """

    min_iou: float = 0.3
    max_gap_s: float = 1.0
    max_center_dist: float = 0.8
    max_size_ratio: float = 1.5
    next_id: int = 0
    tracks: list[_Track] = field(default_factory=list)

    def _affinity(self, pred: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Higher is better; -inf where a pair may not match."""
        iou = iou_matrix(pred, boxes)
        dist = center_distance(pred, boxes)
        side_p = np.sqrt(np.prod(pred[:, 2:] - pred[:, :2], axis=1).clip(1e-9))
        side_b = np.sqrt(np.prod(boxes[:, 2:] - boxes[:, :2], axis=1).clip(1e-9))
        ratio = np.maximum(side_p[:, None] / side_b[None, :], side_b[None, :] / side_p[:, None])
        ok = (iou >= self.min_iou) | ((dist <= self.max_center_dist) & (ratio <= self.max_size_ratio))
        return np.where(ok, iou - 0.5 * dist, -np.inf)

    def predicted_boxes(self, t: float) -> np.ndarray:
        """Where the live tracks are expected at time t (float32 (M, 4))."""
        live = [tr for tr in self.tracks if t - tr.last_t <= self.max_gap_s]
        return np.stack([tr.predict(t) for tr in live]).astype(np.float32) if live else np.zeros((0, 4), np.float32)

    def update(self, t: float, boxes: np.ndarray) -> np.ndarray:
        """Assign ids to the boxes of the frame at time t; returns int32 (K,)."""
        self.tracks = [tr for tr in self.tracks if t - tr.last_t <= self.max_gap_s]
        ids = np.full(len(boxes), -1, np.int32)
        if self.tracks and len(boxes):
            pred = np.stack([tr.predict(t) for tr in self.tracks])
            aff = self._affinity(pred, boxes)
            rows, cols = linear_sum_assignment(np.where(np.isfinite(aff), -aff, 1e6))
            for r, c in zip(rows, cols):
                if np.isfinite(aff[r, c]):
                    tr = self.tracks[r]
                    dt = t - tr.last_t
                    if dt > 0:
                        tr.velocity = 0.5 * tr.velocity + 0.5 * (boxes[c] - tr.box) / dt
                    tr.box, tr.last_t = boxes[c].astype(np.float32), t
                    ids[c] = tr.face_id
        for c in np.flatnonzero(ids < 0):
            self.tracks.append(_Track(self.next_id, boxes[c].astype(np.float32), np.zeros(4, np.float32), t))
            ids[c] = self.next_id
            self.next_id += 1
        return ids

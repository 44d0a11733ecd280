"""The reference for face recall: stock facenet-pytorch MTCNN on every analysed frame at full
resolution (no pre-scale, its own per-candidate crops), through the product's tracker, counted
as face-seconds: (face id, second) pairs with at least one detection."""

from __future__ import annotations

import numpy as np
import torch
from facenet_pytorch import MTCNN
from facenet_pytorch.models.utils.detect_face import detect_face

from emotion_batch.vision.track import IoUTracker
from emotion_batch.media import iter_frames


@torch.inference_mode()
def reference_face_seconds(path: str, fps: float = 5.0, min_score: float = 0.9) -> int:
    m = MTCNN(keep_all=True, device="cpu")
    tracker, seen = IoUTracker(), set()
    for chunk in iter_frames(path, fps, 16):
        boxes, _ = detect_face(torch.as_tensor(chunk.frames), m.min_face_size, m.pnet, m.rnet, m.onet,
                               m.thresholds, m.factor, "cpu")
        for t, b in zip(chunk.times, boxes):
            b = np.asarray(b, np.float32).reshape(-1, 5)
            b = b[b[:, 4] >= min_score]
            seen |= {(int(i), int(np.floor(t))) for i in tracker.update(float(t), b[:, :4])}
    return len(seen)

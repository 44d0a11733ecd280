"""Mouth boxes per face track, collected while faces are detected, for A/V sync.

The pipeline adds every analysed frame's tracked faces (`TrackLog.add`); sync reads the
per-track series (`TrackLog.tracks`) to know where each mouth is between analysed frames.
"""

from __future__ import annotations

import numpy as np


def mouth_boxes(landmarks: np.ndarray) -> np.ndarray:
    """(K, 5, 2) MTCNN landmarks -> (K, 4) x1, y1, x2, y2 mouth-and-jaw boxes (full-res px):
    1.5 mouth widths wide, from a quarter width above the mouth line to 0.9 widths below it."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    c = lm[:, 3:5].mean(1)
    w = np.maximum(np.linalg.norm(lm[:, 4] - lm[:, 3], axis=1), 4.0)
    return np.stack([c[:, 0] - 0.75 * w, c[:, 1] - 0.25 * w, c[:, 0] + 0.75 * w, c[:, 1] + 0.9 * w], 1)


class TrackLog:
    """Mouth boxes per face track at the analysis rate, collected in the pipeline's chunk loop:
    ``log.add(t, ids, frame_faces.landmarks)`` for every analysed frame."""

    def __init__(self) -> None:
        self._rows: dict[int, list[tuple[float, np.ndarray]]] = {}

    def add(self, t: float, ids: np.ndarray, landmarks: np.ndarray) -> None:
        if len(ids) == 0:
            return
        for fid, box in zip(np.asarray(ids).tolist(), mouth_boxes(landmarks)):
            self._rows.setdefault(int(fid), []).append((float(t), box))

    def tracks(self, min_obs: int = 3) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """face_id -> (times (M,), boxes (M, 4)) for tracks seen at least `min_obs` times."""
        out = {}
        for fid, rows in self._rows.items():
            if len(rows) >= min_obs:
                rows = sorted(rows, key=lambda r: r[0])
                out[fid] = (np.array([r[0] for r in rows]), np.stack([r[1] for r in rows]))
        return out

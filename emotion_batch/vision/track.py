"""Face tracking: stable face ids across frames (constant-velocity prediction, Hungarian matching
on IoU and centre distance)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    sizes agree within a factor `max_size_ratio`. Unmatched detections start new tracks.
    A track ends when it has been unseen for longer than `max_gap_s` AND for more than
    `max_gap_frames` analysed frames (`frame_step_s` apart): a gap is judged in analysed frames
    as well as seconds, so a face missed in one or two frames keeps its id at any analysis rate
    (at 1 frame/s the frames are ~1.04 s apart, and a seconds-only limit of 1 s ended a track at
    every frame). Ids count up from 0 and are never reused within a video.
    """

    min_iou: float = 0.3
    max_gap_s: float = 1.0
    max_center_dist: float = 0.8
    max_size_ratio: float = 1.5
    max_gap_frames: int = 2  # analysed frames a track may miss (0: judge in seconds only)
    frame_step_s: float = 0.0  # time between analysed frames (1 / fps); 0 = unknown
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

    @property
    def gap_s(self) -> float:
        """The longest time a track may go unseen: `max_gap_s`, or `max_gap_frames` missed
        frames plus half a step of slack for frame times off the nominal grid, if longer."""
        if self.max_gap_frames <= 0:
            return self.max_gap_s
        return max(self.max_gap_s, (self.max_gap_frames + 1.5) * self.frame_step_s)

    def _live(self, t: float) -> list:
        """The tracks still live at time t (seen within gap_s): those `update` can match."""
        gap = self.gap_s
        return [tr for tr in self.tracks if t - tr.last_t <= gap]

    def end_all(self) -> None:
        """A new shot begins: no track continues into it (ids go on counting)."""
        self.tracks = []

    def live_ids(self, t: float) -> set[int]:
        """The ids of the tracks still live at time t."""
        return {tr.face_id for tr in self._live(t)}

    def live_count(self, t: float) -> int:
        """How many tracks are still live at time t."""
        return len(self._live(t))

    def predicted_boxes(self, t: float) -> np.ndarray:
        """Where the live tracks are expected at time t (float32 (M, 4))."""
        live = self._live(t)
        return np.stack([tr.predict(t) for tr in live]).astype(np.float32) if live else np.zeros((0, 4), np.float32)

    def update(self, t: float, boxes: np.ndarray) -> np.ndarray:
        """Assign ids to the boxes of the frame at time t; returns int32 (K,)."""
        self.tracks = self._live(t)
        ids = np.full(len(boxes), -1, np.int32)
        if self.tracks and len(boxes):
            pred = np.stack([tr.predict(t) for tr in self.tracks])
            aff = self._affinity(pred, boxes)
            from scipy.optimize import linear_sum_assignment  # here: scipy.optimize costs ~0.5 s to import,
            # and the driver and planning tasks import this module for iou_matrix only

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

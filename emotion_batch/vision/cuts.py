"""Shot cuts between analysed frames: where a face track must not continue.

An edit that cuts from one person to another in the same place of the frame (an interview:
A | B | A | B) would otherwise keep one face_id across the cut, as the new face overlaps the
old one's box. `ShotCuts` compares each analysed frame with the previous one by their colour
histograms (16 bins per channel on a 1-in-8 pixel grid, so ~1 ms a frame at 1080p): half the
L1 distance of the normalised histograms is in [0, 1], and at or above `threshold` the frames
belong to different shots. A missed cut is what happened before; a false cut only splits a
track, which identity then joins again as one person (docs/identity.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BINS = 16
STRIDE = 8
# Measured on the six samples at --fps 0.5 and 5: within a shot at most 0.19 (no_face.mp4 at 0.5;
# faces' shots <= 0.09); cuts of an A|B interview edit of two samples 0.58-0.59 at every rate;
# a cut to or from black 0.48-0.90.
CUT_DISTANCE = 0.4


def colour_histogram(frame: np.ndarray) -> np.ndarray:
    """Normalised 3 x BINS histogram (float32 (3 * BINS,)) of an RGB uint8 frame (H, W, 3)."""
    px = frame[::STRIDE, ::STRIDE].reshape(-1, 3) // (256 // BINS)
    h = np.concatenate([np.bincount(px[:, c], minlength=BINS) for c in range(3)]).astype(np.float32)
    return h / max(float(h.sum()) / 3, 1.0)


@dataclass
class ShotCuts:
    threshold: float = CUT_DISTANCE
    previous: np.ndarray | None = None

    def distance(self, frame: np.ndarray) -> float:
        """Distance of `frame` from the previous frame given (0 for the first), and remember it."""
        h = colour_histogram(frame)
        d = 0.0 if self.previous is None else float(np.abs(h - self.previous).sum()) / 6
        self.previous = h
        return d

    def is_cut(self, frame: np.ndarray) -> bool:
        """`frame` starts a new shot (never the first frame)."""
        return self.distance(frame) >= self.threshold

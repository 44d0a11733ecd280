"""Which analysed frames get full face detection, and which only re-find the tracked faces.

Full MTCNN (image pyramid, P-Net, R-Net, O-Net) is most of the analysis on a CPU. Re-finding
faces that are already tracked (`FaceDetector.refine`: R-Net and O-Net on the predicted boxes)
costs a few milliseconds, but finds no new face. `KeyframePolicy` spends full detections where
they find something:

* **Unsettled scene: every frame.** A video starts unsettled. So does every frame after a
  full detection that disagreed with the tracker (a face no track expected, or a tracked face
  not found again) and after a refinement that lost a face.
* **Settled scene: on the last analysed frame of a second, at most `interval_s` apart** (with
  the default 1 s: the last frame of every second; with less, also in between). The scene
  settles once consecutive full detections have agreed with the tracker for 0.4 s
  (`SETTLE_S`; on the 118 s close-up benchmark file 187 full detections of 591 frames, 215
  when it took 1 s; the face-seconds of the six samples are the same either way).
  A face that appears in a settled scene is then found by the full detection at the end of
  its second (timelines are per second, so that second still has it; with an interval over
  1 s, up to that long later), and the scene is unsettled again from there.

With `interval_s` 0 every frame gets full detection (the policy is off). A segment of a long
video starts unsettled, with its own tracker: near segment starts it detects frames that the
whole video would only have re-found, so a split video's readings differ slightly from an
unsplit one's (a box by 0.05 px in the tests' video).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EPS_S = 1e-6
SETTLE_S = 0.4  # agreeing full detections this long settle the scene (or interval_s, if shorter)


@dataclass
class KeyframePolicy:
    """Per video (or segment): call `is_key(t, step_s)` before a frame is detected, then
    `full(t, agrees)` after a full detection or `refined(agrees)` after a refinement."""

    interval_s: float
    settled: bool = False
    calm_since: float | None = None  # first of the agreeing full detections in a row
    last_full_t: float | None = None

    def is_key(self, t: float, step_s: float) -> bool:
        """Full detection for the frame at `t`? `step_s` is the time to the next analysed frame."""
        if self.interval_s <= 0 or not self.settled or self.last_full_t is None:
            return True
        gap = t - self.last_full_t
        last_of_second = math.floor(t + step_s + EPS_S) > math.floor(t)
        # on a second's last frame when the next second's would be too late (half a step of
        # slack for frame times that are not exactly on the grid)
        return gap >= self.interval_s - EPS_S or (last_of_second and gap > self.interval_s - 1.0 + step_s / 2)

    def full(self, t: float, agrees: bool) -> None:
        """After a full detection at `t`; `agrees`: it found exactly the tracked faces (no new
        face, none of them missing)."""
        self.last_full_t = t
        if not agrees:
            self.settled, self.calm_since = False, None
            return
        if self.calm_since is None:
            self.calm_since = t
        if t - self.calm_since >= min(self.interval_s, SETTLE_S) - EPS_S:
            self.settled = True

    def refined(self, agrees: bool) -> None:
        """After re-finding the tracked faces; `agrees`: all of them were found."""
        if not agrees:
            self.settled, self.calm_since = False, None

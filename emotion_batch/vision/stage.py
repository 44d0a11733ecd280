"""The vision stages in the pipeline's one shape (pipeline/stage.py): `setup` once, then
`process` per chunk of decoded frames.

    FacesStage  "faces"  FrameChunk -> ChunkFaces     detect (MTCNN, keyframes) + track (IoU)
    AlignStage  "align"  FrameChunk -> AlignedFaces   5-point warp to 64x64, visual expert

What carries over from one chunk to the next within a video (tracks, the keyframe policy,
shot cuts, mouth boxes for sync) is a `FaceTracks`, one per video, passed to each call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from emotion_batch.config import RunConfig
from emotion_batch.media import FrameChunk
from emotion_batch.models.batching import run_batched
from emotion_batch.models.experts import Experts
from emotion_batch.timing import StageTimer
from emotion_batch.vision.align import align_faces_batch, to_model_input
from emotion_batch.vision.cuts import ShotCuts
from emotion_batch.vision.detect import FaceDetector, FrameFaces
from emotion_batch.vision.keyframes import KeyframePolicy
from emotion_batch.vision.mouths import TrackLog
from emotion_batch.vision.track import IoUTracker


@dataclass(frozen=True)
class ChunkFaces:
    """The faces stage's output for one chunk: per frame, its faces and their track ids."""

    times: np.ndarray  # float64 (N,) frame times
    faces: list[FrameFaces]  # N entries
    face_ids: list[np.ndarray]  # N entries, int32 (K_i,) stable ids

    @property
    def count(self) -> int:
        return sum(len(f) for f in self.faces)


@dataclass(frozen=True)
class AlignedFaces:
    """The align stage's output for one chunk: every face of every frame, flattened in frame order."""

    frame: np.ndarray  # int (K,) index of each face's frame within the chunk
    crops: torch.Tensor  # uint8 (K, 64, 64) aligned grayscale crops, on the analysis device
    visual: np.ndarray  # float32 (K, 7) visual-expert probabilities


@dataclass
class FaceTracks:
    """One video's (or segment's) face tracking state, carried from chunk to chunk."""

    tracker: IoUTracker
    keyframes: KeyframePolicy
    cuts: ShotCuts | None = None  # shot cuts end every track (vision/cuts.py); None: off
    mouths: TrackLog = field(default_factory=TrackLog)  # mouth boxes per track, for A/V sync

    @classmethod
    def start(cls, config: RunConfig) -> FaceTracks:
        c = config
        tracker = IoUTracker(min_iou=c.track_iou, max_gap_s=c.track_max_gap_s,
                             max_gap_frames=c.track_max_gap_frames, frame_step_s=1.0 / c.fps)
        return cls(tracker, KeyframePolicy(c.detect_interval_s), ShotCuts(c.shot_cut) if c.shot_cut > 0 else None)


class FacesStage:
    """Faces per frame: full MTCNN where the keyframe policy asks for it, else R/O-Net
    refinement of the tracked faces (see vision/keyframes.py). Full detections run in
    batches of the frames up to the next refined one. Updates the tracks and the mouth log."""

    name = "faces"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        c = config
        self.step_s = 1.0 / c.fps
        self.detector = FaceDetector(experts.device, c.detect_max_side, c.min_face_px, c.min_face_score,
                                     experts.runtime)

    def process(self, chunk: FrameChunk, /, *, tracks: FaceTracks) -> ChunkFaces:
        policy, tracker = tracks.keyframes, tracks.tracker
        faces, ids = [], []
        i, n = 0, len(chunk.times)
        cut = [tracks.cuts is not None and tracks.cuts.is_cut(f) for f in chunk.frames]
        while i < n:
            if cut[i]:  # a new shot: no track continues, and full detection finds its faces
                tracker.end_all()
                policy.refined(agrees=False)
            j = i
            while j < n and policy.is_key(float(chunk.times[j]), self.step_s) and (j == i or policy.interval_s <= 0):
                j += 1
            if j > i:  # full detection of frames i..j-1 (one frame unless the policy is off)
                for k, f in enumerate(self.detector.detect(chunk.frames[i:j])):
                    t = float(chunk.times[i + k])
                    if k and cut[i + k]:
                        tracker.end_all()
                    live, known = tracker.live_count(t), tracker.next_id
                    faces.append(f)
                    ids.append(tracker.update(t, f.boxes))
                    # every track matched once at most: all ids old and as many as the tracks
                    policy.full(t, agrees=len(ids[-1]) == live and bool((ids[-1] < known).all()))
                i = j
            else:
                t = float(chunk.times[i])
                predicted = tracker.predicted_boxes(t)
                f = self.detector.refine(chunk.frames[i], predicted)
                faces.append(f)
                ids.append(tracker.update(t, f.boxes))
                policy.refined(agrees=len(f) == len(predicted))
                i += 1
        for t, f, fid in zip(chunk.times, faces, ids):
            tracks.mouths.add(float(t), fid, f.landmarks)
        return ChunkFaces(chunk.times, faces, ids)


class AlignStage:
    """Aligned crops of every face of a chunk and the visual expert's reading of each (None:
    the chunk has no face). `timer` splits the time into "align" (the warp) and "models"."""

    name = "align"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        self.device, self.visual_net = experts.device, experts.visual_net

    def process(self, chunk: FrameChunk, /, *, faces: ChunkFaces, timer: StageTimer | None = None
                ) -> AlignedFaces | None:
        if faces.count == 0:
            return None
        timer = timer if timer is not None else StageTimer()
        owner = np.concatenate([np.full(len(f), i) for i, f in enumerate(faces.faces)])
        with timer("align"):
            landmarks = np.concatenate([f.landmarks for f in faces.faces if len(f)])
            frames = torch.from_numpy(chunk.frames).to(self.device)
            crops = align_faces_batch(frames, owner, landmarks)
        with timer("models"):
            probs = run_batched(self.visual_net, to_model_input(crops)).float().cpu().numpy()
        return AlignedFaces(owner, crops, probs)

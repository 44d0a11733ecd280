"""Real inputs of the five nets, captured from videos and speech clips.

Used to calibrate the int8 graphs (scripts/export_onnx.py), to benchmark the runtimes on what
they really see (benchmarks/runtime_ab.py), and to check int8 agreement
(benchmarks/int8_parity.py). The nets are wrapped by :class:`Recorder`, which keeps a copy of
every input batch (padding rows that ``run_batched`` adds included: the nets see them too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch


class Recorder:
    """Calls `net`; keeps a copy of each input batch, up to `max_batches`."""

    def __init__(self, net, max_batches: int = 10_000):
        self.net, self.max_batches, self.inputs = net, max_batches, []

    def __call__(self, x: torch.Tensor):
        if len(self.inputs) < self.max_batches:
            self.inputs.append(x.detach().clone())
        return self.net(x)


@dataclass
class Captured:
    """Input batches per net name (pnet, rnet, onet, visual, audio)."""

    batches: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def add(self, name: str, batches: list[torch.Tensor]) -> None:
        self.batches.setdefault(name, []).extend(batches)

    def rows(self, name: str) -> torch.Tensor:
        """All captured inputs of a net with a fixed input size, concatenated along the batch."""
        return torch.cat(self.batches[name]) if self.batches.get(name) else torch.zeros(0)


@torch.inference_mode()
def capture_video(paths: list[str], fps: float = 5.0, max_frames: int = 40, stride: int = 1) -> Captured:
    """Detector and visual-expert inputs from the first `max_frames` analysed frames (every
    `stride`-th) of each video, through the torch nets, as the analyzer runs them."""
    from emotion_batch.media import iter_frames
    from emotion_batch.models.batching import run_batched
    from emotion_batch.models.visual import load_visual_model
    from emotion_batch.vision.align import align_faces_batch, to_model_input
    from emotion_batch.vision.detect import FaceDetector

    det = FaceDetector(torch.device("cpu"), runtime="torch")
    rec = {n: Recorder(getattr(det, n)) for n in ("pnet", "rnet", "onet")}
    det.pnet, det.rnet, det.onet = rec["pnet"], rec["rnet"], rec["onet"]
    visual = Recorder(load_visual_model("cpu"))
    for path in paths:
        seen = 0
        for chunk in iter_frames(str(path), fps, 8):
            frames = chunk.frames[::stride][: max(0, max_frames - seen)]
            if len(frames) == 0:
                break
            seen += len(frames)
            faces = det.detect(frames)
            if sum(len(f) for f in faces):
                owner = np.concatenate([np.full(len(f), i) for i, f in enumerate(faces)])
                lm = np.concatenate([f.landmarks for f in faces if len(f)])
                crops = align_faces_batch(torch.from_numpy(frames), owner, lm)
                run_batched(visual, to_model_input(crops))
    out = Captured()
    for name, r in rec.items():
        out.add(name, r.inputs)
    out.add("visual", visual.inputs)
    return out


def speech_windows(root: str | Path, actors: set[int], per_actor: int = 12, window_s: float = 2.0,
                   seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """Log-mel windows (N, 64, frames) of RAVDESS-named speech clips of the given actors
    (`per_actor` clips each, drawn with `seed`, every window 0.5 s apart) and each window's clip label."""
    from emotion_batch.audio.features import log_mel
    from emotion_batch.training.datasets import find_clips, load_audio
    from emotion_batch.training.evaluate import clip_windows

    rng = np.random.default_rng(seed)
    clips = [c for c in find_clips(root) if c.actor in actors]
    chosen = []
    for actor in sorted(actors):
        mine = [c for c in clips if c.actor == actor]
        chosen += [mine[i] for i in sorted(rng.permutation(len(mine))[:per_actor])]
    mels, labels = [], []
    for clip in chosen:
        w = torch.from_numpy(clip_windows(load_audio(clip.path), window_s))
        mels.append(log_mel(w))
        labels += [clip.label] * len(w)
    return torch.cat(mels), np.asarray(labels)

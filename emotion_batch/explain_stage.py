"""Glue between a finished timeline and explain.py: which rows get feature-group
attributions, the inputs they need, and the attribution table.

Exact modality Shapley values are computed for every row with a prediction (four fused
passes per row, cheap). Feature-group attributions (SHAP expected gradients) need the
row's aligned face crop and log-mel window: only the seconds chosen by `--explain`
(`all`, `sample` = every `explain_every`-th second, `none`) keep those, so memory and
time stay proportional to what is explained.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from emotion_batch.config import RunConfig
from emotion_batch.explain import ExplainInput, explain
from emotion_batch.models.fusion import FusionParams
from emotion_batch.schemas import prob_columns


def wants_groups(config: RunConfig, second: int) -> bool:
    """Does `second` get feature-group attributions under the configured explain mode?"""
    if config.explain == "all":
        return True
    if config.explain == "sample":
        return second % config.explain_every == 0
    return False


class BestCrops:
    """The highest-scoring aligned crop of each (face, second) that will be explained."""

    def __init__(self, config: RunConfig):
        self.config = config
        self._best: dict[tuple[int, int], tuple[float, np.ndarray]] = {}

    def add(self, t: float, face_ids: np.ndarray, scores: np.ndarray, crops: torch.Tensor) -> None:
        second = int(np.floor(t))
        if not wants_groups(self.config, second):
            return
        for fid, score, crop in zip(face_ids.tolist(), scores.tolist(), crops):
            key = (int(fid), second)
            if key not in self._best or score > self._best[key][0]:
                self._best[key] = (score, crop.cpu().numpy())

    def get(self, face_id: int, second: int) -> np.ndarray | None:
        hit = self._best.get((face_id, second))
        return None if hit is None else hit[1]


def attributions(
    timeline: pa.Table, crops: BestCrops, mels: dict[int, np.ndarray], visual, audio,
    params: FusionParams, device: torch.device, config: RunConfig,
) -> pa.Table:
    """The ATTRIBUTION_SCHEMA table for a video's timeline rows (those with a prediction)."""
    d = timeline.to_pydict()
    v = np.array([d[c] for c in prob_columns("v")], dtype=np.float64).T if d["video_id"] else np.zeros((0, 7))
    a = np.array([d[c] for c in prob_columns("a")], dtype=np.float64).T if d["video_id"] else np.zeros((0, 7))
    inputs, groups = [], []
    for i in range(len(d["video_id"])):
        fid, s = d["face_id"][i], d["second"][i]
        has_face = d["n_frames"][i] > 0
        has_audio = not np.isnan(a[i]).any()
        side = None
        if has_face:
            w, h = d["box_x2"][i] - d["box_x1"][i], d["box_y2"][i] - d["box_y1"][i]
            side = float(np.sqrt(max(w * h, 0.0)))
        crop = crops.get(fid, s) if has_face else None
        mel = mels.get(s) if has_audio else None
        inputs.append(ExplainInput(
            video_id=d["video_id"][i], face_id=fid, second=s, crop=crop, logmel=mel,
            face_score=d["face_score"][i], face_size_px=side, speech=d["speech"][i] or 0.0,
            has_audio=has_audio, v_probs=v[i] if has_face else None, a_probs=a[i] if has_audio else None,
        ))
        groups.append(wants_groups(config, s) and (crop is not None or mel is not None))
    return explain(inputs, visual, audio, params, device, groups=np.array(groups, bool))

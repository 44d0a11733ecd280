"""Glue between a finished timeline and the explainer: which rows get feature-group
attributions, the inputs they need, and the attribution table.

Exact modality Shapley values are computed for every row with a prediction (four fused
passes per row, cheap). Feature-group attributions (SHAP expected gradients) need the
row's aligned face crop and log-mel window: only the seconds chosen by `--explain`
(`all`, `sample` = every `ExplainConfig.every`-th second, `none`) keep those, so memory and
time stay proportional to what is explained.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from emotion_batch.config import ExplainConfig, RunConfig
from emotion_batch.explain.select import wants_groups
from emotion_batch.explain.table import ExplainInput, explain
from emotion_batch.models.experts import Experts
from emotion_batch.models.fusion import FusionParams
from emotion_batch.fusion.timeline import Timeline


class BestCrops:
    """The highest-scoring aligned crop of each (face, second) that will be explained."""

    def __init__(self, settings: ExplainConfig):
        self.settings = settings
        self._best: dict[tuple[int, int], tuple[float, np.ndarray]] = {}

    def add(self, t: float, face_ids: np.ndarray, scores: np.ndarray, crops: torch.Tensor) -> None:
        second = int(np.floor(t))
        if not wants_groups(self.settings, second):
            return
        for fid, score, crop in zip(face_ids.tolist(), scores.tolist(), crops):
            key = (int(fid), second)
            if key not in self._best or score > self._best[key][0]:
                self._best[key] = (score, crop.cpu().numpy())

    def get(self, face_id: int, second: int) -> np.ndarray | None:
        hit = self._best.get((face_id, second))
        return None if hit is None else hit[1]


def attributions(
    timeline: Timeline, crops: BestCrops, *, mels: dict[int, np.ndarray], visual, audio,
    params: FusionParams, device: torch.device, settings: ExplainConfig,
) -> pa.Table:
    """The ATTRIBUTION_SCHEMA table for a video's timeline rows (those with a prediction)."""
    x = timeline.fusion
    box = timeline.box.astype(np.float64)
    side = np.sqrt(np.maximum((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 0.0))
    speech = timeline.speech if timeline.speech is not None else np.zeros(len(timeline), np.float32)
    inputs, groups = [], []
    for i in range(len(timeline)):
        fid, s = int(timeline.face_id[i]), int(timeline.second[i])
        has_face, has_audio = bool(x.has_face[i]), bool(x.has_audio[i])
        crop = crops.get(fid, s) if has_face else None
        mel = mels.get(s) if has_audio else None
        inputs.append(ExplainInput(
            video_id=timeline.video_id, face_id=fid, second=s, crop=crop, logmel=mel,
            face_score=float(x.face_score[i]) if has_face else None, face_size_px=float(side[i]) if has_face else None,
            speech=float(speech[i]), has_audio=has_audio,
            v_probs=x.visual[i] if has_face else None, a_probs=x.audio[i] if has_audio else None,
            speaker_p=float(timeline.speaker_p[i]) if has_face and np.isfinite(timeline.speaker_p[i]) else None,
        ))
        groups.append(wants_groups(settings, s) and (crop is not None or mel is not None))
    return explain(inputs, visual, audio, fusion_params=params, device=device, groups=np.array(groups, bool))


class ExplainStage:
    """The explain stage in the pipeline's one shape (pipeline/stage.py): once per video,
    Timeline -> the ATTRIBUTION_SCHEMA table, through the experts' torch modules (gradients)."""

    name = "explain"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        self.config, self.experts = config, experts

    def start(self) -> BestCrops:
        """One video's store of the crops that will be explained (fed per chunk)."""
        return BestCrops(self.config.explain)

    def process(self, timeline: Timeline, /, *, crops: BestCrops, mels: dict[int, np.ndarray]) -> pa.Table:
        e = self.experts
        return attributions(timeline, crops, mels=mels, visual=e.visual, audio=e.audio, params=e.fusion_params,
                            device=e.device, settings=self.config.explain)

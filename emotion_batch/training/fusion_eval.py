"""Fusion scored on labelled audio-visual clips, with its gate fitted on other actors.

A fixed gate cannot be right for every kind of video: how much the face and the voice can be
trusted depends on the footage (acted studio clips, interviews, a face model that sees a face
unlike its training data). `cross_fit` measures what a gate fitted for this kind of footage
gives, without testing on what it was fitted on: for each actor, the gate is fitted
(`fit_fusion`) on the (face, second) rows of every OTHER actor's clips and the held-out
actor's clips are re-fused with it (`refuse`, the pipeline's own fusion). The clip prediction is
the mean fused distribution over its seconds, as for the other views of `evaluate av`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from emotion_batch.models.fusion import FusionModel, FusionParams
from emotion_batch.training.train_fusion import MIN_SPEECH_GRID, FusionRecord, _stack, cues, fit_fusion, refuse

@dataclass
class LabelledClip:
    """One analysed clip: its actor (the split unit), label and timeline rows as records."""

    path: str
    actor: int
    label: int
    records: list[FusionRecord]


def clip_mean(probs: np.ndarray) -> np.ndarray | None:
    """Mean of the rows that hold a prediction (non-NaN); None if there is none."""
    rows = probs[~np.isnan(probs).any(axis=1)] if len(probs) else probs
    return rows.mean(axis=0) if len(rows) else None


def mean_w_audio(params: FusionParams, records: list[FusionRecord]) -> float | None:
    """Mean audio weight the gate gives the rows that have a face and usable audio."""
    both = [r for r in records if r.v_probs is not None and r.a_probs is not None
            and r.speech >= params.min_speech and not r.speaker_p <= 0]
    if not both:
        return None
    b = _stack(both)
    _, w_a = FusionModel(None, None, params).weights(**cues(b))
    return float(w_a.detach().mean())


def cross_fit(clips: list[LabelledClip], init: FusionParams) -> tuple[list[np.ndarray | None], list[dict]]:
    """Leave-one-actor-out: each clip's fused prediction under a gate fitted on the other actors.

    Returns the per-clip predictions (None where no row has a prediction) and one summary per
    fold (held-out actor, records used, fitted parameters, mean audio weight on its clips). A
    fold whose training rows never have both modalities keeps `init` and says so."""
    actors = sorted({c.actor for c in clips})
    if len(actors) < 2:
        raise ValueError(f"cross-fitting needs clips of at least two actors, these are all actor {actors}")
    preds: list[np.ndarray | None] = [None] * len(clips)
    folds = []
    for actor in actors:
        train = [r for c in clips if c.actor != actor for r in c.records]
        try:
            params, note = fit_fusion(train, init=init, min_speech_grid=MIN_SPEECH_GRID), "fitted"
        except ValueError as e:
            params, note = init, f"kept the starting gate: {e}"
        held = [i for i, c in enumerate(clips) if c.actor == actor]
        for i in held:
            preds[i] = clip_mean(refuse(clips[i].records, params))
        folds.append({
            "held_out_actor": actor, "clips": len(held), "note": note,
            "train_rows_with_both": sum(r.v_probs is not None and r.a_probs is not None for r in train),
            "params": asdict(params),
            "mean_w_audio": mean_w_audio(params, [r for i in held for r in clips[i].records]),
        })
    return preds, folds


__all__ = ["LabelledClip", "clip_mean", "cross_fit", "mean_w_audio"]

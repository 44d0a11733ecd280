"""What fusion sees and returns, as named columns instead of positional arrays.

`FusionInputs` holds one value per timeline row (N rows); a `Fuser` turns it into `Fused`.
`make_fusion` builds the reliability- and speaker-gated fuser of `models/fusion.py`;
`visual_only` is the fuser used when no audio model is in play.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from emotion_batch.models.fusion import FusionParams, fuse_probs


@dataclass(frozen=True)
class FusionInputs:
    """Expert readings and reliability cues of N timeline rows."""

    visual: np.ndarray  # float32 (N, 7); NaN rows where the row has no face
    audio: np.ndarray  # float32 (N, 7); NaN rows where no audio covers the second
    face_score: np.ndarray  # float32 (N,) mean detection probability (NaN without a face)
    face_size_px: np.ndarray  # float32 (N,) side of the mean face box (NaN without a face)
    speech: np.ndarray  # float32 (N,) voice-activity fraction of the second
    has_face: np.ndarray  # bool (N,)
    has_audio: np.ndarray  # bool (N,)
    # float32 (N,) probability that the row's face is the one speaking (fusion/speaker.py); it
    # scales the row's audio weight. NaN (not measured, no face) or None: 1, the ungated fusion.
    speaker_p: np.ndarray | None = None


@dataclass(frozen=True)
class Fused:
    """Fusion output for N rows; NaN rows of `probs` mean no modality could be used."""

    probs: np.ndarray  # float32 (N, 7)
    w_visual: np.ndarray  # float32 (N,)
    w_audio: np.ndarray  # float32 (N,)


Fuser = Callable[[FusionInputs], Fused]


def visual_only(x: FusionInputs) -> Fused:
    """Fusion used when no audio model is in play: fused = visual, w_visual = 1."""
    w = x.has_face.astype(np.float32)
    return Fused(np.where(x.has_face[:, None], x.visual, np.nan).astype(np.float32), w, np.zeros_like(w))


def make_fusion(params: FusionParams) -> Fuser:
    """The reliability-gated fusion (models/fusion.py) with `params`, as a Fuser."""

    def fuse(x: FusionInputs) -> Fused:
        out = fuse_probs(x.visual, x.audio, face_score=x.face_score, face_size_px=x.face_size_px, speech=x.speech,
                         has_face=x.has_face, has_audio=x.has_audio, params=params, speaker_p=x.speaker_p)
        w_v, w_a = out.w_visual.numpy(), out.w_audio.numpy()
        p = out.fused.numpy().astype(np.float32)
        p[(w_v + w_a) <= 0] = np.nan  # neither modality usable: no prediction, not a uniform one
        return Fused(p, w_v.astype(np.float32), w_a.astype(np.float32))

    return fuse

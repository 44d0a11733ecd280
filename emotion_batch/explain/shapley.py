"""Why a second got its label: exact modality Shapley values and SHAP feature-group shares.

**Modality values (exact, every row).** Face and voice are the two players. The value of a
coalition is the fused probability of the row's predicted label (argmax of the fused output with
both modalities) when only that coalition is present, and "absent" is the fusion model's own
missing-modality mechanism: the ``has_face`` / ``has_audio`` masks of ``fuse_probs``, which select
an expert exactly rather than feeding it a zero input. With the empty coalition
``v(∅) = 1/7`` (``fuse_probs`` returns the uniform distribution when neither is present):

    shap_base   = v(∅)
    shap_visual = ½[(v(F) − v(∅)) + (v(FA) − v(A))]
    shap_audio  = ½[(v(A) − v(∅)) + (v(FA) − v(F))]

so ``shap_visual + shap_audio + shap_base = v(FA) = p_label`` (four fused passes per row, all
rows in one vectorised ``fuse_probs`` call). Audio that fusion does not use (no audio, or speech
below ``min_speech``) makes ``v(A) = v(∅)`` and ``v(FA) = v(F)``, hence ``shap_audio = 0``
exactly; a row without a face gets ``shap_visual = 0`` exactly. A row with neither usable
modality has no prediction (its timeline ``emotion`` is null) and gets no attribution row.

**Speaker gate.** A face row's audio weight is scaled by its ``speaker_p`` g (the probability
that this face is the one speaking, ``models/fusion.py``). The coalitions use the same gate:
``v(FA)`` is the gated fusion itself, and the voice alone on a face row enters with weight
1 x g, ``v(A) = softmax(g log p_audio)`` (the audio-only fusion with its one weight gated; at
g = 1 exactly ``p_audio``, as without the gate; a face_id -1 row is never gated). So a listener
(g = 0) has ``v(A) = v(∅)`` and ``v(FA) = v(F)``: ``shap_audio = 0`` exactly, and additivity
holds for every g.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emotion_batch.labels import N_LABELS
from emotion_batch.models.fusion import PROB_FLOOR, FusionParams, fuse_probs, load_default_params


@dataclass
class ModalityShapley:
    """Exact two-player values per row (float64 arrays of length N)."""

    label: np.ndarray  # int64 index into LABELS; -1 where neither modality is usable
    p_label: np.ndarray
    shap_visual: np.ndarray
    shap_audio: np.ndarray
    shap_base: np.ndarray
    has_face: np.ndarray  # bool
    audio_used: np.ndarray  # bool: audio present, speech >= min_speech, and not a face with speaker_p 0

    @property
    def explained(self) -> np.ndarray:
        return self.label >= 0


def modality_shapley(v_probs, a_probs, *, face_score, face_size_px, speech, has_face, has_audio,
                     fusion_params: FusionParams | None = None, speaker_p=None) -> ModalityShapley:
    """Shapley values of face and voice for the fused probability of each row's predicted label.

    Arguments as ``fusion.fuse_probs`` (N rows; rows of an absent modality may hold NaN);
    ``speaker_p``: the speaker gate per row (None or NaN = 1, ungated)."""
    params = fusion_params or load_default_params()
    v = np.asarray(v_probs, np.float32).reshape(-1, N_LABELS)
    a = np.asarray(a_probs, np.float32).reshape(-1, N_LABELS)
    n = len(v)

    def col(x, dtype=np.float32):
        return np.broadcast_to(np.asarray(x, dtype=dtype), (n,)).astype(dtype)

    score, size, sp = (col(x) for x in (face_score, face_size_px, speech))
    face, aud = col(has_face, bool), col(has_audio, bool)
    gate = np.ones(n, np.float32) if speaker_p is None else np.clip(np.nan_to_num(col(speaker_p), nan=1.0), 0, 1)
    audio_used = aud & (sp >= params.min_speech) & (~face | (gate > 0))
    off = np.zeros(n, bool)
    # Coalitions stacked: both, face only, audio only, none. The audio-only coalition keeps the
    # audio only where the row uses it (a listener's audio is absent from every coalition).
    masks_f = np.concatenate([face, face, off, off])
    masks_a = np.concatenate([aud, off, aud & audio_used, off])
    out = fuse_probs(np.tile(v, (4, 1)), np.tile(a, (4, 1)), face_score=np.tile(score, 4), face_size_px=np.tile(size, 4),
                     speech=np.tile(sp, 4), has_face=masks_f, has_audio=masks_a, params=params,
                     speaker_p=np.tile(gate, 4))
    fused = out.fused.numpy().reshape(4, n, N_LABELS).astype(np.float64)
    fused[2] = _gated_audio_alone(fused[2], a, face & audio_used, gate)
    w_v, w_a = out.w_visual.numpy()[:n], out.w_audio.numpy()[:n]
    usable = (w_v + w_a) > 0
    label = np.where(usable, np.argmax(fused[0], axis=1), -1).astype(np.int64)
    pick = np.take_along_axis(fused, np.maximum(label, 0)[None, :, None], 2)[..., 0]
    v_fa, v_f, v_a, v_0 = pick
    s_vis = 0.5 * ((v_f - v_0) + (v_fa - v_a))
    s_aud = 0.5 * ((v_a - v_0) + (v_fa - v_f))
    # Exact zeros by construction (selection in fuse_probs); enforced against float noise.
    s_vis = np.where(face, s_vis, 0.0)
    s_aud = np.where(audio_used, s_aud, 0.0)
    return ModalityShapley(label, v_fa, s_vis, s_aud, v_0, face, audio_used)


def _gated_audio_alone(alone: np.ndarray, a: np.ndarray, rows: np.ndarray, gate: np.ndarray) -> np.ndarray:
    """The audio-only coalition of face rows with a gate below 1: softmax(g log p_audio), the
    audio-alone fusion with its weight gated (module docstring); other rows as fused."""
    sel = rows & (gate < 1)
    if sel.any():
        logp = np.log(np.clip(np.nan_to_num(a[sel].astype(np.float64), nan=1.0 / N_LABELS), PROB_FLOOR, None))
        z = gate[sel, None] * logp
        z = np.exp(z - z.max(axis=1, keepdims=True))
        alone = alone.copy()
        alone[sel] = z / z.sum(axis=1, keepdims=True)
    return alone

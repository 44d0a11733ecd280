"""Reliability-gated fusion of the visual and audio experts (weighted product of experts).

Each expert gets a reliability in (0, 1) from what is known about its input at that second:

    r_v = sigmoid(a_v + b_score * (logit(face_score) - logit(0.99)) + b_size * log(face_size_px / 64))
    r_a = sigmoid(a_a + b_speech * logit(speech))

and the two are normalised to weights ``w_v = r_v / (r_v + r_a)``, ``w_a = 1 - w_v``. The fused
distribution is the weighted log-linear pool (geometric mean) of the expert distributions:

    fused = softmax(w_v * log p_visual + w_a * log p_audio)

**Speaker gate.** The audio of a second belongs to whoever speaks in it, not to every visible
face. A per-row ``speaker_p`` in [0, 1] (the probability that this face is the one speaking,
``fusion/speaker.py``; default 1, NaN = not measured = 1) scales the audio weight of a row that
has a face and usable audio:

    w_audio' = w_audio * speaker_p,    w_visual' = 1 - w_audio'

so a listener (speaker_p ~ 0) keeps its visual reading, the speaker gets the fused one, and
speaker_p = 1 is exactly the ungated fusion. Rows without a face ignore speaker_p.

A missing modality is handled exactly, by selection rather than by a limit:

- no face (``has_face`` False): ``fused == p_audio``, ``w_visual = 0``, ``w_audio = 1``;
- no audio, speech below ``min_speech``, or a face whose ``speaker_p`` is 0 (the audio is
  not this face's): ``fused == p_visual``, ``w_visual = 1``, ``w_audio = 0``;
- neither: ``fused`` uniform (1/7 each), both weights 0.

``face_size_px`` is the side of the face box (sqrt of its width x height, full-resolution
pixels); ``speech`` the voice-activity fraction of the second (``emotion_batch.audio``).
Default parameters (``weights/fusion_default.json``) come from the experts' measured accuracies:
``a_v`` and ``a_a`` are the log-odds of each expert's accuracy (visual: 66 % on FER2013 as
published; audio: validation accuracy on held-out RAVDESS actors). See MODEL_CARD.md (## Fusion).
``emotion_batch.training.train_fusion.fit_fusion`` fits them on labelled audio-visual clips.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from emotion_batch.labels import N_LABELS
from emotion_batch.models.fusion_params import (  # noqa: F401  (re-exported: the gate's parameters)
    DEFAULT_PARAMS_PATH, FusionParams, load_default_params, load_fusion_params,
)

PROB_FLOOR = 1e-6  # expert probabilities are clamped here before the log
REF_SCORE = 0.99
REF_SIZE_PX = 64.0


class FusionOutput(NamedTuple):
    fused: torch.Tensor  # (N, 7)
    visual: torch.Tensor  # (N, 7), NaN rows where there is no face
    audio: torch.Tensor  # (N, 7), NaN rows where there is no audio
    w_visual: torch.Tensor  # (N,)
    w_audio: torch.Tensor  # (N,)


def _logit(p: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    p = p.clamp(eps, 1 - eps)
    return torch.log(p) - torch.log1p(-p)


def _vec(x, n: int, dtype=torch.float32) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=dtype)
    return t.expand(n).clone() if t.ndim == 0 else t.reshape(n)


class FusionModel(nn.Module):
    """Visual expert + audio expert + reliability gate. ``params`` holds the gate's scalars as
    trainable ``nn.Parameter``s (``fit_fusion`` optimises them); the experts are frozen."""

    def __init__(self, visual_model: nn.Module | None, audio_model: nn.Module | None, params: FusionParams | None = None):
        super().__init__()
        self.visual_model = visual_model
        self.audio_model = audio_model
        p = params or FusionParams()
        self.a_v = nn.Parameter(torch.tensor(p.a_v))
        self.b_score = nn.Parameter(torch.tensor(p.b_score))
        self.b_size = nn.Parameter(torch.tensor(p.b_size))
        self.a_a = nn.Parameter(torch.tensor(p.a_a))
        self.b_speech = nn.Parameter(torch.tensor(p.b_speech))
        self.min_speech = float(p.min_speech)

    @property
    def params(self) -> FusionParams:
        return FusionParams(
            a_v=self.a_v.item(), b_score=self.b_score.item(), b_size=self.b_size.item(),
            a_a=self.a_a.item(), b_speech=self.b_speech.item(), min_speech=self.min_speech,
        )

    def _audio_used(self, speech, has_face, has_audio, speaker_p) -> tuple[torch.Tensor, torch.Tensor]:
        """(audio_used, speaker_p): which rows use their audio (present, speech >= min_speech, and
        not a face with speaker_p 0) and the gate per row (NaN / None -> 1)."""
        has_face = torch.as_tensor(has_face, dtype=torch.bool).reshape(-1)
        n = has_face.shape[0]
        gate = torch.ones(n) if speaker_p is None else torch.nan_to_num(_vec(speaker_p, n), nan=1.0).clamp(0, 1)
        audio_ok = _vec(has_audio, n, torch.bool) & (_vec(speech, n) >= self.min_speech)
        return audio_ok & (~has_face | (gate > 0)), gate

    def weights(self, *, face_score, face_size_px, speech, has_face, has_audio,
                speaker_p=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(w_visual, w_audio), each (N,), for the given reliability cues, presence masks and
        speaker gate (``speaker_p``: None = 1 for every row)."""
        has_face = torch.as_tensor(has_face, dtype=torch.bool).reshape(-1)
        n = has_face.shape[0]
        speech = _vec(speech, n)
        audio_used, gate = self._audio_used(speech, has_face, has_audio, speaker_p)
        score = torch.nan_to_num(_vec(face_score, n), nan=REF_SCORE)
        size = torch.nan_to_num(_vec(face_size_px, n), nan=REF_SIZE_PX).clamp(min=1.0)
        g_v = self.a_v + self.b_score * (_logit(score) - math.log(REF_SCORE / (1 - REF_SCORE))) \
            + self.b_size * torch.log(size / REF_SIZE_PX)
        g_a = self.a_a + self.b_speech * _logit(speech)
        r_v, r_a = torch.sigmoid(g_v), torch.sigmoid(g_a)
        both_w = r_v / (r_v + r_a)
        both_a = (1 - both_w) * gate
        both_v = torch.where(gate >= 1, both_w, 1 - both_a)  # gate 1: bit for bit the ungated weights
        zero, one = torch.zeros_like(both_a), torch.ones_like(both_a)
        both = has_face & audio_used
        w_v = torch.where(both, both_v, torch.where(has_face, one, zero))
        w_a = torch.where(both, both_a, torch.where(audio_used, one, zero))
        return w_v, w_a

    def fuse_probs(self, v_probs, a_probs, *, face_score, face_size_px, speech, has_face, has_audio,
                   speaker_p=None) -> FusionOutput:
        """Fuse precomputed expert probabilities (rows of an absent modality are ignored, may be
        NaN); ``speaker_p`` gates each face row's audio weight (module docstring)."""
        v = torch.as_tensor(v_probs, dtype=torch.float32).reshape(-1, N_LABELS)
        a = torch.as_tensor(a_probs, dtype=torch.float32).reshape(-1, N_LABELS)
        n = v.shape[0]
        has_face = torch.as_tensor(has_face, dtype=torch.bool).reshape(-1)
        has_audio = _vec(has_audio, n, torch.bool)
        w_v, w_a = self.weights(face_score=face_score, face_size_px=face_size_px, speech=speech, has_face=has_face, has_audio=has_audio,
                                speaker_p=speaker_p)
        audio_used, _ = self._audio_used(speech, has_face, has_audio, speaker_p)
        uniform = torch.full_like(v, 1.0 / N_LABELS)
        v_safe = torch.where(has_face[:, None], torch.nan_to_num(v, nan=1.0 / N_LABELS), uniform)
        a_safe = torch.where(audio_used[:, None], torch.nan_to_num(a, nan=1.0 / N_LABELS), uniform)
        pooled = torch.softmax(
            w_v[:, None] * torch.log(v_safe.clamp(min=PROB_FLOOR))
            + w_a[:, None] * torch.log(a_safe.clamp(min=PROB_FLOOR)),
            dim=1,
        )
        fused = torch.where(
            (has_face & audio_used)[:, None],
            pooled,
            torch.where(has_face[:, None], v_safe, torch.where(audio_used[:, None], a_safe, uniform)),
        )
        nan = torch.full_like(v, float("nan"))
        # The expert outputs are reported wherever their input exists (audio even when its
        # speech fraction is too low to be used, or the face is not the one speaking): the
        # timeline shows what each expert said.
        return FusionOutput(
            fused=fused,
            visual=torch.where(has_face[:, None], v, nan),
            audio=torch.where(has_audio[:, None], a, nan),
            w_visual=w_v,
            w_audio=w_a,
        )

    def forward(self, face_crops, logmel, *, face_score, face_size_px, speech, has_face, has_audio,
                speaker_p=None) -> FusionOutput:
        """Run the experts on the rows that have their modality, then ``fuse_probs``.

        face_crops (N, 1, 64, 64) or None; logmel (N, 64, frames) or None; rows whose mask is
        False are never passed to the expert (their input may hold anything).
        """
        has_face = torch.as_tensor(has_face, dtype=torch.bool).reshape(-1)
        n = has_face.shape[0]
        has_audio = _vec(has_audio, n, torch.bool)
        if face_crops is None:
            has_face = torch.zeros(n, dtype=torch.bool)
        if logmel is None:
            has_audio = torch.zeros(n, dtype=torch.bool)
        v = torch.full((n, N_LABELS), float("nan"))
        a = torch.full((n, N_LABELS), float("nan"))
        with torch.no_grad():
            if has_face.any():
                v[has_face] = self.visual_model(face_crops[has_face]).float().cpu()
            if has_audio.any():
                a[has_audio] = self.audio_model(logmel[has_audio]).float().cpu()
        return self.fuse_probs(v, a, face_score=face_score, face_size_px=face_size_px, speech=speech, has_face=has_face, has_audio=has_audio,
                               speaker_p=speaker_p)


def fuse_probs(v_probs, a_probs, *, face_score, face_size_px, speech, has_face, has_audio,
               params: FusionParams | None = None, speaker_p=None) -> FusionOutput:
    """Functional form for callers without the experts (pipeline batching, explainer masking)."""
    model = FusionModel(None, None, params or load_default_params())
    with torch.no_grad():
        return model.fuse_probs(v_probs, a_probs, face_score=face_score, face_size_px=face_size_px, speech=speech, has_face=has_face, has_audio=has_audio,
                                speaker_p=speaker_p)

"""Reliability-gated fusion: exact missing-modality behaviour, weight invariants, batching."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from emotion_batch.labels import N_LABELS
from emotion_batch.models.fusion import (
    DEFAULT_PARAMS_PATH,
    FusionModel,
    FusionOutput,
    FusionParams,
    fuse_probs,
    load_default_params,
)


def _probs(n, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.softmax(torch.randn(n, N_LABELS, generator=g) * 2, dim=1)


def _cues(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        face_score=0.8 + 0.2 * torch.rand(n, generator=g),
        face_size_px=20 + 200 * torch.rand(n, generator=g),
        speech=torch.rand(n, generator=g),
    )


@pytest.fixture
def fusion():
    return FusionModel(None, None, FusionParams(a_v=0.66, a_a=0.5))


def test_both_present_weights_in_unit_interval_and_sum_to_one(fusion):
    n = 64
    c = _cues(n)
    c["speech"] = 0.2 + 0.8 * c["speech"]
    out = fusion.fuse_probs(_probs(n, 1), _probs(n, 2), **c, has_face=torch.ones(n, dtype=torch.bool),
                            has_audio=torch.ones(n, dtype=torch.bool))
    assert isinstance(out, FusionOutput)
    assert ((out.w_visual > 0) & (out.w_visual < 1)).all()
    assert torch.allclose(out.w_visual + out.w_audio, torch.ones(n))
    assert torch.allclose(out.fused.sum(dim=1), torch.ones(n), atol=1e-5)
    # the geometric pool lies between the experts: where they agree on a label, so does it
    v = torch.eye(N_LABELS)[[3]] * 0.9 + 0.1 / N_LABELS
    one = fusion.fuse_probs(v, v, face_score=0.99, face_size_px=64.0, speech=1.0, has_face=[True], has_audio=[True])
    assert torch.allclose(one.fused, v, atol=1e-5)


def test_no_face_gives_exactly_the_audio_expert(fusion):
    n = 16
    a = _probs(n, 3)
    v = torch.full((n, N_LABELS), float("nan"))  # no face: whatever sits there is ignored
    c = _cues(n)
    c["speech"] = torch.ones(n)
    out = fusion.fuse_probs(v, a, **c, has_face=torch.zeros(n, dtype=torch.bool), has_audio=torch.ones(n, dtype=torch.bool))
    assert torch.equal(out.fused, a)
    assert torch.equal(out.w_visual, torch.zeros(n)) and torch.equal(out.w_audio, torch.ones(n))
    assert torch.isnan(out.visual).all() and torch.equal(out.audio, a)


@pytest.mark.parametrize("case", ["no audio", "no speech"])
def test_no_audio_or_no_speech_gives_exactly_the_visual_expert(fusion, case):
    n = 16
    v = _probs(n, 4)
    a = _probs(n, 5)
    c = _cues(n)
    has_audio = torch.zeros(n, dtype=torch.bool) if case == "no audio" else torch.ones(n, dtype=torch.bool)
    if case == "no speech":
        c["speech"] = torch.zeros(n)
    out = fusion.fuse_probs(v, a, **c, has_face=torch.ones(n, dtype=torch.bool), has_audio=has_audio)
    assert torch.equal(out.fused, v)
    assert torch.equal(out.w_visual, torch.ones(n)) and torch.equal(out.w_audio, torch.zeros(n))


def test_neither_modality_is_uniform_with_zero_weights(fusion):
    out = fusion.fuse_probs(_probs(2, 6), _probs(2, 7), face_score=[0.9, 0.9], face_size_px=[50, 50], speech=[0, 0],
                            has_face=[False, False], has_audio=[False, False])
    assert torch.allclose(out.fused, torch.full((2, N_LABELS), 1 / N_LABELS))
    assert (out.w_visual == 0).all() and (out.w_audio == 0).all()


def test_batch_equals_single_and_mixed_rows(fusion):
    n = 12
    v, a, c = _probs(n, 8), _probs(n, 9), _cues(n, 3)
    has_face = torch.tensor([True, False, True] * 4)
    has_audio = torch.tensor([True, True, False, False] * 3)
    batch = fusion.fuse_probs(v, a, **c, has_face=has_face, has_audio=has_audio)
    for i in range(n):
        one = fusion.fuse_probs(v[i : i + 1], a[i : i + 1], face_score=c["face_score"][i],
                                face_size_px=c["face_size_px"][i], speech=c["speech"][i],
                                has_face=has_face[i : i + 1], has_audio=has_audio[i : i + 1])
        assert torch.allclose(one.fused[0], batch.fused[i], atol=1e-6)
        assert torch.allclose(one.w_visual[0], batch.w_visual[i])


def test_reliability_cues_move_the_weights(fusion):
    base = dict(has_face=[True], has_audio=[True])
    w = lambda **k: float(fusion.weights(**{**dict(face_score=0.99, face_size_px=64.0, speech=0.8), **k}, **base)[0].detach())
    assert w(face_size_px=20.0) < w() < w(face_size_px=200.0)
    assert w(face_score=0.90) < w()
    assert w(speech=1.0) < w(speech=0.3)  # more speech -> more weight on audio


class _Const(nn.Module):
    """A stand-in expert returning fixed probabilities (one row per input)."""

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.seen = 0

    def forward(self, x):
        self.seen += x.shape[0]
        return self.p.expand(x.shape[0], -1)


def test_forward_runs_experts_only_on_present_rows():
    pv, pa = _probs(1, 10), _probs(1, 11)
    fm = FusionModel(_Const(pv), _Const(pa), FusionParams())
    has_face = torch.tensor([True, False, True])
    has_audio = torch.tensor([False, True, True])
    out = fm(torch.zeros(3, 1, 64, 64), torch.zeros(3, 64, 200), face_score=torch.full((3,), 0.99),
             face_size_px=torch.full((3,), 64.0), speech=torch.ones(3), has_face=has_face, has_audio=has_audio)
    assert fm.visual_model.seen == 2 and fm.audio_model.seen == 2
    assert torch.equal(out.fused[0], pv[0]) and torch.equal(out.fused[1], pa[0])
    assert 0 < out.w_visual[2] < 1
    none = fm(None, None, face_score=torch.ones(3), face_size_px=torch.ones(3), speech=torch.ones(3),
              has_face=has_face, has_audio=has_audio)
    assert (none.w_visual == 0).all() and (none.w_audio == 0).all()


def test_default_params_file_matches_the_rule():
    assert DEFAULT_PARAMS_PATH.exists()
    d = json.loads(DEFAULT_PARAMS_PATH.read_text())
    p = load_default_params()
    src = d["derived_from"]
    assert p.a_v == pytest.approx(np.log(src["visual_accuracy"] / (1 - src["visual_accuracy"])))
    assert p.a_a == pytest.approx(np.log(src["audio_accuracy"] / (1 - src["audio_accuracy"])))
    out = fuse_probs(_probs(1, 1), _probs(1, 2), face_score=0.99, face_size_px=64.0, speech=1.0, has_face=[True],
                     has_audio=[True])
    assert 0 < float(out.w_visual[0]) < 1


# ------------------------------------------------------------------ speaker gate

def _both(n, seed=0):
    c = _cues(n, seed)
    c["speech"] = 0.3 + 0.7 * c["speech"]  # usable speech on every row
    return _probs(n, seed + 20), _probs(n, seed + 21), c, torch.ones(n, dtype=torch.bool)


def test_gate_of_one_or_unmeasured_is_exactly_the_ungated_fusion(fusion):
    v, a, c, yes = _both(16)
    plain = fusion.fuse_probs(v, a, **c, has_face=yes, has_audio=yes)
    for p in (torch.ones(16), torch.full((16,), float("nan")), None):
        gated = fusion.fuse_probs(v, a, **c, has_face=yes, has_audio=yes, speaker_p=p)
        assert torch.equal(gated.fused, plain.fused)
        assert torch.equal(gated.w_visual, plain.w_visual) and torch.equal(gated.w_audio, plain.w_audio)


def test_gate_scales_the_audio_weight(fusion):
    v, a, c, yes = _both(16, 1)
    plain = fusion.fuse_probs(v, a, **c, has_face=yes, has_audio=yes)
    p = torch.linspace(0.05, 0.95, 16)
    gated = fusion.fuse_probs(v, a, **c, has_face=yes, has_audio=yes, speaker_p=p)
    assert torch.allclose(gated.w_audio, plain.w_audio * p, atol=1e-6)
    assert torch.allclose(gated.w_visual + gated.w_audio, torch.ones(16), atol=1e-6)
    # the fused reading moves from the visual expert towards the pooled one as p grows
    lo = fusion.fuse_probs(v, a, **c, has_face=yes, has_audio=yes, speaker_p=torch.full((16,), 0.01))
    d = lambda out: (out.fused - v).abs().sum(1)  # noqa: E731
    assert (d(lo) < d(plain)).all() and (d(lo) < 0.1).all()


def test_listener_gets_exactly_its_visual_reading(fusion):
    v, a, c, yes = _both(16, 2)
    out = fusion.fuse_probs(v, a, **c, has_face=yes, has_audio=yes, speaker_p=torch.zeros(16))
    assert torch.equal(out.fused, v)  # selection, not a limit
    assert torch.equal(out.w_visual, torch.ones(16)) and torch.equal(out.w_audio, torch.zeros(16))
    assert torch.equal(out.audio, a)  # what the audio expert said is still reported


def test_rows_without_a_face_ignore_the_gate(fusion):
    v, a, c, yes = _both(8, 3)
    no = torch.zeros(8, dtype=torch.bool)
    out = fusion.fuse_probs(v, a, **c, has_face=no, has_audio=yes, speaker_p=torch.zeros(8))
    assert torch.equal(out.fused, a) and torch.equal(out.w_audio, torch.ones(8))


def test_functional_form_takes_the_gate():
    v, a = _probs(2, 30), _probs(2, 31)
    out = fuse_probs(v, a, face_score=0.99, face_size_px=64.0, speech=1.0, has_face=[True, True], has_audio=[True, True],
                     speaker_p=[0.0, 1.0])
    assert torch.equal(out.fused[0], v[0]) and 0 < float(out.w_audio[1]) < 1

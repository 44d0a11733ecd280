"""Exact modality Shapley values under the speaker gate: additivity, a listener's zero audio
share, the ungated case unchanged, and the attribution table passing the gate through."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_batch.explain import ExplainInput, explain, modality_shapley
from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.models.fusion import FusionParams, fuse_probs

PARAMS = FusionParams()
CUES = ("face_score", "face_size_px", "speech", "has_face", "has_audio")


def _cues(args):
    """The per-row cues of `_rows`' tuple (after v and a), as fuse_probs' keywords."""
    return dict(zip(CUES, args[2:]))


def _rows(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.dirichlet(np.ones(N_LABELS) * 0.5, n).astype(np.float32)
    a = rng.dirichlet(np.ones(N_LABELS) * 0.5, n).astype(np.float32)
    has_face = rng.random(n) < 0.8
    has_audio = rng.random(n) < 0.85
    speech = rng.random(n).astype(np.float32) * (rng.random(n) < 0.8)
    v[~has_face] = np.nan
    a[~has_audio] = np.nan
    gate = rng.random(n).astype(np.float32)
    gate[rng.random(n) < 0.2] = 0.0  # listeners
    gate[rng.random(n) < 0.2] = 1.0
    gate[rng.random(n) < 0.1] = np.nan  # not measured
    return (v, a, rng.uniform(0.9, 1.0, n).astype(np.float32), rng.uniform(20, 300, n).astype(np.float32),
            speech, has_face, has_audio), gate


def test_additive_under_the_gate_and_the_label_is_the_gated_fusion():
    args, gate = _rows(500, 0)
    ms = modality_shapley(*args[:2], **_cues(args), fusion_params=PARAMS, speaker_p=gate)
    fused = fuse_probs(*args[:2], **_cues(args), params=PARAMS, speaker_p=gate).fused.numpy()
    ok = ms.explained
    assert ok.sum() > 300
    np.testing.assert_array_equal(ms.label[ok], fused[ok].argmax(1))
    np.testing.assert_allclose(ms.p_label[ok], fused[ok, ms.label[ok]], atol=1e-7)
    # float32 fusion, float64 sums: additivity to well below any displayed digit
    assert np.abs(ms.shap_visual + ms.shap_audio + ms.shap_base - ms.p_label)[ok].max() < 1e-5


def test_a_listener_gets_exactly_zero_audio_share():
    args, gate = _rows(500, 1)
    v, a, score, size, speech, has_face, has_audio = args
    ms = modality_shapley(*args[:2], **_cues(args), fusion_params=PARAMS, speaker_p=gate)
    listener = has_face & has_audio & (speech >= PARAMS.min_speech) & (gate == 0)
    assert listener.sum() > 30
    assert np.all(ms.shap_audio[listener] == 0.0) and not ms.audio_used[listener].any()
    np.testing.assert_allclose(ms.shap_visual[listener], ms.p_label[listener] - 1 / 7, atol=1e-6)
    # a partly gated face still credits its voice, less than it would ungated
    part = has_face & has_audio & (speech >= PARAMS.min_speech) & (gate > 0.05) & (gate < 0.95)
    ungated = modality_shapley(*args[:2], **_cues(args), fusion_params=PARAMS)
    assert part.sum() > 50 and np.all(ms.shap_audio[part] != 0)
    assert np.median(np.abs(ms.shap_audio[part])) < np.median(np.abs(ungated.shap_audio[part]))


def test_a_gate_of_one_changes_nothing():
    args, _ = _rows(300, 2)
    plain = modality_shapley(*args[:2], **_cues(args), fusion_params=PARAMS)
    for gate in (np.ones(300, np.float32), np.full(300, np.nan, np.float32)):
        ms = modality_shapley(*args[:2], **_cues(args), fusion_params=PARAMS, speaker_p=gate)
        for k in ("label", "p_label", "shap_visual", "shap_audio", "shap_base"):
            np.testing.assert_array_equal(getattr(ms, k), getattr(plain, k))


def test_no_face_rows_ignore_the_gate():
    args, _ = _rows(200, 3)
    v, a, score, size, speech, has_face, has_audio = args
    no_face = ~has_face & has_audio & (speech >= PARAMS.min_speech)
    ms = modality_shapley(*args[:2], **_cues(args), fusion_params=PARAMS, speaker_p=np.zeros(200, np.float32))
    np.testing.assert_allclose(ms.shap_audio[no_face], ms.p_label[no_face] - 1 / 7, atol=1e-6)


def test_explain_table_passes_the_gate():
    p = np.full(N_LABELS, 0.05, np.float32)
    v, a = p.copy(), p.copy()
    v[3], a[0] = 0.7, 0.7  # face says happy, voice says angry
    rows = [ExplainInput("vid", 0, 0, None, None, 0.99, 90.0, 0.9, True, v, a, speaker_p=0.0),
            ExplainInput("vid", 1, 0, None, None, 0.99, 90.0, 0.9, True, v, a, speaker_p=1.0),
            ExplainInput("vid", -1, 0, None, None, None, None, 0.9, True, None, a)]
    t = explain(rows, None, None, fusion_params=PARAMS, groups=False).to_pylist()
    listener, speaker, voice = t
    assert listener["shap_audio"] == 0.0 and listener["label"] == "happy"
    assert listener["p_label"] == pytest.approx(0.7)
    assert speaker["shap_audio"] != 0.0
    assert voice["label"] == "angry" and voice["shap_visual"] == 0.0
    for r in t:
        assert r["shap_visual"] + r["shap_audio"] + r["shap_base"] == pytest.approx(r["p_label"], abs=1e-5)
    assert LABELS[3] == "happy"

"""Explanations: exact modality Shapley additivity and zeros, SHAP group shares on models built to
depend on one region / band, determinism, convergence, schema, summary."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pytest
import torch
from skimage import data
from torch import nn

from emotion_batch.audio import features as feats
from emotion_batch.vision.align import align_faces, region_masks
from emotion_batch.explain import (
    explain_mask,
    AUDIO_BANDS,
    GROUP_COLUMNS,
    SUMMARY_SQL,
    ExplainInput,
    explain,
    group_attributions,
    modality_shapley,
    summarise,
)
from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.models.audio import load_audio_model
from emotion_batch.models.fusion import FusionParams, fuse_probs
from emotion_batch.models.visual import load_visual_model
from emotion_batch.schemas import ATTRIBUTION_SCHEMA

PARAMS = FusionParams()
# MTCNN's 5 landmarks of skimage.data.astronaut() (facenet-pytorch, full 512x512 image).
ASTRONAUT_LANDMARKS = np.array(
    [[205.01, 101.73], [246.76, 103.71], [224.67, 128.96], [201.72, 139.25], [245.27, 141.86]]
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small per-sample batches: one thread is fastest, and far faster on a loaded machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return load_visual_model(), load_audio_model()


@pytest.fixture(scope="module")
def crop():
    return align_faces(data.astronaut(), ASTRONAUT_LANDMARKS[None])[0]


@pytest.fixture(scope="module")
def logmel():
    """2 s of a voiced, gliding harmonic tone with a syllable-rate envelope, plus a little noise."""
    t = np.arange(32000) / 16000
    f0 = 140 + 40 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / 16000
    x = sum(np.sin(k * phase) / k for k in range(1, 12)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    x = 0.1 * x + 0.003 * np.random.default_rng(1).standard_normal(len(t))
    return feats.log_mel(x.astype(np.float32)).numpy()


def _random_rows(n, rng):
    v = rng.dirichlet(np.ones(N_LABELS) * 0.5, n).astype(np.float32)
    a = rng.dirichlet(np.ones(N_LABELS) * 0.5, n).astype(np.float32)
    has_face = rng.random(n) < 0.75
    has_audio = rng.random(n) < 0.75
    speech = rng.random(n).astype(np.float32) * (rng.random(n) < 0.7)  # many rows < min_speech
    v[~has_face] = np.nan
    a[~has_audio] = np.nan
    score = rng.uniform(0.9, 1.0, n).astype(np.float32)
    size = rng.uniform(20, 300, n).astype(np.float32)
    return v, a, score, size, speech, has_face, has_audio


def test_modality_shapley_is_exact_and_additive():
    rng = np.random.default_rng(0)
    v, a, score, size, speech, has_face, has_audio = _random_rows(400, rng)
    ms = modality_shapley(v, a, face_score=score, face_size_px=size, speech=speech, has_face=has_face, has_audio=has_audio,
                          fusion_params=PARAMS)
    fused = fuse_probs(v, a, face_score=score, face_size_px=size, speech=speech, has_face=has_face, has_audio=has_audio, params=PARAMS)
    ok = ms.explained
    assert ok.sum() > 200 and (~ok).sum() > 10
    # The label and its probability are those of the fused output with both modalities.
    np.testing.assert_array_equal(ms.label[ok], fused.fused.numpy()[ok].argmax(1))
    np.testing.assert_allclose(ms.p_label[ok], fused.fused.numpy()[ok, ms.label[ok]], atol=1e-7)
    total = ms.shap_visual + ms.shap_audio + ms.shap_base
    assert np.abs(total - ms.p_label)[ok].max() < 1e-5
    np.testing.assert_allclose(ms.shap_base[ok], 1 / 7, atol=1e-7)
    # The four coalition values, recomputed one row at a time, give the same Shapley values.
    for i in np.flatnonzero(ok)[:20]:
        def val(f, au):
            out = fuse_probs(v[i : i + 1], a[i : i + 1], face_score=score[i], face_size_px=size[i], speech=speech[i],
                             has_face=[f and has_face[i]], has_audio=[au and has_audio[i]], params=PARAMS)
            return float(out.fused[0, ms.label[i]])
        sv = 0.5 * ((val(1, 0) - val(0, 0)) + (val(1, 1) - val(0, 1)))
        assert abs(sv - ms.shap_visual[i]) < 1e-6


def test_unused_modality_gets_exactly_zero():
    rng = np.random.default_rng(1)
    v, a, score, size, speech, has_face, has_audio = _random_rows(400, rng)
    ms = modality_shapley(v, a, face_score=score, face_size_px=size, speech=speech, has_face=has_face, has_audio=has_audio,
                          fusion_params=PARAMS)
    audio_unused = ~has_audio | (speech < PARAMS.min_speech)
    assert np.all(ms.shap_audio[audio_unused & has_face] == 0.0)
    assert np.all(ms.shap_visual[~has_face & ~audio_unused] == 0.0)
    # face only: all of p_label above the base is the face's; audio only: the voice's.
    fo = has_face & audio_unused
    np.testing.assert_allclose(ms.shap_visual[fo], ms.p_label[fo] - 1 / 7, atol=1e-6)
    ao = ~has_face & ~audio_unused
    np.testing.assert_allclose(ms.shap_audio[ao], ms.p_label[ao] - 1 / 7, atol=1e-6)
    assert np.all(ms.label[~has_face & audio_unused] == -1)  # nothing to explain
    # Both used: both players get a share (generic random experts are never exactly equal).
    both = has_face & ~audio_unused
    assert np.all(ms.shap_visual[both] != 0) and np.all(ms.shap_audio[both] != 0)


def test_explain_table_zero_audio_no_face_and_schema(models, crop, logmel):
    vm, am = models
    silence = feats.log_mel(np.zeros(32000, np.float32)).numpy()  # zero input: speech 0
    rows = [
        ExplainInput("vid", 0, 0, crop, logmel, 0.99, 90.0, 0.8, True),
        ExplainInput("vid", 0, 1, crop, silence, 0.99, 90.0, 0.0, True),  # zero audio
        ExplainInput("vid", 0, 2, crop, None, 0.99, 90.0, 0.0, False),  # no audio stream
        ExplainInput("vid", -1, 3, None, logmel, None, None, 0.8, True),  # no face
        ExplainInput("vid", -1, 4, None, None, None, None, 0.0, False),  # nothing: no row
    ]
    tab = explain(rows, vm, am, fusion_params=PARAMS, groups=True, n_samples=16)
    assert tab.schema.equals(ATTRIBUTION_SCHEMA)
    df = tab.to_pandas()
    assert df.second.tolist() == [0, 1, 2, 3] and df.face_id.tolist() == [0, 0, 0, -1]
    assert set(df.label) <= set(LABELS)
    np.testing.assert_allclose(df.shap_visual + df.shap_audio + df.shap_base, df.p_label, atol=1e-5)
    assert (df.shap_audio[[1, 2]] == 0.0).all() and df.shap_visual[3] == 0.0
    assert df.shap_audio[0] != 0.0 and df.shap_visual[0] != 0.0
    face = df[[f"g_{g}" for g in ("brows_eyes", "nose_cheeks", "mouth_jaw", "face_rest")]]
    audio = df[[c for c in GROUP_COLUMNS if c.startswith("g_audio")]]
    assert face.iloc[:3].notna().all().all() and face.iloc[3].isna().all()
    assert audio.iloc[[0, 3]].notna().all().all() and audio.iloc[[1, 2]].isna().all().all()
    np.testing.assert_allclose(face.iloc[:3].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(audio.iloc[[0, 3], :3].sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(audio.iloc[[0, 3], 3:].sum(axis=1), 1.0, atol=1e-5)
    # groups=False: same modality values, every group column null.
    bare = explain(rows, vm, am, fusion_params=PARAMS, groups=False).to_pandas()
    assert bare[list(GROUP_COLUMNS)].isna().all().all()
    np.testing.assert_array_equal(bare.shap_visual, df.shap_visual)


class RegionOnlyFace(nn.Module):
    """A small conv net that sees only the pixels of one region of the crop."""

    def __init__(self, region: str):
        super().__init__()
        self.register_buffer("mask", torch.from_numpy(region_masks()[region]).float()[None, None])
        self.conv = nn.Conv2d(1, 8, 5, padding=2)
        self.head = nn.Linear(8, N_LABELS)

    def logits(self, x):
        h = torch.relu(self.conv(x * self.mask))
        return self.head(h.mean((2, 3)) * 10)

    def forward(self, x):
        return torch.softmax(self.logits(x), 1)


@pytest.mark.parametrize("region", ["mouth_jaw", "brows_eyes"])
def test_face_attribution_lands_on_the_region_the_model_reads(region, crop):
    torch.manual_seed(0)
    model = RegionOnlyFace(region).eval()
    shares = group_attributions([crop], [None], [3], visual_model=model, audio_model=None, n_samples=32)[0]
    g = {c: s for c, s in zip(GROUP_COLUMNS, shares)}
    assert g[f"g_{region}"] >= 0.9, g
    assert np.isnan(shares[4:]).all()


class BandOnlyAudio(nn.Module):
    """Reads only mel bands [lo, hi) of the late half of the window."""

    def __init__(self, lo: int, hi: int):
        super().__init__()
        m = torch.zeros(64, 200)
        m[lo:hi, 100:] = 1
        self.register_buffer("mask", m[None])
        self.conv = nn.Conv1d(64, 8, 5, padding=2)
        self.head = nn.Linear(8, N_LABELS)

    def logits(self, x):
        return self.head(torch.tanh(self.conv(x * self.mask)).mean(2) * 5)

    def forward(self, x):
        return torch.softmax(self.logits(x), 1)


@pytest.mark.parametrize("band", ["audio_low", "audio_high"])
def test_audio_attribution_lands_on_the_band_and_half_the_model_reads(band, logmel):
    torch.manual_seed(0)
    model = BandOnlyAudio(*AUDIO_BANDS[band]).eval()
    shares = group_attributions([None], [logmel], [0], visual_model=None, audio_model=model, n_samples=32)[0]
    g = {c: s for c, s in zip(GROUP_COLUMNS, shares)}
    assert g[f"g_{band}"] >= 0.9 and g["g_audio_late"] >= 0.9, g
    assert np.isnan(shares[:4]).all()


def test_deterministic_subset_independent_and_global_rng_untouched(models, crop, logmel):
    vm, am = models
    rows = [ExplainInput("vid", 0, s, crop, logmel, 0.99, 90.0, 0.8, True) for s in range(2)]
    rows[1].crop = np.ascontiguousarray(crop[:, ::-1])  # a different face
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    t1 = explain(rows, vm, am, fusion_params=PARAMS, n_samples=8, seed=7)
    assert np.array_equal(np.random.get_state()[1], before)
    t2 = explain(rows, vm, am, fusion_params=PARAMS, n_samples=8, seed=7)
    assert t1.equals(t2)
    alone = explain(rows[1:], vm, am, fusion_params=PARAMS, n_samples=8, seed=7).to_pandas()
    # The same row explained alone or in a batch of two: fusion runs vectorised over a different
    # number of rows, so the last float32 bits may differ between CPU kernels; 1e-6 is far below
    # any meaningful share or Shapley value.
    both = t1.slice(1).to_pandas()
    assert alone[["video_id", "face_id", "second", "label"]].equals(both[["video_id", "face_id", "second", "label"]])
    num = ["p_label", "shap_visual", "shap_audio", "shap_base", *GROUP_COLUMNS]
    np.testing.assert_allclose(alone[num].to_numpy(float), both[num].to_numpy(float), atol=1e-6, rtol=0)
    other = explain(rows, vm, am, fusion_params=PARAMS, n_samples=8, seed=8).to_pandas()
    assert not np.allclose(other[list(GROUP_COLUMNS)], t1.to_pandas()[list(GROUP_COLUMNS)])


def test_group_shares_converge(models, crop, logmel):
    vm, am = models
    n = group_attributions([crop], [logmel], [6], visual_model=vm, audio_model=am, n_samples=48, seed=0)[0]
    n2 = group_attributions([crop], [logmel], [6], visual_model=vm, audio_model=am, n_samples=96, seed=1)[0]
    assert np.abs(n - n2).max() < 0.05, (n, n2)


def test_works_inside_inference_mode_and_with_a_row_mask(models, crop, logmel):
    vm, am = models
    rows = [ExplainInput("vid", 0, s, crop, logmel, 0.99, 90.0, 0.8, True) for s in range(3)]
    with torch.inference_mode():  # the pipeline's apply() runs under inference_mode
        tab = explain(rows, vm, am, fusion_params=PARAMS, groups=explain_mask([0, 1, 2], "sample", 2), n_samples=8)
    g = tab.to_pandas()["g_mouth_jaw"]
    assert g.notna().tolist() == [True, False, True]


def test_summarise_matches_sql():
    rng = np.random.default_rng(3)
    n = 40
    p = rng.uniform(0.2, 0.9, n)
    sv = p * rng.uniform(0, 0.8, n)
    cols = {
        "video_id": ["a"] * 25 + ["b"] * 15,
        "face_id": np.zeros(n, np.int32), "second": np.arange(n, dtype=np.int32),
        "label": rng.choice(["happy", "sad", "neutral"], n).tolist(),
        "p_label": p.astype(np.float32), "shap_visual": sv.astype(np.float32),
        "shap_audio": (p - sv - 1 / 7).astype(np.float32), "shap_base": np.full(n, 1 / 7, np.float32),
    }
    for c in GROUP_COLUMNS:
        x = rng.random(n).astype(np.float32)
        cols[c] = pa.array(x, mask=rng.random(n) < 0.5, type=pa.float32())
    attributions = pa.table(cols, schema=ATTRIBUTION_SCHEMA)
    df = summarise(attributions)
    sql = duckdb.sql(SUMMARY_SQL).df()  # `attributions` resolved from this scope
    assert list(df.columns) == list(sql.columns)
    assert df.rows.sum() == n and len(df) == len(sql)
    num = [c for c in df.columns if c not in ("video_id", "label")]
    np.testing.assert_allclose(df[num].to_numpy(float), sql[num].to_numpy(float), rtol=1e-6)

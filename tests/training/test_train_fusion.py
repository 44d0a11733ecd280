"""Fitting the fusion gate on synthetic records whose right answer is known."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from emotion_batch.labels import N_LABELS
from emotion_batch.models.fusion import FusionModel, FusionParams
from emotion_batch.schemas import TIMELINE_SCHEMA, prob_columns
from emotion_batch.training.train_fusion import FusionRecord, fit_fusion, fusion_nll, records_from_timeline, _stack


def _onehotish(label, rng, sharp=0.9):
    p = np.full(N_LABELS, (1 - sharp) / (N_LABELS - 1))
    p[label] = sharp
    return p.astype(np.float32)


def _noise(rng):
    return rng.dirichlet(np.ones(N_LABELS)).astype(np.float32)


def _records(n, informative: str, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        y = int(rng.integers(N_LABELS))
        good, bad = _onehotish(y, rng), _noise(rng)
        v, a = (good, bad) if informative == "visual" else (bad, good)
        out.append(FusionRecord(v, a, float(rng.uniform(0.9, 1.0)), float(rng.uniform(40, 120)),
                                float(rng.uniform(0.3, 1.0)), y))
    return out


def _mean_w_audio(params, records):
    b = _stack(records)
    w_v, w_a = FusionModel(None, None, params).weights(face_score=b["score"], face_size_px=b["size"], speech=b["speech"],
                                                       has_face=b["has_face"], has_audio=b["has_audio"])
    return float(w_a.detach().mean())


@pytest.mark.parametrize("informative", ["audio", "visual"])
def test_fit_learns_to_trust_the_informative_expert(informative):
    recs = _records(300, informative)
    init = FusionParams()
    fitted = fit_fusion(recs, init=init)
    w_a = _mean_w_audio(fitted, recs)
    if informative == "audio":
        assert w_a > 0.85
    else:
        assert w_a < 0.15
    # and the fitted gate has a lower NLL than the starting one
    b = _stack(recs)
    with torch.no_grad():
        assert fusion_nll(FusionModel(None, None, fitted), b) < fusion_nll(FusionModel(None, None, init), b)


def test_fit_ignores_single_modality_records_and_rejects_empty():
    recs = _records(50, "audio")
    only_audio = [FusionRecord(None, r.a_probs, float("nan"), float("nan"), r.speech, r.label) for r in recs]
    with pytest.raises(ValueError):
        fit_fusion(only_audio)


def test_records_from_timeline_reads_the_pipeline_rows():
    rows = {f.name: [] for f in TIMELINE_SCHEMA}
    def add(face_id, v, a, speech, box):
        rows["video_id"].append("x"); rows["face_id"].append(face_id); rows["second"].append(len(rows["t_start"]))
        rows["t_start"].append(0.0); rows["t_end"].append(1.0); rows["n_frames"].append(5)
        rows["face_score"].append(0.99 if v is not None else None)
        for k, val in zip(("box_x1", "box_y1", "box_x2", "box_y2"), box or (None,) * 4):
            rows[k].append(val)
        rows["speech"].append(speech); rows["speaking"].append(None)
        rows["speaker_p"].append(None); rows["voice_owner"].append(None)
        for pfx, p in (("v", v), ("a", a), ("p", a if v is None else v)):
            for c, x in zip(prob_columns(pfx), p if p is not None else [None] * N_LABELS):
                rows[c].append(x)
        rows["emotion"].append("happy"); rows["confidence"].append(0.5); rows["w_visual"].append(0.5); rows["w_audio"].append(0.5)
        rows["v_emotion"].append(None if v is None else "angry"); rows["a_emotion"].append(None if a is None else "angry")
    p = [1 / N_LABELS] * N_LABELS
    add(0, p, p, 0.8, (10.0, 10.0, 74.0, 110.0))
    add(-1, None, p, 0.9, None)
    recs = records_from_timeline(pa.Table.from_pydict(rows, schema=TIMELINE_SCHEMA), label=3)
    assert len(recs) == 2 and all(r.label == 3 for r in recs)
    assert recs[0].face_size_px == pytest.approx(80.0) and recs[0].v_probs is not None
    assert recs[1].v_probs is None and recs[1].a_probs is not None and recs[1].speech == pytest.approx(0.9)

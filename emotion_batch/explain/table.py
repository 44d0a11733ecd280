"""The attribution table: modality Shapley values for every row with a prediction, feature-group
shares for the rows selected, in ATTRIBUTION_SCHEMA; and its per-video summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from torch import nn

from emotion_batch.explain.groups import GROUP_COLUMNS, N_SAMPLES, group_attributions
from emotion_batch.explain.shapley import modality_shapley
from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.models.fusion import FusionParams, load_default_params
from emotion_batch.schemas import ATTRIBUTION_SCHEMA
from emotion_batch.vision.align import to_model_input


@dataclass
class ExplainInput:
    """One timeline row to explain. ``crop``: uint8 (64, 64) aligned face of the second (None for
    face_id -1); ``logmel``: float32 (64, frames) window of the second (None without audio).
    ``v_probs`` / ``a_probs``: the expert probabilities the timeline used, if known; when None
    they are computed from ``crop`` / ``logmel`` (pass them so that ``label`` equals the
    timeline's ``emotion``). ``speaker_p``: the row's speaker gate (None = 1, ungated), as the
    timeline's fusion used it."""

    video_id: str
    face_id: int
    second: int
    crop: np.ndarray | None
    logmel: np.ndarray | None
    face_score: float | None
    face_size_px: float | None
    speech: float
    has_audio: bool
    v_probs: np.ndarray | None = None
    a_probs: np.ndarray | None = None
    speaker_p: float | None = None


def expert_probs(inputs: Sequence[ExplainInput], visual_model: nn.Module | None, audio_model: nn.Module | None,
                 device="cpu", batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(v, a) float32 (N, 7): ``v_probs``/``a_probs`` where given, else the experts run on the
    crops and log-mel windows; NaN rows where the modality is absent."""
    n = len(inputs)
    v = np.full((n, N_LABELS), np.nan, np.float32)
    a = np.full((n, N_LABELS), np.nan, np.float32)
    need_v, need_a = [], []
    for i, r in enumerate(inputs):
        if r.v_probs is not None:
            v[i] = r.v_probs
        elif r.crop is not None:
            need_v.append(i)
        if r.has_audio and r.a_probs is not None:
            a[i] = r.a_probs
        elif r.has_audio and r.logmel is not None:
            need_a.append(i)
    with torch.inference_mode():
        for k in range(0, len(need_v), batch):
            idx = need_v[k : k + batch]
            x = to_model_input(np.stack([inputs[i].crop for i in idx]), device)
            v[idx] = visual_model(x).float().cpu().numpy()
        for k in range(0, len(need_a), batch):
            idx = need_a[k : k + batch]
            x = torch.from_numpy(np.stack([np.asarray(inputs[i].logmel, np.float32) for i in idx])).to(device)
            a[idx] = audio_model(x).float().cpu().numpy()
    return v, a


def explain(inputs: Sequence[ExplainInput], visual_model: nn.Module | None, audio_model: nn.Module | None,
            *, fusion_params: FusionParams | None = None, device="cpu", groups: bool | Sequence[bool] = True,
            n_samples: int = N_SAMPLES, seed: int = 0) -> pa.Table:
    """ATTRIBUTION_SCHEMA table, one row per input that has a prediction (inputs order).

    Modality values for every row; group shares for the rows selected by ``groups`` (True: all,
    False: none, or a boolean mask over ``inputs``, e.g. from ``explain_mask``)."""
    params = fusion_params or load_default_params()
    n = len(inputs)
    v, a = expert_probs(inputs, visual_model, audio_model, device)
    # a modality is present when its input or its expert output is given (the pipeline keeps
    # crops / log-mels only for the rows that get group attributions)
    has_face = np.array([r.crop is not None or r.v_probs is not None for r in inputs], bool)
    has_audio = np.array([bool(r.has_audio) and (r.logmel is not None or r.a_probs is not None) for r in inputs], bool)

    def f32(name):
        return np.array([np.nan if getattr(r, name) is None else getattr(r, name) for r in inputs], np.float32)

    ms = modality_shapley(v, a, face_score=f32("face_score"), face_size_px=f32("face_size_px"), speech=f32("speech"),
                          has_face=has_face, has_audio=has_audio, fusion_params=params, speaker_p=f32("speaker_p"))
    sel = np.broadcast_to(np.asarray(groups, bool), (n,)) & ms.explained
    shares = np.full((n, len(GROUP_COLUMNS)), np.nan)
    idx = np.flatnonzero(sel)
    if len(idx):
        shares[idx] = group_attributions(
            [inputs[i].crop if ms.has_face[i] else None for i in idx],
            [inputs[i].logmel if ms.audio_used[i] else None for i in idx],
            ms.label[idx], visual_model=visual_model, audio_model=audio_model, device=device,
            n_samples=n_samples, seed=seed)
    keep = np.flatnonzero(ms.explained)
    cols = {
        "video_id": [inputs[i].video_id for i in keep],
        "face_id": np.array([inputs[i].face_id for i in keep], np.int32),
        "second": np.array([inputs[i].second for i in keep], np.int32),
        "label": [LABELS[ms.label[i]] for i in keep],
        "p_label": ms.p_label[keep].astype(np.float32),
        "shap_visual": ms.shap_visual[keep].astype(np.float32),
        "shap_audio": ms.shap_audio[keep].astype(np.float32),
        "shap_base": ms.shap_base[keep].astype(np.float32),
    }
    for j, name in enumerate(GROUP_COLUMNS):
        x = shares[keep, j].astype(np.float32)
        cols[name] = pa.array(x, mask=np.isnan(x), type=pa.float32())
    return pa.table(cols, schema=ATTRIBUTION_SCHEMA)


SUMMARY_SQL = """
SELECT video_id, label, count(*) AS rows, avg(p_label) AS p_label,
       avg(shap_visual) AS shap_visual, avg(shap_audio) AS shap_audio, avg(shap_base) AS shap_base,
       {groups},
       count(g_brows_eyes) AS face_explained, count(g_audio_low) AS audio_explained
FROM attributions GROUP BY video_id, label ORDER BY video_id, label
""".format(groups=", ".join(f"avg({c}) AS {c}" for c in GROUP_COLUMNS))


def summarise(attributions: pa.Table) -> pd.DataFrame:
    """Per video and predicted emotion: row count, mean p_label and modality values, mean group
    shares over the rows that have them (nulls skipped), and how many rows had face / audio
    groups. Same numbers as ``SUMMARY_SQL`` over a table or view named ``attributions``."""
    df = attributions.to_pandas()
    value_cols = ["p_label", "shap_visual", "shap_audio", "shap_base", *GROUP_COLUMNS]
    g = df.groupby(["video_id", "label"], sort=True)
    out = g[value_cols].mean().astype(np.float64)
    out.insert(0, "rows", g.size())
    out["face_explained"] = g["g_brows_eyes"].count()
    out["audio_explained"] = g["g_audio_low"].count()
    return out.reset_index()

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

**Feature groups (sampled, a chosen subset of rows).** Inside each modality we explain the
expert's log-probability of the row's label (``log_softmax(logits)[label]``: invariant to a
shift of all logits and not flattened when the softmax saturates) with
``shap.GradientExplainer`` (expected gradients: integrated gradients averaged over references
drawn from a background set and path positions drawn from U(0, 1)).

Why not ``shap.DeepExplainer``: its DeepLIFT rules are attached to ``nn.Module`` layers, and both
experts compute with functional ops it cannot see (the visual model's TF-"same" max-pool padding
with ``-inf`` via ``F.pad`` and functional ReLUs; the audio model's instance normalisation, the
softmax attention of its statistics pooling, sqrt). Measured on 4 fixture faces / 3 log-mel
windows, its attributions miss the model's output change by up to 0.58 (visual, output change
0.52) and 0.15 (audio, output change 0.19), and ``check_additivity`` raises. Expected gradients
only needs autograd, so it is exact in expectation for any differentiable model; its price is
sampling noise, which ``benchmarks/explain_convergence.py`` measures (see MODEL_CARD.md,
## Explanations, for the figures behind ``N_SAMPLES``).

Baseline (the background set). Each input is explained against **blurred copies of itself**
(Gaussian, reflect padding): faces at sigma 3, 6 and 12 px on the 64x64 crop; log-mel at
(2 bands, 8 frames), (4, 16) and (8, 32). A blur keeps what is not expression (illumination,
head shape, spectral tilt and loudness) and removes the fine structure that carries it (the
shape of the mouth, brows and eyes; harmonics, formant transitions, syllable rhythm), so the
attribution answers "which part of the detail drove the label". It depends on the row alone,
never on which other rows are explained (a batch-mean face would make a row's shares depend on
the sampling mode). A constant reference is unusable for the audio expert: it normalises each
window (instance norm), so on the straight path from a constant its output is flat except within
~1e-5 of the reference, where no sample lands. A constant grey face would mostly credit the
contrast of hair and background. Multiple blur scales make the shares less sensitive to any
one scale.

Group shares. ``share(g) = sum |attr| in g / sum |attr|`` over the modality's input. Face groups
are ``align.region_masks()`` on the aligned crop (the four sum to 1). Audio bands are thirds of
the 64 Slaney mel bands of ``audio.log_mel`` (torchaudio, 0-8 kHz); filter crossovers give the
edges: low = bands 0-21 (centres 46-1022 Hz, up to ~1.05 kHz), mid = 22-42 (1072-2792 Hz,
~1.05-2.86 kHz), high = 43-63 (2928-7626 Hz, above ~2.86 kHz); the three sum to 1. Early/late
are the two halves of the window in time (for the 2 s window centred on the middle of second s:
[s - 0.5, s + 0.5) and [s + 0.5, s + 1.5) in audio time); they also sum to 1. Group columns are
null where the modality is absent or unused by fusion, or where the row was not explained.
A share says where the attribution mass of the expert lies, not its sign, and not how much the
modality mattered (that is ``shap_visual`` / ``shap_audio``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import shap
import torch
import torch.nn.functional as F
from torch import nn

from emotion_batch.align import region_masks, to_model_input
from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.models.fusion import FusionParams, fuse_probs, load_default_params
from emotion_batch.schemas import ATTRIBUTION_SCHEMA, AUDIO_GROUPS, FACE_GROUPS

#: Expected-gradients samples per row and modality (see benchmarks/explain_convergence.py).
N_SAMPLES = 64
GRAD_BATCH = 64  # samples per forward/backward pass
FACE_BLUR_SIGMAS: tuple[float, ...] = (3.0, 6.0, 12.0)  # px on the 64x64 crop
AUDIO_BLUR_SIGMAS: tuple[tuple[float, float], ...] = ((2.0, 8.0), (4.0, 16.0), (8.0, 32.0))  # (bands, frames)
#: Mel-band index ranges [lo, hi) of the audio band groups (thirds of 64 bands).
AUDIO_BANDS: dict[str, tuple[int, int]] = {"audio_low": (0, 22), "audio_mid": (22, 43), "audio_high": (43, 64)}
GROUP_COLUMNS: tuple[str, ...] = tuple(f"g_{g}" for g in FACE_GROUPS + AUDIO_GROUPS)


@dataclass
class ExplainInput:
    """One timeline row to explain. ``crop``: uint8 (64, 64) aligned face of the second (None for
    face_id -1); ``logmel``: float32 (64, frames) window of the second (None without audio).
    ``v_probs`` / ``a_probs``: the expert probabilities the timeline used, if known; when None
    they are computed from ``crop`` / ``logmel`` (pass them so that ``label`` equals the
    timeline's ``emotion``)."""

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


@dataclass
class ModalityShapley:
    """Exact two-player values per row (float64 arrays of length N)."""

    label: np.ndarray  # int64 index into LABELS; -1 where neither modality is usable
    p_label: np.ndarray
    shap_visual: np.ndarray
    shap_audio: np.ndarray
    shap_base: np.ndarray
    has_face: np.ndarray  # bool
    audio_used: np.ndarray  # bool: audio present and speech >= min_speech

    @property
    def explained(self) -> np.ndarray:
        return self.label >= 0


def modality_shapley(v_probs, a_probs, face_score, face_size_px, speech, has_face, has_audio,
                     fusion_params: FusionParams | None = None) -> ModalityShapley:
    """Shapley values of face and voice for the fused probability of each row's predicted label.

    Arguments as ``fusion.fuse_probs`` (N rows; rows of an absent modality may hold NaN)."""
    params = fusion_params or load_default_params()
    v = np.asarray(v_probs, np.float32).reshape(-1, N_LABELS)
    a = np.asarray(a_probs, np.float32).reshape(-1, N_LABELS)
    n = len(v)

    def col(x, dtype=np.float32):
        return np.broadcast_to(np.asarray(x, dtype=dtype), (n,)).astype(dtype)

    score, size, sp = (col(x) for x in (face_score, face_size_px, speech))
    face, aud = col(has_face, bool), col(has_audio, bool)
    off = np.zeros(n, bool)
    # Coalitions stacked: both, face only, audio only, none.
    masks_f = np.concatenate([face, face, off, off])
    masks_a = np.concatenate([aud, off, aud, off])
    out = fuse_probs(np.tile(v, (4, 1)), np.tile(a, (4, 1)), np.tile(score, 4), np.tile(size, 4),
                     np.tile(sp, 4), masks_f, masks_a, params=params)
    fused = out.fused.numpy().reshape(4, n, N_LABELS)
    w_v, w_a = out.w_visual.numpy()[:n], out.w_audio.numpy()[:n]
    usable = (w_v + w_a) > 0
    label = np.where(usable, np.argmax(fused[0], axis=1), -1).astype(np.int64)
    pick = np.take_along_axis(fused.astype(np.float64), np.maximum(label, 0)[None, :, None], 2)[..., 0]
    v_fa, v_f, v_a, v_0 = pick
    audio_used = aud & (sp >= params.min_speech)
    s_vis = 0.5 * ((v_f - v_0) + (v_fa - v_a))
    s_aud = 0.5 * ((v_a - v_0) + (v_fa - v_f))
    # Exact zeros by construction (selection in fuse_probs); enforced against float noise.
    s_vis = np.where(face, s_vis, 0.0)
    s_aud = np.where(audio_used, s_aud, 0.0)
    return ModalityShapley(label, v_fa, s_vis, s_aud, v_0, face, audio_used)


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


# ---------------------------------------------------------------------------------------------
# Feature groups


class _LabelLogProb(nn.Module):
    """(N, ...) -> (N, 1) log-probability of one label (from ``logits`` when the model has it)."""

    def __init__(self, model: nn.Module, label: int):
        super().__init__()
        self.model, self.label = model, int(label)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if hasattr(self.model, "logits"):
            logp = torch.log_softmax(self.model.logits(x), dim=1)
        else:
            logp = torch.log(self.model(x).clamp(min=1e-12))
        return logp[:, self.label : self.label + 1]


def _gauss_kernel(sigma: float, length: int, device) -> torch.Tensor:
    radius = int(min(np.ceil(3 * sigma), length - 1))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma_y: float, sigma_x: float) -> torch.Tensor:
    """Separable Gaussian blur of the last two axes of ``x`` (any leading shape), reflect padding."""
    shape = x.shape
    h, w = shape[-2:]
    y = x.reshape(-1, 1, h, w)
    ky, kx = _gauss_kernel(sigma_y, h, x.device), _gauss_kernel(sigma_x, w, x.device)
    y = F.conv2d(F.pad(y, (0, 0, len(ky) // 2, len(ky) // 2), mode="reflect"), ky.view(1, 1, -1, 1))
    y = F.conv2d(F.pad(y, (len(kx) // 2, len(kx) // 2, 0, 0), mode="reflect"), kx.view(1, 1, 1, -1))
    return y.reshape(shape)


def face_references(x: torch.Tensor) -> torch.Tensor:
    """(1, 64, 64) model-input face -> (K, 1, 64, 64) blurred references."""
    return torch.stack([gaussian_blur(x, s, s) for s in FACE_BLUR_SIGMAS])


def audio_references(x: torch.Tensor) -> torch.Tensor:
    """(64, T) log-mel -> (K, 64, T) blurred references."""
    return torch.stack([gaussian_blur(x, sf, st) for sf, st in AUDIO_BLUR_SIGMAS])


def expected_gradients(model: nn.Module, x: torch.Tensor, label: int, references: torch.Tensor,
                       n_samples: int = N_SAMPLES, seed: int = 0) -> np.ndarray:
    """shap.GradientExplainer attributions of log p(label | x) for one input ``x`` (shape of one
    model input, on the model's device) against ``references`` (K, *x.shape). float64 array of
    x's shape; they sum to ~ log p(label|x) - mean_k log p(label|ref_k). NumPy's global RNG
    state is restored afterwards."""
    state = np.random.get_state()
    try:
        with torch.inference_mode(False), torch.enable_grad():
            x = x.detach().clone()
            refs = references.detach().clone()
            explainer = shap.GradientExplainer(_LabelLogProb(model, label), refs,
                                               batch_size=min(n_samples, GRAD_BATCH))
            phi = explainer.shap_values(x[None], nsamples=n_samples, rseed=seed)
    finally:
        np.random.set_state(state)
    return np.asarray(phi, np.float64).reshape(x.shape)


_FACE_MASKS = region_masks()


def face_shares(attr: np.ndarray) -> np.ndarray:
    """(64, 64) attributions -> shares of |attr| per FACE_GROUPS (sum 1; NaN if all zero)."""
    m = np.abs(np.asarray(attr, np.float64).reshape(64, 64))
    total = m.sum()
    if not total > 0:
        return np.full(len(FACE_GROUPS), np.nan)
    return np.array([m[_FACE_MASKS[g]].sum() / total for g in FACE_GROUPS])


def audio_shares(attr: np.ndarray) -> np.ndarray:
    """(64, T) attributions -> shares per AUDIO_GROUPS: low, mid, high (sum 1), early, late (sum 1)."""
    m = np.abs(np.asarray(attr, np.float64))
    total = m.sum()
    if not total > 0:
        return np.full(len(AUDIO_GROUPS), np.nan)
    half = m.shape[1] // 2
    bands = [m[lo:hi].sum() / total for lo, hi in AUDIO_BANDS.values()]
    return np.array(bands + [m[:, :half].sum() / total, m[:, half:].sum() / total])


def group_attributions(crops: Sequence[np.ndarray | None], logmels: Sequence[np.ndarray | None],
                       labels: Sequence[int], visual_model: nn.Module | None, audio_model: nn.Module | None,
                       device="cpu", n_samples: int = N_SAMPLES, seed: int = 0) -> np.ndarray:
    """Group shares for the rows given: (N, 9) float64 in GROUP_COLUMNS order, NaN where that
    row's crop / log-mel is None. Each row is explained for its own ``labels[i]`` (index into
    LABELS), independently of the other rows (same result whatever subset is passed)."""
    n = len(labels)
    out = np.full((n, len(GROUP_COLUMNS)), np.nan)
    nf = len(FACE_GROUPS)
    for i in range(n):
        lab = int(labels[i])
        if crops[i] is not None:
            x = to_model_input(np.asarray(crops[i], np.uint8)[None], device)[0]  # (1, 64, 64)
            attr = expected_gradients(visual_model, x, lab, face_references(x), n_samples, seed)
            out[i, :nf] = face_shares(attr)
        if logmels[i] is not None:
            x = torch.as_tensor(np.asarray(logmels[i], np.float32), device=device)
            attr = expected_gradients(audio_model, x, lab, audio_references(x), n_samples, seed)
            out[i, nf:] = audio_shares(attr)
    return out


def explain_mask(seconds, mode: str, every: int = 1) -> np.ndarray:
    """Which rows get group attributions for ``--explain all|sample|none`` (sample: second % every == 0)."""
    s = np.asarray(seconds, np.int64)
    if mode == "all":
        return np.ones(len(s), bool)
    if mode == "none":
        return np.zeros(len(s), bool)
    if mode == "sample":
        return (s % max(int(every), 1)) == 0
    raise ValueError(f"explain mode must be all, sample or none, got {mode!r}")


def explain(inputs: Sequence[ExplainInput], visual_model: nn.Module | None, audio_model: nn.Module | None,
            fusion_params: FusionParams | None = None, device="cpu", groups: bool | Sequence[bool] = True,
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

    ms = modality_shapley(v, a, f32("face_score"), f32("face_size_px"), f32("speech"),
                          has_face, has_audio, params)
    sel = np.broadcast_to(np.asarray(groups, bool), (n,)) & ms.explained
    shares = np.full((n, len(GROUP_COLUMNS)), np.nan)
    idx = np.flatnonzero(sel)
    if len(idx):
        shares[idx] = group_attributions(
            [inputs[i].crop if ms.has_face[i] else None for i in idx],
            [inputs[i].logmel if ms.audio_used[i] else None for i in idx],
            ms.label[idx], visual_model, audio_model, device, n_samples, seed)
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

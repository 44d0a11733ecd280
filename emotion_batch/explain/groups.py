"""**Feature groups (sampled, a chosen subset of rows).** Inside each modality we explain the
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

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from emotion_batch.schemas import AUDIO_GROUPS, FACE_GROUPS
from emotion_batch.vision.align import region_masks, to_model_input

#: Expected-gradients samples per row and modality (see benchmarks/explain_convergence.py).
N_SAMPLES = 64
GRAD_BATCH = 64  # samples per forward/backward pass
FACE_BLUR_SIGMAS: tuple[float, ...] = (3.0, 6.0, 12.0)  # px on the 64x64 crop
AUDIO_BLUR_SIGMAS: tuple[tuple[float, float], ...] = ((2.0, 8.0), (4.0, 16.0), (8.0, 32.0))  # (bands, frames)
#: Mel-band index ranges [lo, hi) of the audio band groups (thirds of 64 bands).
AUDIO_BANDS: dict[str, tuple[int, int]] = {"audio_low": (0, 22), "audio_mid": (22, 43), "audio_high": (43, 64)}
GROUP_COLUMNS: tuple[str, ...] = tuple(f"g_{g}" for g in FACE_GROUPS + AUDIO_GROUPS)


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
                       *, n_samples: int = N_SAMPLES, seed: int = 0) -> np.ndarray:
    """shap.GradientExplainer attributions of log p(label | x) for one input ``x`` (shape of one
    model input, on the model's device) against ``references`` (K, *x.shape). float64 array of
    x's shape; they sum to ~ log p(label|x) - mean_k log p(label|ref_k). NumPy's global RNG
    state is restored afterwards."""
    import shap  # half a second of imports: only when a second is explained with SHAP groups

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
                       labels: Sequence[int], *, visual_model: nn.Module | None, audio_model: nn.Module | None,
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
            attr = expected_gradients(visual_model, x, lab, face_references(x), n_samples=n_samples, seed=seed)
            out[i, :nf] = face_shares(attr)
        if logmels[i] is not None:
            x = torch.as_tensor(np.asarray(logmels[i], np.float32), device=device)
            attr = expected_gradients(audio_model, x, lab, audio_references(x), n_samples=n_samples, seed=seed)
            out[i, nf:] = audio_shares(attr)
    return out

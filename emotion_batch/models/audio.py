"""Audio expert: a small CNN with attentive statistics pooling over log-mel windows.

Input contract: float32 ``(N, 64, frames)`` log-mel from :func:`emotion_batch.audio.log_mel`
(2 s windows -> 200 frames; any length >= 16 frames works). Output of ``forward``: softmax
probabilities ``(N, 7)`` in :data:`emotion_batch.labels.LABELS` order; ``logits`` gives the
pre-softmax scores. Each window is normalised inside the model (instance normalisation: minus
its mean, over its standard deviation, across all bands and frames), so the model is blind to
recording gain and needs no stored statistics.

Architecture (sized for CPU training in minutes): 3 strided 2-D conv blocks (3x3 conv,
BatchNorm, ReLU; channels 16-32-64, strides (2,2), (2,2), (2,1)) turn (1, 64, T) into
(64, 8, T/4); frequency x channels are flattened and projected to 128 by a 1x1 conv; two
residual dilated 1-D convs over time (dilation 2, 3); channel-wise attentive statistics pooling
(ECAPA-style weighted mean and standard deviation over time) gives 256 numbers; dropout and a
linear layer give 7 logits.

Weights: ``weights/audio_expert.safetensors`` with ``weights/audio_expert.json`` (config and
training record), trained by ``emotion_batch.training.train_audio`` on RAVDESS actors 01-16.
See MODEL_CARD.md (## Audio expert). Data licence CC BY-NC-SA 4.0: the weights are
non-commercial.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from emotion_batch.labels import N_LABELS

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
WEIGHTS_PATH = WEIGHTS_DIR / "audio_expert.safetensors"
CONFIG_PATH = WEIGHTS_DIR / "audio_expert.json"
N_MELS = 64
WINDOW_FRAMES = 200  # 2 s at 10 ms


from emotion_batch.models.versions import AUDIO_WEIGHTS_SHA  # noqa: E402  (read without torch)


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """(N, F, T) -> each window minus its mean over its std (over F and T)."""
    mean = x.mean(dim=(1, 2), keepdim=True)
    std = x.std(dim=(1, 2), keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


class ConvBlock(nn.Module):
    """3x3 conv (strided: it does the downsampling), BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int]):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class TimeBlock(nn.Module):
    """Residual dilated 1-D conv over time, (N, C, T) -> (N, C, T)."""

    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + torch.relu(self.bn(self.conv(h)))


class AttentiveStatsPool(nn.Module):
    """Channel-wise attention over time -> weighted mean and std, (N, C, T) -> (N, 2C)."""

    def __init__(self, channels: int, hidden: int = 64):
        super().__init__()
        self.attn = nn.Sequential(
            nn.Conv1d(channels, hidden, 1), nn.Tanh(), nn.Conv1d(hidden, channels, 1)
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        w = torch.softmax(self.attn(h), dim=2)
        mean = (w * h).sum(dim=2)
        var = (w * h * h).sum(dim=2) - mean * mean
        return torch.cat([mean, torch.sqrt(var.clamp(min=1e-5))], dim=1)


class AudioEmotionNet(nn.Module):
    """Log-mel window (N, 64, T) -> 7 emotion probabilities (``forward``) or logits."""

    def __init__(
        self,
        *,
        n_mels: int = N_MELS,
        channels: tuple[int, ...] = (16, 32, 64),
        embed: int = 128,
        dilations: tuple[int, ...] = (2, 3),
        dropout: float = 0.3,
        n_classes: int = N_LABELS,
    ):
        super().__init__()
        strides = [(2, 2), (2, 2), (2, 1)][: len(channels)]
        blocks, cin = [], 1
        for cout, stride in zip(channels, strides):
            blocks.append(ConvBlock(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        freq_out = n_mels // (2 ** len(channels))
        self.project = nn.Sequential(
            nn.Conv1d(cin * freq_out, embed, 1, bias=False), nn.BatchNorm1d(embed), nn.ReLU()
        )
        self.time = nn.Sequential(*[TimeBlock(embed, d) for d in dilations])
        self.pool = AttentiveStatsPool(embed)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * embed, n_classes)
        self.config = {
            "n_mels": n_mels, "channels": list(channels), "embed": embed,
            "dilations": list(dilations), "dropout": dropout, "n_classes": n_classes,
        }

    def logits(self, logmel: torch.Tensor) -> torch.Tensor:
        if logmel.ndim != 3:
            raise ValueError(f"expected (N, {N_MELS}, frames) log-mel, got {tuple(logmel.shape)}")
        x = self.blocks(instance_norm(logmel).unsqueeze(1))  # (N, C, F', T')
        n, c, f, t = x.shape
        h = self.time(self.project(x.reshape(n, c * f, t)))
        return self.head(self.dropout(self.pool(h)))

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(logmel), dim=1)


def load_audio_model(device: str | torch.device = "cpu", weights: str | Path | None = None) -> AudioEmotionNet:
    """The trained audio expert in eval mode on ``device`` (weights load offline from the repo)."""
    path = Path(weights) if weights is not None else WEIGHTS_PATH
    cfg_path = path.with_suffix(".json")
    cfg = json.loads(cfg_path.read_text())["model"] if cfg_path.exists() else {}
    for key in ("channels", "dilations"):
        if key in cfg:
            cfg[key] = tuple(cfg[key])
    model = AudioEmotionNet(**cfg)
    model.load_state_dict(load_file(str(path), device="cpu"), strict=True)
    return model.eval().to(device)

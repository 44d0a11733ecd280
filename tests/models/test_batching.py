import os
import subprocess
import sys

import pytest
import torch
from facenet_pytorch import MTCNN

from emotion_batch.models.batching import CPU_BATCH, GPU_BATCH, batch_size, padded_size, run_batched


@pytest.fixture(scope="module")
def nets():
    return MTCNN(keep_all=True).eval()


class ShapeLog(torch.nn.Module):
    """Wraps a net and records the batch size of every call."""

    def __init__(self, net):
        super().__init__()
        self.net, self.sizes = net, []

    def forward(self, x):
        self.sizes.append(len(x))
        return self.net(x)


def test_padded_size_is_next_power_of_two_capped():
    assert [padded_size(n, 64) for n in (1, 2, 3, 5, 33, 63, 64)] == [1, 2, 4, 8, 64, 64, 64]
    assert padded_size(100, 64) == 64


@pytest.mark.parametrize("n", [1, 5, 63, 64, 65, 200])
def test_same_outputs_as_one_call_for_tuple_outputs(nets, n):
    torch.manual_seed(n)
    x = torch.randn(n, 3, 24, 24)
    with torch.inference_mode():
        want = nets.rnet(x)
        got = run_batched(nets.rnet, x)
    assert isinstance(got, tuple) and len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)


def test_same_outputs_for_a_tensor_output_model():
    from emotion_batch.models.visual import load_visual_model

    model = load_visual_model(torch.device("cpu"))
    x = torch.rand(70, 1, 64, 64) * 2 - 1
    with torch.inference_mode():
        torch.testing.assert_close(run_batched(model, x), model(x), atol=1e-5, rtol=1e-4)


def test_empty_input_gives_empty_outputs(nets):
    with torch.inference_mode():
        reg, prob = run_batched(nets.rnet, torch.zeros(0, 3, 24, 24))
    assert reg.shape == (0, 4) and prob.shape == (0, 2)


def test_few_distinct_shapes_whatever_the_counts(nets):
    # the point of the module: 300 different input counts reach the net as <= 7 batch shapes
    log = ShapeLog(nets.rnet)
    with torch.inference_mode():
        for n in range(1, 301):
            run_batched(log, torch.zeros(n, 3, 24, 24), size=64)
    assert set(log.sizes) <= {1, 2, 4, 8, 16, 32, 64}
    assert max(log.sizes) == 64


def test_batch_size_by_device():
    assert batch_size("cpu") == CPU_BATCH
    assert batch_size(torch.device("cuda")) == GPU_BATCH


def test_package_caps_the_onednn_kernel_cache_unless_the_user_did():
    code = "import emotion_batch, os; print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"
    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "256"
    env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = "32"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "32"

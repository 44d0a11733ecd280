"""Runtime selection (--runtime) per device, checked on the CPU for the GPU's choices too, and
what it means for the config hash."""

import pytest
import torch

from emotion_batch.config import RUNTIMES, ConfigError, RunConfig
from emotion_batch.runtime import OrtNet, Runtime, resolve_runtime
from emotion_batch.runtime.specs import SPECS, torch_net


@pytest.mark.parametrize("device, want", [("cpu", "onnx"), ("cuda", "torch"), ("cuda:1", "torch")])
def test_auto_is_onnx_on_the_cpu_and_torch_on_a_gpu(device, want):
    # resolving is pure selection: it needs no GPU, so the GPU's choice is checked here too
    assert resolve_runtime("auto", device) == want


@pytest.mark.parametrize("name", ["torch", "onnx", "onnx-int8"])
def test_explicit_runtimes_on_the_cpu_are_kept(name):
    assert resolve_runtime(name, torch.device("cpu")) == name


@pytest.mark.parametrize("name", ["onnx", "onnx-int8"])
def test_onnx_on_a_gpu_is_a_clear_error(name):
    with pytest.raises(ConfigError, match="runs on the CPU only.*--runtime torch"):
        resolve_runtime(name, "cuda")
    assert resolve_runtime("torch", "cuda") == "torch"


def test_unknown_runtime_is_refused_by_config_and_resolver():
    with pytest.raises(ConfigError, match="--runtime must be one of"):
        RunConfig(runtime="tensorrt")
    with pytest.raises(ConfigError, match="--runtime must be one of"):
        resolve_runtime("tensorrt", "cpu")
    assert set(RUNTIMES) == {"auto", "torch", "onnx", "onnx-int8"}


def test_torch_runtime_hands_back_the_module_itself():
    module = torch_net("rnet")
    assert Runtime.resolve("torch", "cpu").net("rnet", module) is module
    assert Runtime.resolve("torch", "cuda").net("rnet", module) is module  # no GPU needed to choose


def test_int8_runtime_uses_int8_graphs_only_where_they_keep_results():
    rt = Runtime.resolve("onnx-int8", "cpu")
    for name, spec in SPECS.items():
        net = rt.net(name, torch_net(name))
        assert isinstance(net, OrtNet)
        assert net.path == spec.path(int8=spec.int8), name
        assert net.path.name.endswith(".int8.onnx") == spec.int8


def test_session_threads_follow_torch_threads():
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        net = Runtime.resolve("onnx", "cpu").net("pnet", torch_net("pnet"))
        assert net.threads == 1
    finally:
        torch.set_num_threads(old)


def test_config_hash_counts_the_runtime_only_for_int8():
    """Float onnx and torch agree to ~1e-5 (test_onnx_parity.py), like CPU and GPU kernels, so
    results finished under one are kept under the other; int8 moves numbers and is redone."""
    base = RunConfig().config_hash()
    assert RunConfig(runtime="torch").config_hash() == base == RunConfig(runtime="onnx").config_hash()
    assert RunConfig(runtime="onnx-int8").config_hash() != base

"""Runtime selection (--runtime) per device, checked on the CPU for the GPU's choices too, and
what it means for the config hash."""

import pytest
import torch

from emotion_batch.config import RUNTIMES, ConfigError, RunConfig
from emotion_batch.models.runtime import OrtNet, Runtime, resolve_runtime
from emotion_batch.models.runtime.specs import SPECS, torch_net


@pytest.mark.parametrize("device, want", [("cpu", "onnx"), ("cuda", "torch"), ("cuda:1", "torch")])
def test_auto_is_onnx_on_the_cpu_and_torch_on_a_gpu(device, want):
    # resolving is pure selection: it needs no GPU, so the GPU's choice is checked here too
    assert resolve_runtime("auto", device) == want


@pytest.mark.parametrize("name", ["torch", "onnx"])
def test_explicit_runtimes_on_the_cpu_are_kept(name):
    assert resolve_runtime(name, torch.device("cpu")) == name


def test_onnx_on_a_gpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="runs on the CPU only.*--runtime torch"):
        resolve_runtime("onnx", "cuda")
    assert resolve_runtime("torch", "cuda") == "torch"


def test_unknown_runtime_is_refused_by_config_and_resolver():
    with pytest.raises(ConfigError, match="--runtime must be one of"):
        RunConfig(runtime="tensorrt")
    with pytest.raises(ConfigError, match="--runtime must be one of"):
        resolve_runtime("tensorrt", "cpu")
    with pytest.raises(ConfigError, match="--runtime must be one of"):
        RunConfig(runtime="onnx-int8")  # measured and left out: models/onnx/README.md
    assert set(RUNTIMES) == {"auto", "torch", "onnx"}


def test_torch_runtime_hands_back_the_module_itself():
    module = torch_net("rnet")
    assert Runtime.resolve("torch", "cpu").net("rnet", module) is module
    assert Runtime.resolve("torch", "cuda").net("rnet", module) is module  # no GPU needed to choose


def test_onnx_runtime_serves_the_committed_float_exports():
    rt = Runtime.resolve("onnx", "cpu")
    for name, spec in SPECS.items():
        net = rt.net(name, torch_net(name))
        assert isinstance(net, OrtNet) and net.path == spec.path() and net.path.suffixes == [".onnx"]


def test_session_threads_follow_torch_threads():
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        net = Runtime.resolve("onnx", "cpu").net("pnet", torch_net("pnet"))
        assert net.threads == 1
    finally:
        torch.set_num_threads(old)


def test_config_hash_ignores_the_runtime():
    """Float onnx and torch agree to ~1e-6 (test_onnx_parity.py), like CPU and GPU kernels, so
    results finished under one are kept under the other."""
    base = RunConfig().config_hash()
    assert RunConfig(runtime="torch").config_hash() == base == RunConfig(runtime="onnx").config_hash()
    assert RunConfig(runtime="torch", fps=2).config_hash() != base


def test_session_options_share_the_cores_with_torch():
    """Intra-op threads = torch's, no spin-waiting between runs (torch work follows each run on
    the same cores), no arena keeping every P-Net pyramid shape's buffers (see session.py)."""
    from emotion_batch.models.runtime.session import session_options

    so = session_options(3)
    assert so.intra_op_num_threads == 3 and so.inter_op_num_threads == 1
    assert so.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert not so.enable_cpu_mem_arena and not so.enable_mem_pattern

"""Which runtime runs the detector's three nets and the two experts (``--runtime``).

    torch       eager PyTorch modules (the reference; autograd; any device)
    onnx        the committed float32 ONNX exports (emotion_batch/models/onnx, made by
                scripts/export_onnx.py) in onnxruntime, CPU only
    auto        onnx on the CPU, torch on a GPU (onnxruntime's CPU wheel has no CUDA provider)

There is no int8 runtime: static int8 graphs (runtime/quantize.py) were no faster than float
onnx here and did not keep the results (models/onnx/README.md has the figures).

``Runtime.net(name, module)`` returns what to call in place of the torch module: the module
itself, or an :class:`OrtNet` over its export, which takes and returns torch tensors. Attribution
(explain/) needs gradients and always uses the torch modules, whatever the runtime.

Why onnx on the CPU (benchmarks/runtime_ab.py, 2 threads, same batches): onnxruntime fuses
conv + bias + PReLU/BN and plans memory once per shape, where eager torch dispatches op by op.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from emotion_batch.config import RUNTIMES, ConfigError
from emotion_batch.models.runtime.session import OrtNet, StaleExportError
from emotion_batch.models.runtime.specs import SPECS, NetSpec, weights_digest

__all__ = ["RUNTIMES", "NetSpec", "OrtNet", "Runtime", "SPECS", "StaleExportError", "resolve_runtime"]


def onnxruntime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def resolve_runtime(requested: str, device: torch.device | str) -> str:
    """The concrete runtime (torch or onnx) for a requested one on a device."""
    device = torch.device(device)
    if requested not in RUNTIMES:
        raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {requested!r}")
    if requested == "auto":
        return "onnx" if device.type == "cpu" and onnxruntime_available() else "torch"
    if requested == "onnx":
        if device.type != "cpu":
            raise ConfigError(f"--runtime {requested} runs on the CPU only (onnxruntime's CPU build); "
                              f"on {device} use --runtime torch or auto, or --device cpu")
        if not onnxruntime_available():
            raise ConfigError(f"--runtime {requested} needs the onnxruntime package; "
                              "pip install onnxruntime, or use --runtime torch")
    return requested


@dataclass(frozen=True)
class Runtime:
    """A resolved runtime on a device; ``net`` wraps each torch module accordingly."""

    name: str  # torch | onnx
    device: torch.device
    requested: str = ""  # what was asked for (auto, torch, onnx)

    @classmethod
    def resolve(cls, requested: str, device: torch.device | str) -> "Runtime":
        return cls(resolve_runtime(requested, device), torch.device(device), requested)

    @property
    def is_onnx(self) -> bool:
        return self.name == "onnx"

    def net(self, name: str, module: nn.Module | Callable[[], nn.Module], digest: str | None = None):
        """The callable that stands in for `module` (one of SPECS: pnet, rnet, onet, visual,
        audio) under this runtime. `module` may be a function that builds it, with `digest` its
        weights_digest: it is then built only when torch runs it (the torch runtime, or a stale
        export under auto), which keeps the detector's torch modules (and facenet-pytorch's
        torchvision import) out of an onnx run. An ONNX file exported from other weights than
        `module`'s (say, after `train audio` replaced the packaged weights) is refused under an
        explicit --runtime onnx (StaleExportError); under auto, that net runs in torch, with a
        warning."""
        build = (lambda: module) if isinstance(module, nn.Module) else module
        if not self.is_onnx:
            return build()
        path = SPECS[name].path()
        if not path.exists():
            raise ConfigError(f"--runtime {self.name}: {path} is missing (the package ships it; in a "
                              "checkout, run `python scripts/export_onnx.py`), or use --runtime torch")
        try:
            expect = digest if digest is not None else weights_digest(build())
            return OrtNet(path, expect_digest=expect, max_batch=SPECS[name].ort_batch)
        except StaleExportError as e:
            if self.requested != "auto":
                raise
            warnings.warn(f"{e}; running {name} in torch meanwhile", stacklevel=2)
            return build()

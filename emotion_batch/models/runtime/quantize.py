"""int8 versions of the exported nets (onnxruntime.quantization), for evaluation.

Static quantisation in QDQ format: int8 weights (per output channel) and uint8 activations whose
ranges come from calibration batches of real inputs (training/capture.py: frames and crops of
the sample videos, RAVDESS log-mel windows of the training actors), min/max calibration.
Only Conv, Gemm and MatMul are quantised: quantising every op also put a Q/DQ pair on the visual
expert's -inf max-pool padding, whose infinite range made the scale NaN (top-1 agreement 1 %).
``dynamic`` quantises weights only (activations per batch at run time; Conv becomes
ConvInteger), the usual choice for small dense nets: 2-5x slower than float here.

No runtime serves them: measured with benchmarks/runtime_ab.py and benchmarks/int8_parity.py
they were no faster than float onnx on this CPU and missed the bars (face-seconds within 1 % of
float, expert top-1 agreement >= 99 %); emotion_batch/models/onnx/README.md has the figures.
The tooling stays so the measurement can be repeated on other CPUs.
Needs the ``onnx`` package (dev extra), like the float export.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from emotion_batch.models.runtime.export import set_metadata
from emotion_batch.models.runtime.session import OrtNet
from emotion_batch.models.runtime.specs import DIGEST_KEY, ONNX_DIR, SPECS

METHODS = ("static", "dynamic")


class _Batches:
    """onnxruntime CalibrationDataReader over a list of float32 input batches."""

    def __init__(self, batches: Iterable[torch.Tensor]):
        self._items = [np.ascontiguousarray(b.numpy(), np.float32) for b in batches]
        self._it = iter(self._items)

    def get_next(self):
        x = next(self._it, None)
        return None if x is None else {"x": x}

    def rewind(self):
        self._it = iter(self._items)


def quantize(name: str, calibration: list[torch.Tensor] | None, method: str = "static",
             folder: Path = ONNX_DIR, out: Path | None = None) -> Path:
    """Quantise ``folder/NAME.onnx`` into ``out`` (default ``folder/NAME.int8.onnx``)."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    spec = SPECS[name]
    src = spec.path(folder=folder)
    out = out or spec.path(int8=True, folder=folder)
    digest = OrtNet(src, threads=1).digest
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        if method == "static":
            if not calibration:
                raise ValueError(f"{name}: static quantisation needs calibration batches")
            quantize_static(str(pre), str(out), _Batches(calibration), quant_format=QuantFormat.QDQ,
                            op_types_to_quantize=["Conv", "Gemm", "MatMul"], per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            calibrate_method=CalibrationMethod.MinMax)
        else:
            quantize_dynamic(str(pre), str(out), per_channel=True, weight_type=QuantType.QInt8)
    set_metadata(out, {DIGEST_KEY: digest, "source": "scripts/export_onnx.py", "int8": method})
    return out

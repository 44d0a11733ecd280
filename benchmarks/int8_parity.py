"""Does int8 keep the results? Face-seconds and expert top-1 agreement, float vs int8.

For each sample video: face-seconds (timeline rows with a face) with the detector's nets in
torch, in float onnx and in int8 onnx (all three int8; experts float). The aligned face crops of
the float-onnx run are then classified by the visual expert in float and int8 onnx (top-1
agreement), and RAVDESS log-mel windows of the held-out actors 17-20 by the audio expert.

Criteria (the issue): face-seconds within 1 % of float on every video; expert top-1 agreement
>= 99 %. Make the int8 files first:

    python scripts/export_onnx.py --int8 --out /tmp/int8
    python benchmarks/int8_parity.py --int8-dir /tmp/int8 [VIDEOS...] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one
DATA = ROOT.parent / "shared" / "data"


def analyse(path: str, runtime: str, int8_dir: Path | None, crops: list | None = None):
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer
    from emotion_batch.models.runtime import OrtNet

    hook = None
    if crops is not None:
        def hook(step, artifact, **kw):
            if step == "align":
                crops.append(artifact.crops)
    a = VideoAnalyzer(RunConfig.from_flat(device="cpu", runtime=runtime, explain="none"))
    if int8_dir is not None:
        det = a.detector
        det.pnet, det.rnet, det.onet = (OrtNet(int8_dir / f"{n}.int8.onnx") for n in ("pnet", "rnet", "onet"))
    t = time.perf_counter()
    r = a(path, hook=hook)
    if not r.ok:
        raise SystemExit(f"{path}: {r.error}")
    return r.face_seconds, time.perf_counter() - t


def top1(float_net, int8_net, x: torch.Tensor) -> tuple[float, float, int]:
    """(top-1 agreement, max abs probability difference, n) over x in batches of 64."""
    from emotion_batch.models.batching import run_batched

    a, b = run_batched(float_net, x, 64), run_batched(int8_net, x, 64)
    return float((a.argmax(1) == b.argmax(1)).float().mean()), float((a - b).abs().max()), len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--int8-dir", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--per-actor", type=int, default=30, help="RAVDESS clips per held-out actor")
    a = ap.parse_args()
    from emotion_batch.models.runtime import OrtNet
    from emotion_batch.training.capture import speech_windows
    from emotion_batch.models.runtime.specs import SPECS
    from emotion_batch.vision.align import to_model_input

    videos = a.videos or sorted(str(p) for p in (a.data / "videos").glob("*") if p.suffix.lower() in (".mp4", ".mov"))
    print(f"{'video':28} {'torch':>6} {'onnx':>6} {'int8 det':>8}  {'int8/onnx':>9}   seconds torch/onnx/int8")
    crops, worst = [], 0.0
    for v in videos:
        ft, tt = analyse(v, "torch", None)
        fo, to = analyse(v, "onnx", None, crops)
        fi, ti = analyse(v, "onnx", a.int8_dir)
        rel = abs(fi - fo) / max(fo, 1)
        worst = max(worst, rel)
        print(f"{Path(v).name:28} {ft:6d} {fo:6d} {fi:8d}  {fi / max(fo, 1):9.2%}   {tt:5.1f} {to:5.1f} {ti:5.1f}")
    print(f"face-seconds: worst |int8 - float| / float = {worst:.2%} (criterion <= 1 %)")
    fl = {n: OrtNet(SPECS[n].path()) for n in ("visual", "audio")}
    q = {n: OrtNet(a.int8_dir / f"{n}.int8.onnx") for n in ("visual", "audio")}
    x = to_model_input(torch.cat(crops)) if crops else torch.zeros(0, 1, 64, 64)
    agree, diff, n = top1(fl["visual"], q["visual"], x) if len(x) else (float("nan"), float("nan"), 0)
    print(f"visual expert on {n} aligned crops of the videos: top-1 agreement {agree:.2%}, max |dp| {diff:.3f} "
          "(criterion >= 99 %)")
    mels, _ = speech_windows(a.data / "ravdess-speech-16k", {17, 18, 19, 20}, per_actor=a.per_actor, seed=1)
    agree, diff, n = top1(fl["audio"], q["audio"], mels)
    print(f"audio expert on {n} RAVDESS windows (actors 17-20): top-1 agreement {agree:.2%}, max |dp| {diff:.3f} "
          "(criterion >= 99 %)")
    print("load average:", " ".join(f"{x:.2f}" for x in np.asarray(__import__("os").getloadavg())))


if __name__ == "__main__":
    main()

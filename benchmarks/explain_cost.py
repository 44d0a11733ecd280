"""Cost of explanations per video-minute for --explain all | sample | none, on CPU.

One minute of video with one face that is seen and heard every second: 60 rows, each with an
aligned face crop (the astronaut photo, shifted by a pixel or two per second so no two rows are
equal) and a 2 s log-mel window of speech (RAVDESS clips from ../shared, a synthetic voiced tone
if it is absent). The real experts and fusion defaults; ``explain()`` with the default number of
samples. ``none`` still computes the exact modality Shapley values (expert passes + 4 fused
passes per row); ``sample`` adds group shares for every --every-th second; ``all`` for every row.
Costs scale with the number of (face, second) rows: a second with two faces costs two rows.

    .venv/bin/python benchmarks/explain_cost.py [--threads 2] [--every 5] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from skimage import data

from emotion_batch.audio import features as feats
from emotion_batch.vision.align import align_faces
from emotion_batch.explain import N_SAMPLES, ExplainInput, explain, explain_mask
from emotion_batch.models.audio import load_audio_model
from emotion_batch.models.fusion import load_default_params
from emotion_batch.models.visual import load_visual_model

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
LANDMARKS = np.array([[205.01, 101.73], [246.76, 103.71], [224.67, 128.96], [201.72, 139.25], [245.27, 141.86]])


def speech(seconds: int) -> np.ndarray:
    files = sorted((SHARED / "data" / "ravdess-speech-16k").glob("Actor_2*/*.flac"))
    if files:
        from emotion_batch.training.datasets import load_audio

        parts, n = [], 0
        for f in files:
            parts.append(load_audio(f))
            n += len(parts[-1])
            if n > (seconds + 2) * 16000:
                break
        return np.concatenate(parts)
    t = np.arange((seconds + 2) * 16000) / 16000
    ph = 2 * np.pi * np.cumsum(140 + 40 * np.sin(2 * np.pi * 0.7 * t)) / 16000
    x = sum(np.sin(k * ph) / k for k in range(1, 10)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
    return (0.1 * x).astype(np.float32)


def rows(seconds: int = 60) -> list[ExplainInput]:
    img = data.astronaut()
    wave = speech(seconds)
    out = []
    for s in range(seconds):
        shift = np.array([(s % 3) - 1, (s // 3 % 3) - 1], float)
        crop = align_faces(img, (LANDMARKS + shift)[None])[0]
        mel = feats.log_mel(feats.audio_window(wave, s + 0.5, 2.0)).numpy()
        out.append(ExplainInput("bench", 0, s, crop, mel, 0.99, 110.0, 0.8, True))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--every", type=int, default=5, help="explain_every for --explain sample")
    ap.add_argument("--samples", type=int, default=N_SAMPLES)
    ap.add_argument("--repeat", type=int, default=2, help="best of N timings")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    vm, am, params = load_visual_model(), load_audio_model(), load_default_params()
    inputs = rows(60)
    seconds = [r.second for r in inputs]
    explain(inputs[:2], vm, am, fusion_params=params, groups=True, n_samples=8)  # warm-up
    print(f"explain() on 1 face x 60 s (60 rows, face + speech every second), CPU, {a.threads} thread(s), "
          f"{a.samples} expected-gradients samples per row and modality")
    print(f"{'mode':<8} {'rows w/ groups':>14} {'s per video-minute':>19} {'ms per row':>11}")
    for mode in ("none", "sample", "all"):
        mask = explain_mask(seconds, mode, a.every)
        best = float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            tab = explain(inputs, vm, am, fusion_params=params, groups=mask, n_samples=a.samples)
            best = min(best, time.perf_counter() - t0)
        assert tab.num_rows == 60
        label = f"{mode}" + (f"/{a.every}" if mode == "sample" else "")
        print(f"{label:<8} {int(mask.sum()):>14} {best:>19.2f} {1000 * best / 60:>11.1f}")


if __name__ == "__main__":
    main()

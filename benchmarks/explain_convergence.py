"""Convergence of the expected-gradients group shares with the number of samples.

For real inputs (face crops of the sample videos from ../shared/fixtures/fer_keras_parity.npz and
2 s log-mel windows of RAVDESS clips of held-out actors 17-20; synthetic stand-ins if ../shared is
absent) and the real experts, each input is explained for the expert's top label with
n = 8 ... 256 samples under several seeds and compared with a reference run of --ref samples.
Printed per modality and n: mean |share - reference| over inputs x groups x seeds, the 95th
percentile over inputs x seeds of the largest group error, the seed-to-seed std of a share, and
the median completeness gap |sum(attr) - (f(x) - mean f(refs))| / |f(x) - mean f(refs)|.

    .venv/bin/python benchmarks/explain_convergence.py [--faces 8] [--clips 8] [--seeds 2] [--ref 512]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from emotion_batch.audio import features as feats
from emotion_batch.vision.align import to_model_input
from emotion_batch.explain import (
    audio_references,
    audio_shares,
    expected_gradients,
    face_references,
    face_shares,
)
from emotion_batch.models.audio import load_audio_model
from emotion_batch.models.visual import load_visual_model

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared"
NS = (8, 16, 32, 64, 128, 256)


def face_inputs(k: int) -> list[torch.Tensor]:
    fx = SHARED / "fixtures" / "fer_keras_parity.npz"
    if fx.exists():
        x = np.load(fx)["x"][8 : 8 + k]  # the face crops (the first 8 are random noise)
        return [torch.from_numpy(a) for a in x]
    from skimage import data, transform

    face = transform.resize(data.astronaut()[60:180, 170:280].mean(2) / 255, (64, 64))
    return [to_model_input((np.roll(face, s, 1) * 255).astype(np.uint8)[None])[0] for s in range(k)]


def audio_inputs(k: int) -> list[torch.Tensor]:
    root = SHARED / "data" / "ravdess-speech-16k"
    files = sorted(root.glob("Actor_1[7-9]/*.flac")) + sorted(root.glob("Actor_20/*.flac"))
    out = []
    if files:
        from emotion_batch.training.datasets import load_audio

        for f in files[:: max(1, len(files) // k)][:k]:
            w = load_audio(f)
            out.append(feats.log_mel(feats.audio_window(w, len(w) / 32000, 2.0)))
        return out
    t = np.arange(32000) / 16000
    for s in range(k):
        f0 = 120 + 20 * s + 30 * np.sin(2 * np.pi * 1.5 * t)
        ph = 2 * np.pi * np.cumsum(f0) / 16000
        x = sum(np.sin(j * ph) / j for j in range(1, 10)) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2)
        out.append(feats.log_mel((0.1 * x).astype(np.float32)))
    return out


def study(name, model, inputs, refs_fn, shares_fn, seeds, n_ref):
    with torch.no_grad():
        labels = [int(model(x[None]).argmax()) for x in inputs]

    def logp(x, lab):
        with torch.no_grad():
            return torch.log_softmax(model.logits(x), 1)[:, lab]

    t0 = time.perf_counter()
    ref = np.array([shares_fn(expected_gradients(model, x, lab, refs_fn(x), n_samples=n_ref, seed=1000))
                    for x, lab in zip(inputs, labels)])
    t_ref = time.perf_counter() - t0
    print(f"\n## {name}: {len(inputs)} inputs, reference {n_ref} samples ({t_ref:.1f} s)")
    print("mean reference shares:", np.round(ref.mean(0), 3).tolist())
    print(f"{'n':>5} {'mean|err|':>10} {'p95 max err':>12} {'seed std':>9} {'compl. gap':>11} {'s/input':>8}")
    for n in NS:
        sh, gaps = np.zeros((seeds, len(inputs), ref.shape[1])), []
        t0 = time.perf_counter()
        for s in range(seeds):
            for i, (x, lab) in enumerate(zip(inputs, labels)):
                r = refs_fn(x)
                attr = expected_gradients(model, x, lab, r, n_samples=n, seed=s)
                sh[s, i] = shares_fn(attr)
                delta = float(logp(x[None], lab) - logp(r, lab).mean())
                gaps.append(abs(attr.sum() - delta) / max(abs(delta), 1e-6))
        dt = (time.perf_counter() - t0) / (seeds * len(inputs))
        err = np.abs(sh - ref[None])
        std = sh.std(0).mean() if seeds > 1 else float("nan")
        print(f"{n:>5} {err.mean():>10.4f} {np.percentile(err.max(2), 95):>12.4f} {std:>9.4f} "
              f"{np.median(gaps):>11.3f} {dt:>8.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--faces", type=int, default=8)
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--ref", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    vm, am = load_visual_model(), load_audio_model()
    print(f"group shares vs expected-gradients samples (CPU, {a.threads} thread(s)); "
          f"inputs from {'../shared' if SHARED.exists() else 'synthetic stand-ins'}")
    study("face regions (brows_eyes, nose_cheeks, mouth_jaw, face_rest)", vm, face_inputs(a.faces),
          face_references, face_shares, a.seeds, a.ref)
    study("audio groups (low, mid, high, early, late)", am, audio_inputs(a.clips),
          audio_references, audio_shares, a.seeds, a.ref)


if __name__ == "__main__":
    main()

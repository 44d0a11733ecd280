"""Detection process CPU with planar (NCHW-contiguous) float frames, as shipped, against the
channels-last float frames the driver used before (`frames.permute(0, 3, 1, 2).float()` keeps
the uint8 frames' channels-last strides). Interleaved chunk by chunk in one process, one
thread, min of --repeats per chunk; also checks that boxes, scores and landmarks are equal
bit for bit (they must be: only the memory layout differs).

    python benchmarks/detect_layout_ab.py [VIDEOS...] [--repeats 2] [--chunks 4]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import emotion_batch.vision.mtcnn as mtcnn
from emotion_batch.media import iter_frames
from emotion_batch.vision.detect import FaceDetector

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "videos"


def _channels_last(frames, prescale, min_face_px, *, pnet, rnet, onet, thresholds, factor):
    """mtcnn._detect as it was before the planar copy (the float frames keep channels-last strides)."""
    full = frames.permute(0, 3, 1, 2).float()
    n, _, h, w = full.shape
    small = full
    if prescale < 1.0:
        small = mtcnn.imresample(full, (max(1, int(h * prescale + 1)), max(1, int(w * prescale + 1))))
    cand, inds = mtcnn._stage1(small, max(12.0, min_face_px * prescale), pnet, thresholds[0], factor)
    cand = cand.clone()
    cand[:, [0, 2]] /= small.shape[3] / w
    cand[:, [1, 3]] /= small.shape[2] / h
    boxes, lm, inds = mtcnn.refine(full, cand, inds, rnet=rnet, onet=onet, thresholds=thresholds)
    boxes, lm, inds = boxes.numpy(), lm.numpy(), inds.numpy()
    return [(boxes[inds == i], lm[inds == i]) for i in range(n)]


def _same(a, b) -> bool:
    return all(np.array_equal(x.boxes, y.boxes) and np.array_equal(x.scores, y.scores)
               and np.array_equal(x.landmarks, y.landmarks) for x, y in zip(a, b, strict=True))


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--chunks", type=int, default=0, help="8-frame chunks per video (0: all)")
    a = ap.parse_args()
    videos = a.videos or sorted(str(p) for p in DEFAULT_DIR.glob("*") if p.suffix.lower() in (".mp4", ".mov"))
    torch.set_num_threads(1)
    det = FaceDetector(torch.device("cpu"), runtime="auto")
    shipped, total = mtcnn._detect, {"cl": 0.0, "planar": 0.0}
    for v in videos:
        chunks = [c.frames for c in iter_frames(v, 5.0, 8)]
        chunks = chunks[: a.chunks or len(chunks)]
        cpu, same = {"cl": 0.0, "planar": 0.0}, True
        for c in chunks:
            out, best = {}, {"cl": float("inf"), "planar": float("inf")}
            for k, fn in (("cl", _channels_last), ("planar", shipped)) * a.repeats:
                mtcnn._detect = fn
                t = time.process_time()
                out[k] = det.detect(c)
                best[k] = min(best[k], time.process_time() - t)
            mtcnn._detect = shipped
            same &= _same(out["cl"], out["planar"])
            for k in cpu:
                cpu[k] += best[k]
                total[k] += best[k]
        print(f"{Path(v).name:28} {sum(len(c) for c in chunks):4d} frames  channels-last {cpu['cl']:6.2f} s  "
              f"planar {cpu['planar']:6.2f} s  ({cpu['planar'] / cpu['cl'] - 1:+.1%})  outputs identical: {same}")
    print(f"{'total':28} channels-last {total['cl']:6.2f} s  planar {total['planar']:6.2f} s  "
          f"({total['planar'] / total['cl'] - 1:+.1%})")


if __name__ == "__main__":
    main()

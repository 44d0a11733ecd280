"""Detection time per analysed frame: stock facenet-pytorch MTCNN at full resolution vs the
product's driver (emotion_batch/vision/mtcnn.py), interleaved on the same frames so machine load
affects both alike. Prints ms/frame and detections for each.

    python benchmarks/detector_ab.py [VIDEOS...] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from facenet_pytorch import MTCNN
from facenet_pytorch.models.utils.detect_face import detect_face

from emotion_batch.vision.detect import FaceDetector
from emotion_batch.media import iter_frames

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT.parent / "shared" / "data" / "videos" / n for n in ("WolfgangLanger_Pexels.mp4", "multi_face_walk.mp4")]


@torch.inference_mode()
def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*", default=[str(p) for p in DEFAULT])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    det = FaceDetector(torch.device("cpu"))
    m = MTCNN(keep_all=True, device="cpu").eval()  # stock: facenet-pytorch's own cascade, torch nets
    for v in a.videos:
        chunks = [c.frames for c in iter_frames(str(v), 5.0, 8)]
        n = sum(len(c) for c in chunks)
        t_stock, t_ours, d_stock, d_ours = [], [], 0, 0
        for _ in range(a.repeats):
            for c in chunks:
                t = time.perf_counter()
                boxes, _ = detect_face(torch.as_tensor(c), m.min_face_size, m.pnet, m.rnet, m.onet,
                                       m.thresholds, m.factor, "cpu")
                t_stock.append(time.perf_counter() - t)
                d_stock += sum(int((np.asarray(b).reshape(-1, 5)[:, 4] >= 0.9).sum()) for b in boxes)
                t = time.perf_counter()
                d_ours += sum(len(f) for f in det.detect(c))
                t_ours.append(time.perf_counter() - t)
        ms = lambda ts: 1000 * sum(ts) / (n * a.repeats)  # noqa: E731
        print(f"{Path(v).name:28} stock {ms(t_stock):7.1f} ms/frame ({d_stock // a.repeats} faces)   "
              f"ours {ms(t_ours):7.1f} ms/frame ({d_ours // a.repeats} faces)   speed-up {sum(t_stock) / sum(t_ours):.2f}x")


if __name__ == "__main__":
    main()

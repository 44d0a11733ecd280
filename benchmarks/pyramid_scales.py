"""P-Net pyramid factor: detection CPU, boxes, face-seconds and visual top-1 against the shipped
factor (issue 27, point 2: "fewer, better chosen scales").

For each video (default: the six samples at 5 analysed fps) and each candidate factor:
- detection process CPU seconds (`time.process_time`, not wall: the machine is shared), the
  factors interleaved chunk by chunk so load affects them alike, min over --repeats per chunk;
- boxes: of the shipped factor's detections, how many a candidate reproduces within IoU 0.95
  (and 0.5), frame by frame;
- face-seconds and per-second visual top-1 from the whole analysis (VideoAnalyzer, runtime
  auto) with the factor swapped in, rows matched by (second, box IoU >= 0.5) to the shipped
  factor's rows; --reference adds stock facenet MTCNN's face-seconds (tests/reference_detect.py).

    python benchmarks/pyramid_scales.py [VIDEOS...] [--factors 0.709,0.65,0.6] [--repeats 3] [--reference]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
DEFAULT_DIR = ROOT.parent / "shared" / "data" / "videos"


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x2, y2 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[:, 2] - z[:, 0]) * (z[:, 3] - z[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def _best_iou(base: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Per box of `base`, the best IoU with any box of `other` (0 when `other` is empty)."""
    if len(base) == 0:
        return np.zeros(0)
    if len(other) == 0:
        return np.zeros(len(base))
    return _iou(base, other).max(1)


@torch.inference_mode()
def detection(video: str, factors: list[float], repeats: int) -> dict[float, tuple[float, list]]:
    from emotion_batch.media import iter_frames
    from emotion_batch.vision.detect import FaceDetector

    chunks = [c.frames for c in iter_frames(video, 5.0, 8)]
    dets = {}
    for f in factors:
        dets[f] = FaceDetector(torch.device("cpu"), runtime="auto")
        dets[f].factor = f
    cpu, found = {f: 0.0 for f in factors}, {f: [] for f in factors}
    for c in chunks:
        for f in factors:
            best = float("inf")
            for _ in range(repeats):
                t = time.process_time()
                faces = dets[f].detect(c)
                best = min(best, time.process_time() - t)
            cpu[f] += best
            found[f] += [x.boxes for x in faces]
    return {f: (cpu[f], found[f]) for f in factors}


def analysis(video: str, factor: float):
    """The timeline of a whole analysis with the pyramid factor `factor` swapped in."""
    import emotion_batch.vision.detect as detect
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    shipped = detect.FACTOR
    detect.FACTOR = factor
    try:
        r = VideoAnalyzer(RunConfig.from_flat(device="cpu", explain="none"))(video)
    finally:
        detect.FACTOR = shipped
    if not r.ok:
        raise SystemExit(f"{video}: {r.error}")
    return [x for x in r.timeline.to_pylist() if x["face_id"] >= 0]


def top1_agreement(base: list[dict], other: list[dict]) -> tuple[int, int]:
    """Rows of `base` whose (second, box IoU >= 0.5) match in `other` has the same v_emotion."""
    box = lambda r: np.array([[r["box_x1"], r["box_y1"], r["box_x2"], r["box_y2"]]], np.float64)  # noqa: E731
    same = 0
    for r in base:
        cands = [o for o in other if o["second"] == r["second"]]
        ious = [float(_iou(box(r), box(o))[0, 0]) for o in cands]
        if ious and max(ious) >= 0.5 and cands[int(np.argmax(ious))]["v_emotion"] == r["v_emotion"]:
            same += 1
    return same, len(base)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--factors", default="0.709,0.65,0.6", help="the first is the base compared against")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference", action="store_true", help="also stock MTCNN's face-seconds (slow)")
    a = ap.parse_args()
    videos = a.videos or sorted(str(p) for p in DEFAULT_DIR.glob("*") if p.suffix.lower() in (".mp4", ".mov"))
    factors = [float(x) for x in a.factors.split(",")]
    torch.set_num_threads(1)
    tot = {f: np.zeros(6) for f in factors}  # cpu, boxes, within .95, within .5, face-seconds, top-1 same
    for v in videos:
        det = detection(v, factors, a.repeats)
        rows = {f: analysis(v, f) for f in factors}
        ref = ""
        if a.reference:
            from reference_detect import reference_face_seconds

            ref = f"  stock MTCNN face-seconds {reference_face_seconds(v)}"
        print(f"{Path(v).name}{ref}")
        base = det[factors[0]][1]
        for f in factors:
            cpu, found = det[f]
            best = np.concatenate([_best_iou(b, o) for b, o in zip(base, found)] or [np.zeros(0)])
            same, n = top1_agreement(rows[factors[0]], rows[f])
            fs = len({(r["face_id"], r["second"]) for r in rows[f]})
            t = np.array([cpu, len(best), (best >= 0.95).sum(), (best >= 0.5).sum(), fs, same])
            tot[f] += t
            print(f"  factor {f:<6} detection CPU {cpu:6.2f} s  boxes within IoU .95 {t[2]:4.0f}/{t[1]:.0f}"
                  f"  .5 {t[3]:4.0f}/{t[1]:.0f}  face-seconds {fs:3d}  visual top-1 same {same}/{n}")
    print("total")
    for f in factors:
        t = tot[f]
        print(f"  factor {f:<6} detection CPU {t[0]:6.2f} s ({t[0] / tot[factors[0]][0] - 1:+.1%})"
              f"  boxes within IoU .95 {t[2]:.0f}/{t[1]:.0f}  .5 {t[3]:.0f}/{t[1]:.0f}"
              f"  face-seconds {t[4]:.0f}  visual top-1 same {t[5]:.0f}/{tot[factors[0]][4]:.0f}")


if __name__ == "__main__":
    main()

"""Face-seconds found by the product's detection settings vs full-resolution, every-frame
detection.

A face-second is a timeline row with a face. The reference is stock facenet-pytorch MTCNN
on every analysed frame at full resolution (tests/reference_detect.py). Prints, for each
setting (detect_max_side:detect_interval_s; 0 = the default lossless pre-scale), the
face-seconds per video, the ratio to the reference and the whole analysis seconds.

    python benchmarks/face_recall.py [VIDEOS...] [--settings 640:0,640:1,320:1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
DEFAULT_DIR = ROOT.parent / "shared" / "data" / "videos"


def face_seconds(path: str, max_side: int, interval: float) -> tuple[int, float]:
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    a = VideoAnalyzer(RunConfig(device="cpu", detect_max_side=max_side, detect_interval_s=interval))
    t = time.perf_counter()
    r = a(path)
    wall = time.perf_counter() - t
    if not r.ok:
        raise SystemExit(f"{path}: {r.error}")
    return r.face_seconds, wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--settings", default="0:0,640:0,0:0.4,0:1", help="max_side:interval_s, comma separated")
    a = ap.parse_args()
    videos = a.videos or sorted(str(p) for p in DEFAULT_DIR.glob("*") if p.suffix.lower() in (".mp4", ".mov"))
    settings = [(int(s.split(":")[0]), float(s.split(":")[1])) for s in a.settings.split(",")]
    print(f"{'video':28} {'reference':>10} " + " ".join(f"{f'{m}px/{i:g}s':>18}" for m, i in settings))
    totals = [0] * (len(settings) + 1)
    for v in videos:
        from reference_detect import reference_face_seconds

        t0 = time.perf_counter()
        ref = reference_face_seconds(v)
        ref_t = time.perf_counter() - t0
        cells, totals[0] = [], totals[0] + ref
        for k, (m, i) in enumerate(settings):
            n, t = face_seconds(v, m, i)
            totals[k + 1] += n
            cells.append(f"{n:4d} ({n / max(ref, 1):5.1%}) {t:5.1f}s")
        print(f"{Path(v).name:28} {ref:4d} {ref_t:5.1f}s " + " ".join(f"{c:>18}" for c in cells))
    print(f"{'total':28} {totals[0]:10d} " + " ".join(f"{n:4d} ({n / max(totals[0], 1):5.1%})".rjust(18) for n in totals[1:]))


if __name__ == "__main__":
    main()

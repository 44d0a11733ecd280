#!/usr/bin/env python
"""Pairwise precision and recall of person grouping on labelled faces from package images.

    python benchmarks/person_grouping.py [--images DIR] [--videos DIR] [--step 2]

Labelled faces (every one a stand-in for a track):
- face_recognition 1.3.0's test photos (--images: its sdist's tests/test_images, e.g.
  `pip download --no-deps --no-binary :all: face_recognition==1.3.0` and untar): obama x5
  (two of them partial faces), biden;
- scikit-image's astronaut (Eileen Collins);
- the sample videos (--videos, ../shared/data/videos): one face every --step seconds, each its
  own item: WolfgangLanger (one woman), single_face, face_noface, noface_face (one man, three
  recordings: cross-video matches). multi_face_walk is left out (its people have no labels).
Each item goes through the pipeline's own path (MTCNN box -> dlib chip -> sharpness and size
gates -> embedding). Grouping = complete linkage without time constraints (identity/group.py),
swept over thresholds; a pair is positive when both items carry the same label.
Prints the embedding's ms per face, counts, the positive/negative similarity ranges, then
precision/recall per threshold.
"""

from __future__ import annotations

import argparse
import sys
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotion_batch.identity.collect import MIN_FACE_PX, MIN_SHARPNESS  # noqa: E402
from emotion_batch.identity.embed import FaceEmbedder, sharpness  # noqa: E402
from emotion_batch.identity.group import SAME_PERSON_SIM, group_video  # noqa: E402

PHOTOS = {"obama": ["obama.jpg", "obama2.jpg", "obama3.jpg", "obama_partial_face.jpg", "obama_partial_face2.jpg"],
          "biden": ["biden.jpg"]}
VIDEOS = {"WolfgangLanger_Pexels.mp4": "woman", "single_face.mp4": "man", "face_noface.mov": "man",
          "noface_face.mov": "man"}


def _largest(detector, img: np.ndarray):
    f = detector.detect(img[None])[0]
    if not len(f):
        return None
    k = int(np.argmax((f.boxes[:, 2] - f.boxes[:, 0]) * (f.boxes[:, 3] - f.boxes[:, 1])))
    return f.boxes[k : k + 1]


def _chip(emb, detector, img):
    box = _largest(detector, img)
    if box is None or min(box[0, 2] - box[0, 0], box[0, 3] - box[0, 1]) < MIN_FACE_PX:
        return None
    chip = emb.chips(img, box)[0]
    return chip if sharpness(chip) >= MIN_SHARPNESS else None


def labelled_chips(emb, detector, images: Path | None, videos: Path, step: float) -> tuple[list, list]:
    from PIL import Image
    import skimage.data

    from emotion_batch.media import iter_frames

    chips, labels = [], []

    def take(img, label):
        c = _chip(emb, detector, img)
        if c is not None:
            chips.append(c)
            labels.append(label)

    if images is not None:
        for label, names in PHOTOS.items():
            for n in names:
                take(np.asarray(Image.open(images / n).convert("RGB")), label)
    take(skimage.data.astronaut(), "collins")
    for name, label in VIDEOS.items():
        for chunk in iter_frames(str(videos / name), 1.0 / step, 8):
            for img in chunk.frames:
                take(img, label)
    return chips, labels


def pairwise(pred: np.ndarray, labels: list[str]) -> tuple[float, float, int, int]:
    tp = fp = fn = 0
    for i, j in combinations(range(len(labels)), 2):
        same, joined = labels[i] == labels[j], pred[i] == pred[j]
        tp += same and joined
        fp += joined and not same
        fn += same and not joined
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), fp, fn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=Path, default=None, help="face_recognition's tests/test_images")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "data" / "videos")
    ap.add_argument("--step", type=float, default=2.0, help="seconds between video faces")
    a = ap.parse_args()
    import torch

    from emotion_batch.vision.detect import FaceDetector

    emb, det = FaceEmbedder(), FaceDetector(torch.device("cpu"))
    chips, labels = labelled_chips(emb, det, a.images, a.videos, a.step)
    import time

    t = time.perf_counter()
    vecs = emb.embed(chips)
    ms = (time.perf_counter() - t) / max(len(chips), 1) * 1e3
    print(f"embedding: {ms:.0f} ms per face (one batch of {len(chips)}, CPU, {torch.get_num_threads()} torch threads "
          "on this machine; dlib runs its own)")
    print(f"{len(chips)} labelled faces: " + ", ".join(f"{k} {labels.count(k)}" for k in sorted(set(labels))))
    sim = vecs @ vecs.T
    iu = np.triu_indices(len(labels), 1)
    same = np.array([labels[i] == labels[j] for i, j in zip(*iu)])
    s = sim[iu]
    print(f"same person: {same.sum()} pairs, similarity min {s[same].min():.3f} median {np.median(s[same]):.3f}")
    print(f"different:   {(~same).sum()} pairs, similarity max {s[~same].max():.3f} median {np.median(s[~same]):.3f}")
    spans = np.stack([np.arange(len(labels)), np.arange(len(labels))], 1).astype(float)  # never overlapping
    print("threshold  precision  recall  false-joins  missed-pairs")
    for th in (0.80, 0.85, 0.88, 0.90, 0.91, 0.92, 0.93, 0.94, 0.95):
        p, r, fp, fn = pairwise(group_video(vecs, spans, threshold=th), labels)
        mark = "  <- shipped (SAME_PERSON_SIM)" if abs(th - SAME_PERSON_SIM) < 1e-9 else ""
        print(f"  {th:.2f}     {p:.4f}    {r:.4f}  {fp:11d}  {fn:12d}{mark}")


if __name__ == "__main__":
    main()

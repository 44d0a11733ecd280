"""Face-recognition embeddings: dlib's 128-d ResNet (face-recognition-models 0.3.0, run by dlib-bin).

The weights ship in the `face_recognition_models` package; they are read from its folder
(found without importing the package, whose __init__ needs pkg_resources). Each face is aligned
the way the model was trained: dlib's 5-point shape predictor inside the tracker's box, then
`get_face_chip` (150x150 RGB, padding 0.25). Descriptors are L2-normalised, so a dot product is
a cosine similarity. Model card: emotion_batch/models/MODEL_CARD.md ("Identity").
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

import numpy as np

CHIP = 150  # the model's input side
DIM = 128
MODEL_FILES = {"shape": "shape_predictor_5_face_landmarks.dat", "resnet": "dlib_face_recognition_resnet_model_v1.dat"}


class IdentityModelMissing(RuntimeError):
    """dlib-bin or face-recognition-models is not installed."""


def model_dir() -> str:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise IdentityModelMissing("face-recognition-models is not installed (pip install face-recognition-models)")
    return os.path.join(list(spec.submodule_search_locations)[0], "models")


class FaceEmbedder:
    """Aligns faces to the model's chips and turns chips into unit 128-d descriptors."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as e:
            raise IdentityModelMissing("dlib-bin is not installed (pip install dlib-bin)") from e
        d = model_dir()
        self._dlib = dlib
        self.shape = dlib.shape_predictor(os.path.join(d, MODEL_FILES["shape"]))
        self.resnet = dlib.face_recognition_model_v1(os.path.join(d, MODEL_FILES["resnet"]))

    def chips(self, frame: np.ndarray, boxes: np.ndarray) -> list[np.ndarray]:
        """Aligned 150x150 RGB chips of the faces in `boxes` (float (K, 4) x1, y1, x2, y2) of one
        RGB uint8 frame (H, W, 3)."""
        if len(boxes) == 0:
            return []
        dlib = self._dlib
        frame = np.ascontiguousarray(frame)
        shapes = dlib.full_object_detections()
        for x1, y1, x2, y2 in np.asarray(boxes, np.float64):
            shapes.append(self.shape(frame, dlib.rectangle(int(x1), int(y1), int(round(x2)), int(round(y2)))))
        return list(dlib.get_face_chips(frame, shapes, size=CHIP, padding=0.25))

    def embed(self, chips: list[np.ndarray]) -> np.ndarray:
        """Unit descriptors float32 (N, 128) of aligned chips, in one batched call."""
        if not chips:
            return np.zeros((0, DIM), np.float32)
        out = np.asarray(self.resnet.compute_face_descriptor([np.ascontiguousarray(c) for c in chips]), np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


@lru_cache(maxsize=1)
def shared_embedder() -> FaceEmbedder:
    """One embedder per process (the models load in ~0.2 s and hold ~30 MB)."""
    return FaceEmbedder()


def sharpness(chip: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the chip's grey image: low = blurred."""
    g = chip.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = g[1:-1, :-2] + g[1:-1, 2:] + g[:-2, 1:-1] + g[2:, 1:-1] - 4 * g[1:-1, 1:-1]
    return float(lap.var())


def frontality(landmarks: np.ndarray) -> np.ndarray:
    """1 for a frontal face, towards 0 for a profile, from MTCNN's 5 points (K, 5, 2): how far
    the nose sits from the eyes' midpoint, in eye distances."""
    lm = np.asarray(landmarks, np.float32).reshape(-1, 5, 2)
    eyes = lm[:, 1] - lm[:, 0]
    dist = np.maximum(np.linalg.norm(eyes, axis=1), 1e-6)
    off = np.abs(lm[:, 2, 0] - (lm[:, 0, 0] + lm[:, 1, 0]) / 2) / dist
    return np.clip(1.0 - 2.0 * off, 0.0, 1.0)

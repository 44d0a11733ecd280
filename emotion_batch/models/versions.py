"""The experts' weights versions (first 12 hex digits of each weights file's sha256), read
without importing torch: the Ray driver and planning tasks stamp results with them."""

from __future__ import annotations

import hashlib
from pathlib import Path

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
VISUAL_WEIGHTS_PATH = WEIGHTS_DIR / "visual_mini_xception.safetensors"
AUDIO_WEIGHTS_PATH = WEIGHTS_DIR / "audio_expert.safetensors"


def weights_sha(path: Path) -> str:
    if not path.exists():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


VISUAL_WEIGHTS_SHA: str = weights_sha(VISUAL_WEIGHTS_PATH)
AUDIO_WEIGHTS_SHA: str = weights_sha(AUDIO_WEIGHTS_PATH)

"""Which torch device a run uses."""

from __future__ import annotations

import torch

from emotion_batch.config import ConfigError


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when a GPU is visible, else cpu; an unavailable cuda is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name} was asked for but no CUDA GPU is visible; use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible")
        return dev
    return torch.device("cpu")

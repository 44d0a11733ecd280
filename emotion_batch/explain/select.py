"""The one rule for which seconds get feature-group attributions under `--explain`.

all: every second; sample: every `ExplainConfig.every`-th second (second % every == 0); none: no second.
The pipeline uses it twice: to keep the inputs those seconds need (best face crop, log-mel
window) while it analyses, and to pick the rows the explainer attributes.
"""

from __future__ import annotations

import numpy as np

from emotion_batch.config import ExplainConfig


def explain_mask(seconds, mode: str, every: int = 1) -> np.ndarray:
    """Which rows get group attributions for ``--explain all|sample|none`` (sample: second % every == 0)."""
    s = np.asarray(seconds, np.int64)
    if mode == "all":
        return np.ones(len(s), bool)
    if mode == "none":
        return np.zeros(len(s), bool)
    if mode == "sample":
        return (s % max(int(every), 1)) == 0
    raise ValueError(f"explain mode must be all, sample or none, got {mode!r}")


def wants_groups(settings: ExplainConfig, second: int) -> bool:
    """Does `second` get feature-group attributions under the run's explain settings?"""
    return bool(explain_mask([second], settings.mode, settings.every)[0])

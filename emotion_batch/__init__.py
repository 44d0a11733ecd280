"""emotion-batch: per-second, per-face audio-visual emotion timelines for video collections."""

import os

from emotion_batch.labels import LABELS

# Bound oneDNN's per-shape kernel cache (its default keeps 1,024; see batching.py). oneDNN
# reads this when it builds its first kernel, so it must be set before any convolution runs;
# every entry point imports this package first. A value the user set wins.
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "256")

__version__ = "0.1.0"

__all__ = ["LABELS", "Results", "__version__", "analyze", "open_results"]

# lazy: `import emotion_batch` stays light; pyarrow, pandas and the models load when used
_LAZY = {"open_results": "emotion_batch.query", "analyze": "emotion_batch.api", "Results": "emotion_batch.results"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'emotion_batch' has no attribute {name!r}")

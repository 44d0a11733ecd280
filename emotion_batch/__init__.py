"""emotion-batch: per-second, per-face audio-visual emotion timelines for video collections."""

from emotion_batch.labels import LABELS

__version__ = "0.1.0"

__all__ = ["LABELS", "__version__"]


def __getattr__(name: str):
    # lazy: `import emotion_batch` stays light; open_results pulls in pyarrow only when used
    if name == "open_results":
        from emotion_batch.query import open_results

        return open_results
    raise AttributeError(f"module 'emotion_batch' has no attribute {name!r}")

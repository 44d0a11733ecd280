"""The fixed emotion label order shared by every model, table and report."""

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
N_LABELS = len(LABELS)

# One colour per label for every chart (the report's strips, the swim lanes of `lanes.py`).
EMOTION_COLORS: dict[str, str] = {
    "angry": "#d62728",
    "disgust": "#8c564b",
    "fear": "#9467bd",
    "happy": "#f2b701",
    "sad": "#1f77b4",
    "surprise": "#17becf",
    "neutral": "#9e9e9e",
}

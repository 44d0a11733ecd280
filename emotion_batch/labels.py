"""The fixed emotion label order shared by every model, table and report."""

LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
N_LABELS = len(LABELS)

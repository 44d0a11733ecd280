"""Analyse one video, with no Ray: `VideoAnalyzer` runs the stages in order and reports each
step's typed artifact to an optional hook (see analyzer.py and docs/architecture.md)."""

from emotion_batch.pipeline.analyzer import AlignedFaces, ChunkFaces, Hook, VideoAnalyzer
from emotion_batch.pipeline.device import resolve_device
from emotion_batch.pipeline.result import VideoResult
from emotion_batch.pipeline.version import ALGORITHM_VERSION, model_version

__all__ = [
    "ALGORITHM_VERSION", "AlignedFaces", "ChunkFaces", "Hook", "VideoAnalyzer", "VideoResult", "model_version",
    "resolve_device",
]

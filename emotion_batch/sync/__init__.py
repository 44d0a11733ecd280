"""A/V sync: the video's audio offset (and drift) by DTW of mouth motion against the audio,
and per-second speaking scores of each face track.

    signals   the 100 Hz mouth-motion and audio-activity signals
    offset    SyncResult; the offset (+ drift) of one video's signals by DTW
    speakers  per-second speaking scores of each face
    analyse   the stage: windows to decode, their signals, offset and scores (analyze_sync)
"""

from emotion_batch.sync.analyse import SyncAnalysis, WindowSignals, analyze_sync, choose_windows
from emotion_batch.sync.offset import SegmentLag, SignalPiece, SyncResult, estimate_offset, estimate_offset_pieces
from emotion_batch.sync.signals import (
    RATE_HZ,
    AudioEnvelope,
    MotionAccumulator,
    audio_signal,
    interpolate_boxes,
    mouth_signal,
    resample_samples,
    speech_band,
    uniform_grid,
)
from emotion_batch.sync.speakers import speaker_scores

__all__ = [
    "RATE_HZ", "AudioEnvelope", "MotionAccumulator", "SegmentLag", "SignalPiece", "SyncAnalysis", "SyncResult",
    "WindowSignals", "analyze_sync", "audio_signal", "choose_windows", "estimate_offset", "estimate_offset_pieces",
    "interpolate_boxes", "mouth_signal", "resample_samples", "speaker_scores", "speech_band", "uniform_grid",
]

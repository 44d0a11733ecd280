"""A/V sync: the video's audio offset (and drift) by DTW of mouth motion against the audio,
and per-second speaking scores of each face track.

    signals   the 100 Hz mouth-motion and audio-activity signals
    offset    SyncResult; the offset (+ drift) of one video's signals by DTW
    speakers  per-second speaking scores of each face (and the rule for unmeasurable seconds)
    analyse   the stage: pass 1 (windows, signals, offset), pass 2 (scores for every face-second)
    stream    mouth motion measured from the analysis' own decode (no second decode)
"""

from emotion_batch.sync.analyse import (
    SPEAKING_AT_OFFSET,
    SPEAKING_AT_ZERO,
    SyncAnalysis,
    WindowSignals,
    analyze_sync,
    choose_windows,
    face_seconds,
    speaking_windows,
)
from emotion_batch.sync.offset import SegmentLag, SignalPiece, SyncResult, estimate_offset, estimate_offset_pieces
from emotion_batch.sync.signals import (
    RATE_HZ,
    AudioEnvelope,
    MotionAccumulator,
    MotionSamples,
    audio_signal,
    interpolate_boxes,
    mouth_signal,
    resample_samples,
    speech_band,
    uniform_grid,
)
from emotion_batch.sync.speakers import SPEAKING_WINDOW_S, fill_scores, speaker_scores
from emotion_batch.sync.stream import MotionStream

__all__ = [
    "RATE_HZ", "SPEAKING_AT_OFFSET", "SPEAKING_AT_ZERO", "SPEAKING_WINDOW_S", "face_seconds", "fill_scores",
    "speaking_windows", "AudioEnvelope", "MotionAccumulator", "MotionSamples", "MotionStream", "SegmentLag", "SignalPiece", "SyncAnalysis", "SyncResult",
    "WindowSignals", "analyze_sync", "audio_signal", "choose_windows", "estimate_offset", "estimate_offset_pieces",
    "interpolate_boxes", "mouth_signal", "resample_samples", "speaker_scores", "speech_band", "uniform_grid",
]

"""The sync stage in the pipeline's one shape (pipeline/stage.py): once per video, after the
last chunk, MediaInfo -> SyncAnalysis (A/V offset and speaking scores, see analyse.py).

The mouth motion it needs was measured during the decode (`MotionStream`, fed per chunk), so
no frame is decoded again; `motion` is None when the file has no video or no audio stream.
"""

from __future__ import annotations

from emotion_batch.config import RunConfig
from emotion_batch.media import MediaInfo
from emotion_batch.models.experts import Experts
from emotion_batch.sync.analyse import SyncAnalysis, analyze_sync
from emotion_batch.sync.offset import SyncResult
from emotion_batch.sync.stream import MotionStream
from emotion_batch.vision.mouths import TrackLog


class SyncStage:
    """A/V offset by DTW of mouth motion against the audio, and a speaking score for every
    (face, second), tracks seen once included."""

    name = "sync"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        self.settings = config.sync  # window, window count, segment, confidence, DTW band (all in the hash)

    def process(self, info: MediaInfo, /, *, mouths: TrackLog, motion: MotionStream | None, start_s: float,
                end_s: float) -> SyncAnalysis:
        if not info.has_video:
            return SyncAnalysis(SyncResult.container("no video stream"), {}, [])
        if not info.has_audio or motion is None:
            return SyncAnalysis(SyncResult.container("no audio stream"), {}, [])
        return analyze_sync(info, mouths.tracks(min_obs=1), settings=self.settings,
                            duration_s=end_s, start_s=start_s, motion=motion.finish(mouths))

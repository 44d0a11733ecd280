"""The timeline stage in the pipeline's one shape (pipeline/stage.py): once per video, after
audio, SecondAudio -> Timeline: the per-(face, second) rows the builder summed chunk by
chunk, joined with the audio expert's seconds and fused under the speaker gate."""

from __future__ import annotations

from emotion_batch.audio.analyse import SecondAudio
from emotion_batch.config import RunConfig
from emotion_batch.fusion.fuse import make_fusion
from emotion_batch.fusion.speaker import load_speaker_gate
from emotion_batch.fusion.timeline import Timeline, TimelineBuilder
from emotion_batch.media import MediaInfo
from emotion_batch.models.experts import Experts
from emotion_batch.sync.analyse import SyncAnalysis


class TimelineStage:
    """Rows fused under the speaker gate: each face's audio weight scaled by its speaker_p."""

    name = "timeline"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        self.fuse = make_fusion(experts.fusion_params)
        self.min_speech = experts.fusion_params.min_speech

    def process(self, audio: SecondAudio, /, *, builder: TimelineBuilder, seconds: range, info: MediaInfo,
                sync: SyncAnalysis) -> Timeline:
        speaking = {(fid, s): v for fid, per in sync.speaking.items() for s, v in per.items()}
        return builder.build(seconds, info.duration_s, audio=audio, fuse=self.fuse, speaking=speaking,
                             gate=load_speaker_gate(), min_speech=self.min_speech)

"""The audio stage in the pipeline's one shape (pipeline/stage.py): once per video, after
sync, the A/V alignment (`SyncResult.audio_time`: video time -> audio time) -> SecondAudio,
the speech fraction and audio-expert reading of every second at its aligned audio time."""

from __future__ import annotations

from collections.abc import Callable

from emotion_batch.audio.analyse import SecondAudio, analyse_audio
from emotion_batch.config import RunConfig
from emotion_batch.media import MediaInfo
from emotion_batch.models.experts import Experts


class AudioStage:
    name = "audio"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        self.net, self.device, self.window_s = experts.audio_net, experts.device, config.audio_window_s

    def process(self, audio_time: Callable[[float], float], /, *, info: MediaInfo, seconds: range,
                keep_mel: Callable[[int], bool]) -> SecondAudio:
        """`keep_mel(second)`: keep that second's log-mel window (the explain stage wants it)."""
        return analyse_audio(info.path, seconds, model=self.net, device=self.device, audio_time=audio_time,
                             window_s=self.window_s, keep_mel=keep_mel, track_span=info.audio_span)

"""The audio stage: voice activity and the audio expert, per timeline second.

Audio is read in blocks (`block_s` seconds plus the context each window needs), so memory
is bounded by the block, not by the length of the recording. For every second s the audio
expert sees the `window_s` seconds centred on the aligned audio time of the second's middle,
`sync.audio_time(s + 0.5)` (the A/V offset found by DTW; identity when sync fell back).
Voice activity is measured over the aligned second itself. Where the audio track covers only
part of the second (the video's last, partial second; a track that starts late or ends early),
both are taken over that part: its middle is the window's centre.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from emotion_batch.audio import features as feats
from emotion_batch.models.batching import run_batched
from emotion_batch.media import read_audio

BATCH = 64
MIN_COVER_S = 0.1  # a second with less audio than this under it gets no audio reading


@dataclass(frozen=True)
class SecondAudio:
    """Audio results per timeline second (index = second - first_second)."""

    first_second: int
    speech: np.ndarray  # float32 (S,) voice-activity fraction
    probs: np.ndarray  # float32 (S, 7); NaN rows where no audio covers the second
    mels: dict[int, np.ndarray] = field(default_factory=dict)  # second -> log-mel window kept for explanations

    def at(self, second: int) -> tuple[float, np.ndarray | None]:
        i = second - self.first_second
        if not 0 <= i < len(self.speech):
            return 0.0, None
        p = self.probs[i]
        return float(self.speech[i]), (None if np.isnan(p).any() else p)


def analyse_audio(
    path: str,
    seconds: range,
    model: torch.nn.Module,
    device: torch.device,
    *,
    audio_time: Callable[[float], float] = lambda t: t,
    window_s: float = 2.0,
    block_s: float = 60.0,
    keep_mel: Callable[[int], bool] = lambda s: False,
    track_span: tuple[float, float] | None = None,
) -> SecondAudio:
    """Speech fraction and audio-expert probabilities for each second in `seconds`.
    Returns zeros / NaN rows for a file without audio, and for seconds that the audio track's
    `track_span` (start, end) covers by less than MIN_COVER_S - a track may start late or end
    early. The log-mel windows of the seconds for which `keep_mel(second)` is true are kept in
    `SecondAudio.mels` (for explanations)."""
    n = len(seconds)
    mels: dict[int, np.ndarray] = {}
    speech = np.zeros(n, np.float32)
    probs = np.full((n, 7), np.nan, np.float32)
    if n == 0:
        return SecondAudio(seconds.start, speech, probs)
    per_block = max(1, int(block_s))
    for b0 in range(0, n, per_block):
        idx = np.arange(b0, min(n, b0 + per_block))
        # each second's aligned span, cut to the audio track: a second the track covers only in
        # part (the video's last, partial second; a track that starts late or ends early) is
        # read around the middle of the part that has audio, if that part is >= MIN_COVER_S
        lo_t = np.array([audio_time(seconds.start + i) for i in idx])
        hi_t = np.array([audio_time(seconds.start + i + 1) for i in idx])
        if track_span is not None:
            lo_t, hi_t = np.maximum(lo_t, track_span[0]), np.minimum(hi_t, track_span[1])
            inside = hi_t - lo_t >= MIN_COVER_S
            idx, lo_t, hi_t = idx[inside], lo_t[inside], hi_t[inside]
            if len(idx) == 0:
                continue
        centers = (lo_t + hi_t) / 2
        if track_span is not None and track_span[1] - track_span[0] >= window_s:
            # the window stays on the track: a second at the track's edge hears window_s of audio, not padding
            centers = np.clip(centers, track_span[0] + window_s / 2, track_span[1] - window_s / 2)
        lo = float(centers.min()) - max(window_s / 2, 0.5) - 0.05
        hi = float(centers.max()) + max(window_s / 2, 0.5) + 0.05
        clip = read_audio(path, max(0.0, lo), hi)
        if clip is None:
            return SecondAudio(seconds.start, speech, probs, mels)
        rel = centers - clip.start_s
        activity = feats.voice_activity(clip.samples)
        speech[idx] = [feats.speech_fraction(activity, a - clip.start_s, b - clip.start_s) for a, b in zip(lo_t, hi_t)]
        windows = np.stack([feats.audio_window(clip.samples, c, window_s) for c in rel])
        for k in range(0, len(windows), BATCH):
            mel = feats.log_mel(torch.from_numpy(windows[k : k + BATCH])).to(device)
            probs[idx[k : k + BATCH]] = run_batched(model, mel, BATCH).float().cpu().numpy()
            for j, i in enumerate(idx[k : k + BATCH]):
                if keep_mel(seconds.start + int(i)):
                    mels[seconds.start + int(i)] = mel[j].cpu().numpy()
    return SecondAudio(seconds.start, speech, probs, mels)

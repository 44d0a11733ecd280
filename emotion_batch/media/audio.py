"""Audio by time range: mono 16 kHz float32 placed on the container clock (PyAV)."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from emotion_batch.errors import first_line
from emotion_batch.media.probe import MediaError, open_container

AUDIO_RATE = 16000
_TRUNCATION_TOLERANCE_S = 0.5


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray  # float32 (T,) mono at `sample_rate`
    start_s: float  # timestamp of samples[0]
    sample_rate: int = AUDIO_RATE

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.sample_rate


def read_audio(
    path: str, start_s: float = 0.0, end_s: float | None = None, sample_rate: int = AUDIO_RATE
) -> AudioClip | None:
    """Mono float32 audio covering [start_s, end_s) on the container's clock, or None
    when the file has no audio stream. Samples before the track starts are zeros."""
    with open_container(path, "audio") as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        tb = float(stream.time_base)
        declared_end = None
        if stream.duration:
            declared_end = (stream.start_time or 0) * tb + stream.duration * tb
        elif container.duration:
            declared_end = container.duration / 1e6
        stop = end_s if end_s is not None else (declared_end or 0.0)
        n_out = max(0, int(round((stop - start_s) * sample_rate)))
        out = np.zeros(n_out, dtype=np.float32)
        if start_s > 0.5:
            container.seek(int((start_s - 0.5) / tb), stream=stream, backward=True, any_frame=False)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pos = None  # write position in `out` of the next resampled sample
        last_t = None
        try:
            for frame in container.decode(stream):
                if frame.time is not None and pos is None:
                    pos = int(round((frame.time - start_s) * sample_rate))
                if pos is None:
                    pos = 0
                for rf in resampler.resample(frame):
                    pos = _place(out, rf.to_ndarray().reshape(-1), pos)
                if frame.time is not None:
                    last_t = frame.time + frame.samples / frame.sample_rate
                if pos >= n_out and end_s is not None:
                    break
            else:
                for rf in resampler.resample(None):
                    pos = _place(out, rf.to_ndarray().reshape(-1), pos or 0)
        except av.error.FFmpegError as e:
            raise MediaError(f"audio decoding failed (truncated or corrupt?): {first_line(e, 200)}") from None
        reached_end = end_s is None or (declared_end is not None and end_s >= declared_end)
        if reached_end and declared_end is not None:
            got = last_t if last_t is not None else start_s
            if got < declared_end - _TRUNCATION_TOLERANCE_S:
                raise MediaError(
                    f"audio track is truncated: decoded to {got:.2f}s of {declared_end:.2f}s declared"
                )
        return AudioClip(samples=out, start_s=start_s, sample_rate=sample_rate)


def _place(out: np.ndarray, samples: np.ndarray, pos: int) -> int:
    """Copy `samples` into `out` starting at `pos` (clipped to its bounds); return new pos."""
    a, b = max(pos, 0), min(pos + len(samples), len(out))
    if b > a:
        out[a:b] = samples[a - pos : b - pos]
    return pos + len(samples)

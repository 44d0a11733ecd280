"""Audio by time range: mono 16 kHz float32 placed on the container clock (PyAV)."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

from emotion_batch.media.container import DecodeReport, decoded_frames, open_container, time_origin

AUDIO_RATE = 16000


@dataclass(frozen=True)
class AudioClip:
    samples: np.ndarray  # float32 (T,) mono at `sample_rate`
    start_s: float  # timestamp of samples[0]
    sample_rate: int = AUDIO_RATE

    @property
    def end_s(self) -> float:
        return self.start_s + len(self.samples) / self.sample_rate


def read_audio(
    path: str, start_s: float = 0.0, end_s: float | None = None, sample_rate: int = AUDIO_RATE,
    report: DecodeReport | None = None,
) -> AudioClip | None:
    """Mono float32 audio covering [start_s, end_s) on the media clock (`time_origin`: the
    video's first frame is at 0), or None when the file has no audio stream. Samples before the
    track starts or after its data ends are zeros: a cut track gives what it holds (`report`
    says how far it got; `probe` has already warned of a truncation), packets the decoder
    rejects are skipped."""
    report = report if report is not None else DecodeReport()
    with open_container(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        tb = float(stream.time_base)
        origin = time_origin(container)
        stop = end_s if end_s is not None else _declared_end(container, stream, origin)
        n_out = max(0, int(round((stop - start_s) * sample_rate)))
        out = np.zeros(n_out, dtype=np.float32)
        if start_s > 0.5:
            container.seek(int((origin + start_s - 0.5) / tb), stream=stream, backward=True, any_frame=False)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        pos = None  # write position in `out` of the next resampled sample
        for frame in decoded_frames(container, stream, report):
            if frame.time is not None and pos is None:
                pos = int(round((frame.time - origin - start_s) * sample_rate))
            if pos is None:
                pos = 0
            for rf in resampler.resample(frame):
                pos = _place(out, rf.to_ndarray().reshape(-1), pos)
            if frame.time is not None:
                report.reached_s = frame.time - origin + frame.samples / frame.sample_rate
            if pos >= n_out and end_s is not None:
                break
        else:
            for rf in resampler.resample(None):
                pos = _place(out, rf.to_ndarray().reshape(-1), pos or 0)
        return AudioClip(samples=out, start_s=start_s, sample_rate=sample_rate)


def _declared_end(container, stream, origin: float) -> float:
    """Where the container says the audio ends (0 when it does not say)."""
    tb = float(stream.time_base)
    if stream.duration:
        return (stream.start_time or 0) * tb + stream.duration * tb - origin
    if container.duration:
        return ((container.start_time or 0) + container.duration) / 1e6 - origin
    return 0.0


def _place(out: np.ndarray, samples: np.ndarray, pos: int) -> int:
    """Copy `samples` into `out` starting at `pos` (clipped to its bounds); return new pos."""
    a, b = max(pos, 0), min(pos + len(samples), len(out))
    if b > a:
        out[a:b] = samples[a - pos : b - pos]
    return pos + len(samples)

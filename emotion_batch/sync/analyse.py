"""The sync stage of one video: which stretches to decode at full rate, their signals, the A/V
offset of the best-matching face and every face's per-second speaking scores.

`analyze_sync` takes the probe's `MediaInfo` and the face tracks' mouth boxes
(`vision.mouths.TrackLog.tracks()`):

1. Windows (`choose_windows`): all of a video up to ``window_s * max_windows`` long, else
   ``max_windows`` windows spread over it, one per equal part, placed where faces and sound
   overlap most. A 20 s window holds ~50 syllables, plenty for a +-1 s DTW band; spreading 8 of
   them still measures drift over the whole file, while the extra decode is capped at 160 s of
   video whatever the length.
2. Signals (`sync.signals`): the windows' frames at full rate (<= 30 fps), downscaled in the
   decoder, in chunks of 32, through `media.windows.WindowReader`, which reuses the probe's frame
   index (the file is not indexed again); mouth motion per face and audio activity, as one
   `WindowSignals` per window. Audio comes from the whole decoded clip when given, else is read
   per window (+- max_shift_s), which keeps memory bounded for hour-long files.
3. Information checks in physical units, before z-normalisation hides them, then the offset
   (`sync.offset`) of each moving face; the most confident one is the speaker the result names.
4. Speaking scores (`sync.speakers`) of every face against the audio aligned by that offset.

Fallback: no audio stream, no face track, silent audio, a static mouth, or any of `sync.offset`'s
reasons -> offset 0, confidence 0, method ``container`` with the reason.
`SyncAnalysis.timings` splits the stage into decoding (frames and per-window audio) and the rest
(alignment: signals, DTW, refinement, drift fit, speaking scores), in wall and CPU seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from emotion_batch.media import AudioClip, MediaInfo, read_audio
from emotion_batch.media.windows import WindowReader
from emotion_batch.sync.offset import SignalPiece, SyncResult, estimate_offset_pieces
from emotion_batch.sync.signals import RATE_HZ, AudioEnvelope, MotionAccumulator, uniform_grid
from emotion_batch.sync.speakers import speaker_scores
from emotion_batch.timing import StageTimer

_SILENT_RMS = 10 ** (-55 / 20)  # speech-band RMS (full scale = 1) below which audio is silent
_STATIC_MOTION = 0.35  # gray levels of mouth motion (p95 - median) below which a mouth is static

Tracks = Mapping[int, tuple[np.ndarray, np.ndarray]]  # face_id -> (times, full-res mouth boxes)


@dataclass(frozen=True)
class SyncAnalysis:
    result: SyncResult
    speaking: dict[int, dict[int, float]]  # face_id -> {second: score in [0, 1]}, analysed seconds only
    windows: Sequence[tuple[float, float]]  # video stretches whose frames were decoded at full rate
    timings: dict[str, float] = field(default_factory=dict)  # decode_s / align_s: wall, *_cpu_s: CPU

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))

    def speaking_score(self, face_id: int, second: int) -> float | None:
        return self.speaking.get(face_id, {}).get(second)


@dataclass(frozen=True)
class WindowSignals:
    """Both signals of one decoded window on its 100 Hz grid (video clock)."""

    grid: np.ndarray
    audio: np.ndarray  # audio activity at the grid times (not yet aligned)
    frame_period: float  # median video frame period in the window, s
    envelope: AudioEnvelope  # the window's audio, to query again at aligned times
    mouths: Mapping[int, np.ndarray]  # face_id -> mouth motion on the grid

    def piece(self, face_id: int) -> SignalPiece:
        return SignalPiece(self.grid, self.mouths[face_id], self.audio)


def choose_windows(duration: float, coverage: np.ndarray, window_s: float, max_windows: int | None) -> list[tuple[float, float]]:
    """Stretches to decode at full rate. The whole video when it fits in max_windows windows;
    otherwise one window in each of max_windows equal parts of the file, placed where faces and
    sound overlap most (coverage: per-second score). Spread windows still see drift."""
    n_all = int(np.ceil(duration / window_s))
    if max_windows is None or n_all <= max_windows:
        return [(k * window_s, min(duration, (k + 1) * window_s)) for k in range(n_all)]
    out, part = [], duration / max_windows
    csum = np.concatenate([[0.0], np.cumsum(coverage)])
    for k in range(max_windows):
        lo, hi = k * part, (k + 1) * part - window_s
        starts = np.arange(int(np.ceil(lo)), int(np.floor(max(lo, hi))) + 1)
        ws = int(round(window_s))
        score = csum[np.clip(starts + ws, 0, len(coverage))] - csum[np.clip(starts, 0, len(coverage))]
        s = float(starts[int(np.argmax(score))]) if len(starts) else lo
        out.append((s, min(duration, s + window_s)))
    return out


def analyze_sync(info: MediaInfo, tracks: Tracks, audio: AudioClip | None = None, max_shift_s: float = 1.0,
                 window_s: float = 20.0, max_windows: int | None = 8, segment_s: float = 10.0,
                 min_confidence: float = 0.3, duration_s: float | None = None, start_s: float = 0.0) -> SyncAnalysis:
    """A/V offset of one video plus per-second speaking scores of its face tracks (module docstring).

    tracks: face_id -> (times, full-res mouth boxes) at the analysis rate (``TrackLog.tracks()``).
    audio: the file's audio if already decoded (``media.read_audio(info.path)``); None reads each
    window's audio from the file (no audio stream -> container fallback). The time segment
    [start_s, duration_s) is analysed (default: up to just after the last track observation).
    max_windows=None decodes every window, e.g. to get speaking scores everywhere. Memory: one
    chunk of small frames plus the 100 Hz signals of the windows.
    """
    if audio is not None and len(audio.samples) == 0:
        audio = None
    if audio is None and not info.has_audio:
        return SyncAnalysis(SyncResult.container("no audio stream"), {}, ())
    tracks = {k: v for k, v in tracks.items() if len(v[0]) >= 2}
    if not tracks:
        return SyncAnalysis(SyncResult.container("no face track"), {}, ())
    timer = StageTimer(("sync", "decode"))
    with timer("sync"):
        whole = AudioEnvelope(audio) if audio is not None else None
        windows = _place_windows(tracks, whole, start_s, duration_s, window_s, max_windows)
        signals = _window_signals(info, tracks, windows, whole, max_shift_s + 0.2, timer)
        analysis = _sync_from_signals(tracks, windows, signals, max_shift_s, segment_s, min_confidence)
    d, dc = timer.wall["decode"], timer.cpu["decode"]
    timings = {"decode_s": d, "align_s": timer.wall["sync"] - d, "decode_cpu_s": dc,
               "align_cpu_s": timer.cpu["sync"] - dc}
    return replace(analysis, timings=timings)


def _place_windows(tracks: Tracks, whole: AudioEnvelope | None, start_s: float, duration_s: float | None,
                   window_s: float, max_windows: int | None) -> list[tuple[float, float]]:
    """choose_windows on the segment [start_s, end), scoring seconds with a face (and, when the
    whole audio is at hand, sound) as the coverage."""
    end = duration_s if duration_s is not None else max(float(v[0][-1]) for v in tracks.values()) + 0.5
    span = max(0.0, end - start_s)
    sec = start_s + np.arange(int(np.ceil(span)))
    cover = np.zeros(len(sec))
    for t_obs, _ in tracks.values():
        cover[np.clip((t_obs - start_s).astype(int), 0, max(len(sec) - 1, 0))] = 1.0
    if whole is not None:  # prefer seconds with sound (mean of ten 20 ms RMS values per second)
        cover *= whole.rms(sec[:, None] + np.arange(0.05, 1.0, 0.1)).mean(1) > _SILENT_RMS
    return [(start_s + a, start_s + b) for a, b in choose_windows(span, cover, window_s, max_windows)]


def _window_signals(info: MediaInfo, tracks: Tracks, windows: Sequence[tuple[float, float]],
                    whole: AudioEnvelope | None, pad: float, timer: StageTimer) -> list[WindowSignals]:
    """Decode each window (frames downscaled; its audio +- pad unless `whole` is given) into its
    signals; windows shorter than two grid steps are skipped."""
    widths = [float(np.median(b[:, 2] - b[:, 0])) for _, b in tracks.values()]
    with timer("decode"):
        reader = WindowReader(info, min(widths))
    out = []
    try:
        for w0, w1 in windows:
            acc = _mouth_motion(reader, tracks, w0, w1, timer)
            grid = uniform_grid(w0, w1)
            if len(grid) < 2:
                continue
            if whole is None:
                with timer("decode"):
                    clip = read_audio(info.path, max(0.0, w0 - pad), w1 + pad)
                env = AudioEnvelope(clip)
            else:
                env = whole
            period = acc.frame_period()
            mouths = {fid: acc.signal(fid, grid) for fid in tracks}
            out.append(WindowSignals(grid, env.activity(grid, period), period, env, mouths))
    finally:
        reader.close()
    return out


def _mouth_motion(reader: WindowReader, tracks: Tracks, t0: float, t1: float, timer: StageTimer) -> MotionAccumulator:
    """Mouth motion of every track over the frames starting in [t0, t1), decoding timed apart."""
    acc = MotionAccumulator(tracks, reader.scale)
    chunks = reader.frames(t0, t1)
    while True:
        with timer("decode"):
            item = next(chunks, None)
        if item is None:
            return acc
        acc.add(*item)


def _moves(motion: np.ndarray) -> bool:
    """A mouth moves visibly: its motion's 95th percentile stands out from its median."""
    return bool(np.isfinite(motion).sum() > 10
                and np.nanpercentile(motion, 95) - np.nanmedian(motion) > _STATIC_MOTION)


def _sync_from_signals(tracks: Tracks, windows: Sequence[tuple[float, float]], signals: Sequence[WindowSignals],
                       max_shift_s: float, segment_s: float, min_confidence: float) -> SyncAnalysis:
    # Information checks in physical units, before z-normalisation hides them.
    if not any(np.nanmax(np.nan_to_num(s.envelope.rms(s.grid), nan=0.0)) > _SILENT_RMS for s in signals):
        return SyncAnalysis(SyncResult.container("silent audio"), {}, windows)
    moving = [fid for fid in tracks if any(_moves(s.mouths[fid]) for s in signals)]
    if not moving:
        return SyncAnalysis(SyncResult.container("static mouth (no visible speech motion)"), {}, windows)
    best: SyncResult | None = None
    for fid in moving:
        r = estimate_offset_pieces([s.piece(fid) for s in signals], RATE_HZ, max_shift_s, segment_s, min_confidence)
        if r.method != "container":
            r = replace(r, speaker=fid)
        if best is None or r.confidence > best.confidence:
            best = r
    return SyncAnalysis(best, _speaking(tracks, signals, best), windows)


def _speaking(tracks: Tracks, signals: Sequence[WindowSignals], best: SyncResult) -> dict[int, dict[int, float]]:
    """Speaking scores of every track in every window, against the audio aligned by `best`."""
    speaking: dict[int, dict[int, float]] = {k: {} for k in tracks}
    if best.method == "container":
        return speaking
    for s in signals:
        aligned = s.envelope.activity(best.audio_time(s.grid), s.frame_period)
        for fid, d in speaker_scores(s.mouths, aligned, RATE_HZ, float(s.grid[0])).items():
            speaking[fid].update(d)
    return speaking

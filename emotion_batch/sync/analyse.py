"""The sync stage of one video: which stretches to decode at full rate, their signals, the A/V
offset of the best-matching face and every face's per-second speaking scores.

`analyze_sync` takes the probe's `MediaInfo` and the face tracks' mouth boxes
(`vision.mouths.TrackLog.tracks()`), in two passes. The pipeline also hands it the mouth motion
it measured while decoding for detection (`motion`, from `sync.stream.MotionStream`): then the
windows below read their mouth signals from those samples and no frame is decoded again (one
decode per video); only the windows' audio is read. Without `motion` (sync on its own), the
windows' frames are decoded as described. The settings named below (``window_s``,
``max_windows``, ``segment_s``, ``min_confidence``, ``max_av_shift_s``) are the fields of
`config.SyncConfig` (`RunConfig.sync`; the run's --sync-* and --max-av-shift options), all in the
run's config hash:

Pass 1, the offset:

1. Windows (`choose_windows`): all of a video up to ``window_s * max_windows`` long, else
   ``max_windows`` windows spread over it, one per equal part, placed where faces and sound
   overlap most. A 20 s window holds ~50 syllables, plenty for a +-1 s DTW band; spreading 8 of
   them still measures drift over the whole file, while the decode for the offset is capped at
   160 s of video whatever the length.
2. Signals (`sync.signals`): the windows' frames at full rate (<= 30 fps), downscaled in the
   decoder, in chunks of 32, through `media.windows.WindowReader`, which reuses the probe's frame
   index (the file is not indexed again); mouth motion per face and audio activity, as one
   `WindowSignals` per window. Audio comes from the whole decoded clip when given, else is read
   per window (+- max_av_shift_s), which keeps memory bounded for hour-long files.
3. Information checks in physical units, before z-normalisation hides them, then the offset
   (`sync.offset`) of each moving face; the most confident one is the speaker the result names.

Pass 2, who speaks, everywhere (`speaking_windows`, `sync.speakers`): every second in which a
face is seen gets a speaking score, over the whole video or segment. The windows of pass 1 are
reused as they are; the seconds with a face that they do not cover are walked in order in
stretches of at most ``window_s`` (+1 s of context each side, the half-width of the speaking
window), each decoded, scored against the audio aligned by the offset found and dropped before
the next: memory is one window's signals whatever the length. When pass 1 fell back to the
container clock (no offset measured), the scores are measured at offset 0 and
`SyncAnalysis.speaking_at` says so. Seconds with no face need nothing, so stretches without faces
are not decoded. `sync.speakers.fill_scores` defines the score of a second whose window is too
short to measure (nearest measured second of the same face; 0 where nothing is measurable).

Fallback: no audio stream, no face track, silent audio, a static mouth, or any of `sync.offset`'s
reasons -> offset 0, confidence 0, method ``container`` with the reason (scores still measured,
at offset 0, except without an audio stream or a face track).
`SyncAnalysis.timings` splits the stage into decoding (frames and per-window audio) and the rest
(alignment: signals, DTW, refinement, drift fit) for pass 1 (``decode_s``, ``align_s``) and
pass 2 (``speaking_decode_s``, ``speaking_align_s``: the cost of scores everywhere), in wall
and CPU (``*_cpu_s``) seconds.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from emotion_batch.config import SyncConfig
from emotion_batch.media import AudioClip, MediaInfo, read_audio
from emotion_batch.media.windows import WindowReader
from emotion_batch.sync.offset import SignalPiece, SyncResult, estimate_offset_pieces
from emotion_batch.sync.signals import RATE_HZ, AudioEnvelope, MotionAccumulator, MotionSamples, uniform_grid
from emotion_batch.sync.speakers import SPEAKING_WINDOW_S, fill_scores, speaker_scores
from emotion_batch.timing import StageTimer

_SILENT_RMS = 10 ** (-55 / 20)  # speech-band RMS (full scale = 1) below which audio is silent
_STATIC_MOTION = 0.35  # gray levels of mouth motion (p95 - median) below which a mouth is static

Tracks = Mapping[int, tuple[np.ndarray, np.ndarray]]  # face_id -> (times, full-res mouth boxes)

SPEAKING_AT_OFFSET = "dtw offset"  # scores measured against the audio aligned by the offset found
SPEAKING_AT_ZERO = "offset 0"  # sync fell back to the container clock: scores at offset 0


@dataclass(frozen=True)
class SyncAnalysis:
    result: SyncResult
    speaking: dict[int, dict[int, float]]  # face_id -> {second: score in [0, 1]}, every second the face is seen
    windows: Sequence[tuple[float, float]]  # pass 1: video stretches decoded at full rate for the offset
    timings: dict[str, float] = field(default_factory=dict)  # *_s: wall, *_cpu_s: CPU (module docstring)
    speaking_at: str = ""  # SPEAKING_AT_OFFSET | SPEAKING_AT_ZERO; "" when no score was measured
    speaking_windows: Sequence[tuple[float, float]] = ()  # pass 2: stretches decoded for scores only

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))
        object.__setattr__(self, "speaking_windows", tuple(self.speaking_windows))

    def speaking_score(self, face_id: int, second: int) -> float | None:
        return self.speaking.get(face_id, {}).get(second)


@dataclass(frozen=True)
class WindowSignals:
    """Both signals of one decoded window on its 100 Hz grid (video clock)."""

    grid: np.ndarray
    audio: np.ndarray  # audio activity at the grid times (not yet aligned)
    frame_period: float  # median video frame period in the window, s
    envelope: AudioEnvelope  # the window's audio, to query again at aligned times
    mouths: Mapping[int, np.ndarray]  # face_id -> mouth motion on the grid, for the tracks seen near the window

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


def face_seconds(tracks: Tracks, start_s: float = 0.0, end_s: float = np.inf) -> dict[int, np.ndarray]:
    """face_id -> the sorted seconds (floor of the observation times) in which the face is seen,
    within [start_s, end_s): the seconds that need a speaking score."""
    out = {}
    for fid, (t_obs, _) in tracks.items():
        t = np.asarray(t_obs, np.float64)
        out[fid] = np.unique(np.floor(t[(t >= start_s) & (t < end_s)]).astype(np.int64))
    return out


def _holds(w0: float, w1: float, end: float, second: int) -> bool:
    """Whether window [w0, w1) scores `second`: it holds the second's middle, or the second is
    the last one of the stretch (its middle past `end`, the last window's end) and starts in it."""
    mid = second + 0.5
    return w0 <= mid < w1 or (w1 >= end and w0 <= second < w1 <= mid)


def speaking_windows(needed: Sequence[int] | np.ndarray, done: Sequence[tuple[float, float]],
                     window_s: float, join_s: int = 3) -> list[tuple[float, float]]:
    """Pass 2's stretches [a, b) (whole seconds) that cover the needed seconds not already in a
    `done` window (a second belongs to the window holding its middle, see `_holds`); needed
    seconds at most
    `join_s` apart are decoded together (their +-1 s of context would touch anyway), and a
    stretch is at most `window_s` long."""
    secs = np.asarray(sorted(set(int(s) for s in needed)), np.int64)
    end = max((b for _, b in done), default=-np.inf)
    inside = np.array([any(_holds(w0, w1, end, s) for w0, w1 in done) for s in secs.tolist()], bool)
    todo = secs[~inside] if len(secs) else secs
    out: list[tuple[float, float]] = []
    step = max(1, int(window_s))
    for s in todo.tolist():
        if out and s - (out[-1][1] - 1) <= join_s and s + 1 - out[-1][0] <= step:
            out[-1] = (out[-1][0], float(s + 1))
        else:
            out.append((float(s), float(s + 1)))
    return out


def analyze_sync(info: MediaInfo, tracks: Tracks, audio: AudioClip | None = None, *,
                 settings: SyncConfig = SyncConfig(), duration_s: float | None = None, start_s: float = 0.0,
                 speaking: bool = True, motion: MotionSamples | None = None) -> SyncAnalysis:
    """A/V offset of one video plus per-second speaking scores of its face tracks (module docstring).

    settings: the run's `SyncConfig` (DTW band, window length and count, segment length,
    minimum confidence; `RunConfig.sync`).
    tracks: face_id -> (times, full-res mouth boxes) at the analysis rate (``TrackLog.tracks()``);
    a track seen once still gets scores (its box is held +- 0.2 s). audio: the file's audio if
    already decoded (``media.read_audio(info.path)``); None reads each window's audio from the
    file (no audio stream -> container fallback). The time segment [start_s, duration_s) is
    analysed (default: up to just after the last track observation). speaking=False skips
    pass 2 (scores then only inside the pass-1 windows). Memory: one chunk of small frames plus
    the 100 Hz signals of the pass-1 windows and of one pass-2 window. motion: the tracks' mouth
    motion measured during the analysis' own decode (`sync.stream.MotionStream`); then no video
    is decoded here and the windows read their signals from it.
    """
    if audio is not None and len(audio.samples) == 0:
        audio = None
    if audio is None and not info.has_audio:
        return SyncAnalysis(SyncResult.container("no audio stream"), {}, ())
    tracks = {k: v for k, v in tracks.items() if len(v[0]) >= 1}
    if not tracks:
        return SyncAnalysis(SyncResult.container("no face track"), {}, ())
    end = duration_s if duration_s is not None else max(float(v[0][-1]) for v in tracks.values()) + 0.5
    timer = StageTimer(("sync", "decode", "speaking", "speaking_decode"))
    whole = AudioEnvelope(audio) if audio is not None else None
    reader = None
    try:
        with timer("sync"):
            if motion is None:
                with timer("decode"):
                    reader = WindowReader(info, min(float(np.median(b[:, 2] - b[:, 0])) for _, b in tracks.values()))
            source = motion if motion is not None else reader
            windows = _place_windows(tracks, whole, span=(start_s, end), settings=settings)
            pad = settings.max_av_shift_s + 0.2
            signals = list(_signals(info, source, tracks, windows, whole=whole, pad=pad, timer=timer, stage="decode"))
            best = _offset(tracks, signals, settings)
            analysis = SyncAnalysis(best, _scores(tracks, signals, best), windows, speaking_at=_speaking_at(best))
            del signals
        if speaking:
            with timer("speaking"):
                analysis = _speaking_everywhere(info, source, tracks, analysis, whole=whole, span=(start_s, end),
                                                window_s=settings.window_s, pad=pad, timer=timer)
    finally:
        if reader is not None:
            reader.close()
    return replace(analysis, timings=_timings(timer))


def _speaking_at(best: SyncResult) -> str:
    return SPEAKING_AT_ZERO if best.method == "container" else SPEAKING_AT_OFFSET


def _timings(timer: StageTimer) -> dict[str, float]:
    """decode / align seconds (wall and CPU) of pass 1 and of pass 2 (prefix ``speaking_``)."""
    out = {}
    for prefix, total, dec in (("", "sync", "decode"), ("speaking_", "speaking", "speaking_decode")):
        for unit, d in (("", timer.wall), ("_cpu", timer.cpu)):
            out[f"{prefix}decode{unit}_s"] = d[dec]
            out[f"{prefix}align{unit}_s"] = max(0.0, d[total] - d[dec])
    return out


def _place_windows(tracks: Tracks, whole: AudioEnvelope | None, *, span: tuple[float, float],
                   settings: SyncConfig) -> list[tuple[float, float]]:
    """choose_windows on the segment span = [start_s, end), scoring seconds with a face (and, when
    the whole audio is at hand, sound) as the coverage; settings.max_windows 0 = no cap."""
    start_s, end = span
    length = max(0.0, end - start_s)
    sec = start_s + np.arange(int(np.ceil(length)))
    cover = np.zeros(len(sec))
    for t_obs, _ in tracks.values():
        cover[np.clip((t_obs - start_s).astype(int), 0, max(len(sec) - 1, 0))] = 1.0
    if whole is not None:  # prefer seconds with sound (mean of ten 20 ms RMS values per second)
        cover *= whole.rms(sec[:, None] + np.arange(0.05, 1.0, 0.1)).mean(1) > _SILENT_RMS
    windows = choose_windows(length, cover, settings.window_s, settings.max_windows or None)
    return [(start_s + a, start_s + b) for a, b in windows]


def _signals(info: MediaInfo, source: WindowReader | MotionSamples, tracks: Tracks, windows: Sequence[tuple[float, float]],
             *, whole: AudioEnvelope | None, pad: float, timer: StageTimer, stage: str) -> Iterator[WindowSignals]:
    """Decode each window (frames downscaled; its audio +- pad unless `whole` is given) into its
    signals, one window at a time (a generator: the caller decides what it keeps); windows
    shorter than two grid steps are skipped. Decoding is timed under `stage`. With `source` the
    samples of the main decode, only the window's audio is read."""
    for w0, w1 in windows:
        # only the tracks seen near the window (boxes are interpolated over gaps <= 1 s)
        near = {fid: v for fid, v in tracks.items() if v[0][0] <= w1 + 1.0 and v[0][-1] >= w0 - 1.0}
        acc = source if isinstance(source, MotionSamples) else _mouth_motion(source, near, (w0, w1), timer, stage)
        grid = uniform_grid(w0, w1)
        if len(grid) < 2:
            continue
        if whole is None:
            with timer(stage):
                clip = read_audio(info.path, max(0.0, w0 - pad), w1 + pad)
            env = AudioEnvelope(clip)
        else:
            env = whole
        period = acc.frame_period()
        mouths = {fid: acc.signal(fid, grid) for fid in near}
        yield WindowSignals(grid, env.activity(grid, period), period, env, mouths)


def _mouth_motion(reader: WindowReader, tracks: Tracks, window: tuple[float, float], timer: StageTimer,
                  stage: str) -> MotionAccumulator:
    """Mouth motion of every track over the frames starting in window = [t0, t1), decoding timed apart."""
    t0, t1 = window
    acc = MotionAccumulator(tracks, reader.scale)
    chunks = reader.frames(t0, t1)
    while True:
        with timer(stage):
            item = next(chunks, None)
        if item is None:
            return acc
        acc.add(*item)


def _moves(motion: np.ndarray) -> bool:
    """A mouth moves visibly: its motion's 95th percentile stands out from its median."""
    return bool(np.isfinite(motion).sum() > 10
                and np.nanpercentile(motion, 95) - np.nanmedian(motion) > _STATIC_MOTION)


def _offset(tracks: Tracks, signals: Sequence[WindowSignals], settings: SyncConfig) -> SyncResult:
    """The offset of the most confident moving face, or the container fallback with its reason."""
    if not signals:
        return SyncResult.container("signals too short (no window of two grid steps)")
    # Information checks in physical units, before z-normalisation hides them.
    if not any(np.nanmax(np.nan_to_num(s.envelope.rms(s.grid), nan=0.0)) > _SILENT_RMS for s in signals):
        return SyncResult.container("silent audio")
    moving = [fid for fid in tracks if any(fid in s.mouths and _moves(s.mouths[fid]) for s in signals)]
    if not moving:
        return SyncResult.container("static mouth (no visible speech motion)")
    best: SyncResult | None = None
    for fid in moving:
        r = estimate_offset_pieces([s.piece(fid) for s in signals if fid in s.mouths], RATE_HZ,
                                   settings.max_av_shift_s, segment_s=settings.segment_s,
                                   min_confidence=settings.min_confidence)
        if r.method != "container":
            r = replace(r, speaker=fid)
        if best is None or r.confidence > best.confidence:
            best = r
    return best


def _window_scores(s: WindowSignals, best: SyncResult) -> dict[int, dict[int, float]]:
    """Speaking scores of every track in one window, against the audio aligned by `best`
    (offset 0 for the container fallback); 0 in seconds without audible sound in their window or
    with a static mouth (the same test as pass 1's)."""
    at = best.audio_time(s.grid)
    aligned = s.envelope.activity(at, s.frame_period)
    audible = np.nan_to_num(s.envelope.rms(at), nan=0.0) > _SILENT_RMS
    return speaker_scores(s.mouths, aligned, RATE_HZ, t0=float(s.grid[0]), audible=audible, min_motion=_STATIC_MOTION)


def _scores(tracks: Tracks, signals: Sequence[WindowSignals], best: SyncResult) -> dict[int, dict[int, float]]:
    """Pass 1's scores: every track in every window, each second taken from the window that
    holds its middle."""
    speaking: dict[int, dict[int, float]] = {k: {} for k in tracks}
    bounds = [(float(s.grid[0]), float(s.grid[-1]) + 1 / RATE_HZ) for s in signals]
    end = max((b for _, b in bounds), default=-np.inf)
    for s, (w0, w1) in zip(signals, bounds):
        for fid, d in _window_scores(s, best).items():
            speaking[fid].update({sec: v for sec, v in d.items() if _holds(w0, w1, end, sec)})
    return speaking


def _speaking_everywhere(info: MediaInfo, source: WindowReader | MotionSamples, tracks: Tracks, pass1: SyncAnalysis,
                         *, whole: AudioEnvelope | None, span: tuple[float, float], window_s: float, pad: float,
                         timer: StageTimer) -> SyncAnalysis:
    """Pass 2 (module docstring): scores for every second in which a face is seen in span =
    [start_s, end); each window's signals are dropped once scored."""
    start_s, end = span
    needed = face_seconds(tracks, start_s, end)
    todo = speaking_windows(np.concatenate([np.zeros(0, np.int64), *needed.values()]), pass1.windows, window_s)
    half = SPEAKING_WINDOW_S / 2
    speaking = {fid: dict(d) for fid, d in pass1.speaking.items()}
    for a, b in todo:
        for s in _signals(info, source, tracks, [(max(0.0, a - half), b + half)], whole=whole, pad=pad, timer=timer,
                          stage="speaking_decode"):
            for fid, d in _window_scores(s, pass1.result).items():
                speaking[fid].update({sec: v for sec, v in d.items() if a <= sec < b})
    filled = {fid: fill_scores(speaking.get(fid, {}), secs) for fid, secs in needed.items()}
    return replace(pass1, speaking=filled, speaking_windows=todo)

"""Analyse one video: decode -> faces -> align -> models -> per-second timeline.

`VideoAnalyzer` is the whole per-video job with no Ray in it, so it can be tested,
profiled and reused alone; the Ray layer wraps it in actors. Like a pyannote pipeline,
calling it validates the input and then runs `apply`, reporting progress through an
optional `hook(step, artifact, total=, completed=)`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from emotion_batch.align import align_faces_batch, to_model_input
from emotion_batch import heap
from emotion_batch.batching import run_batched
from emotion_batch.config import ConfigError, RunConfig
from emotion_batch.explain_stage import BestCrops, attributions, wants_groups
from emotion_batch.faces import FaceDetector, IoUTracker
from emotion_batch.media import MediaError, MediaInfo, fingerprint, iter_frames, probe
from emotion_batch.audio_stage import analyse_audio, make_fusion
from emotion_batch.models.audio import AUDIO_WEIGHTS_SHA, load_audio_model
from emotion_batch.models.fusion import load_default_params
from emotion_batch.models.visual import VISUAL_WEIGHTS_SHA, load_visual_model
from emotion_batch.schemas import SCHEMA_VERSION, STAGES
from emotion_batch.sync import SyncAnalysis, SyncResult, TrackLog, analyze_sync
from emotion_batch.timeline import TimelineBuilder

Hook = Callable[..., None]

# Frames decoded and analysed together are capped by pixels as well as by count: the detector
# holds each chunk as float32 at full resolution (plus P-Net feature maps), so the peak stays
# about the same whatever the resolution: 7 frames of 1080p, 32 of 640x360 (benchmarks/throughput.py).
CHUNK_PIXELS = 16_000_000
TRIM_EVERY_CHUNKS = 4  # heap.trim() cadence: ~1 % of the time, keeps RSS flat on long videos


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when a GPU is visible, else cpu; an unavailable cuda is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name} was asked for but no CUDA GPU is visible; use --device cpu or auto")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} GPU(s) visible")
        return dev
    return torch.device("cpu")


# Bump when processing changes the numbers without a weights change (e.g. the voice-activity
# fix for track ends), so `run` redoes videos finished by an older version instead of skipping.
ALGORITHM_VERSION = 2


def model_version() -> str:
    """Identifies the weights and processing behind every number in the tables."""
    fusion = hashlib.sha256(json.dumps(asdict(load_default_params()), sort_keys=True).encode()).hexdigest()
    return f"s{SCHEMA_VERSION}-p{ALGORITHM_VERSION}-v{VISUAL_WEIGHTS_SHA[:8]}-a{AUDIO_WEIGHTS_SHA[:8]}-f{fusion[:6]}"


class StageTimer:
    def __init__(self) -> None:
        self.seconds = {s: 0.0 for s in STAGES}

    @contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - t0


@dataclass
class VideoResult:
    video_id: str
    path: str
    status: str  # ok | failed
    error: str | None = None
    info: MediaInfo | None = None
    timeline: pa.Table | None = None
    attributions: pa.Table | None = None
    faces_found: int = 0
    face_seconds: int = 0
    av_offset_s: float | None = None
    av_confidence: float | None = None
    av_method: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def one_line_error(e: BaseException) -> str:
    if isinstance(e, MediaError):
        return str(e)
    msg = " ".join(str(e).split())[:300] or "no message"
    return f"{type(e).__name__}: {msg}"


class VideoAnalyzer:
    """Loads the models once; analyses any number of videos (or time segments of one)."""

    def __init__(self, config: RunConfig | None = None, hook: Hook | None = None):
        self.config = config or RunConfig()
        self.hook = hook
        self.device = resolve_device(self.config.device)
        c = self.config
        self.detector = FaceDetector(self.device, c.detect_max_side, c.min_face_px, c.min_face_score)
        self.visual = load_visual_model(self.device)
        self.audio = load_audio_model(self.device)
        self.fusion_params = load_default_params()
        self.fuse = make_fusion(self.fusion_params)
        self.model_version = model_version()

    def __call__(
        self, path: str | Path, video_id: str | None = None, start_s: float = 0.0, end_s: float | None = None
    ) -> VideoResult:
        """Analyse [start_s, end_s) of one file. Never raises for a bad file: the result
        then has status 'failed' and a one-line error."""
        path = str(path)
        t0 = time.perf_counter()
        try:
            vid = video_id or fingerprint(path)
        except OSError as e:
            return VideoResult(video_id or "", path, "failed", f"cannot read the file: {e.strerror or e}")
        try:
            result = self.apply(path, vid, start_s, end_s)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # a bad video must not end the batch
            if not isinstance(e, MediaError):
                traceback.print_exc()
            result = VideoResult(vid, path, "failed", one_line_error(e))
        result.timings.setdefault("total", time.perf_counter() - t0)
        return result

    def _report(self, step: str, artifact=None, **kw) -> None:
        if self.hook is not None:
            self.hook(step, artifact, **kw)

    @torch.inference_mode()
    def apply(self, path: str, video_id: str, start_s: float = 0.0, end_s: float | None = None) -> VideoResult:
        c, timer = self.config, StageTimer()
        t_start = time.perf_counter()
        with timer("decode"):
            info = probe(path)
        end = info.duration_s if end_s is None else min(end_s, info.duration_s)
        state = _VideoState(TimelineBuilder(video_id), IoUTracker(min_iou=c.track_iou, max_gap_s=c.track_max_gap_s),
                            BestCrops(c))
        builder = state.builder
        chunk = max(1, min(c.chunk_frames, CHUNK_PIXELS // max(1, info.width * info.height)))
        frames = iter_frames(path, c.fps, chunk, start_s, end)
        while True:
            with timer("decode"):
                chunk = next(frames, None)
            if chunk is None:
                break
            self._analyse_chunk(chunk, state, timer)
            state.chunks += 1
            if state.chunks % TRIM_EVERY_CHUNKS == 0:
                heap.trim()
            self._report("frames", None, total=end - start_s, completed=float(chunk.times[-1]) - start_s)
        seconds = range(int(math.floor(start_s)), int(math.ceil(end)))
        with timer("sync"):
            sync = self._sync(path, info, state.mouths, start_s, end)
        with timer("audio"):
            span = None
            if info.audio_start_s is not None and info.audio_duration_s is not None:
                span = (info.audio_start_s, info.audio_start_s + info.audio_duration_s)
            sec_audio = analyse_audio(path, seconds, self.audio, self.device, sync.result.audio_time,
                                      c.audio_window_s, keep_mel=lambda s: wants_groups(c, s), track_span=span)
        speaking = {(fid, s): v for fid, per in sync.speaking.items() for s, v in per.items()}
        with timer("models"):
            timeline = builder.build(seconds, info.duration_s, audio=sec_audio, fuse=self.fuse, speaking=speaking)
        with timer("explain"):
            attr = attributions(timeline, state.crops, sec_audio.mels, self.visual, self.audio,
                                self.fusion_params, self.device, c)
        timings = dict(timer.seconds, total=time.perf_counter() - t_start)
        r = sync.result
        method = r.method if r.method != "container" else f"container ({r.reason})"
        return VideoResult(
            video_id, path, "ok", None, info, timeline, attr,
            faces_found=len(builder.face_ids), face_seconds=builder.face_seconds(),
            av_offset_s=r.offset_s, av_confidence=r.confidence, av_method=method, timings=timings,
        )

    def _sync(self, path: str, info: MediaInfo, mouths: TrackLog, start_s: float, end_s: float) -> SyncAnalysis:
        """A/V offset by DTW of mouth motion against the audio (see sync.py)."""
        if not info.has_audio:
            return SyncAnalysis(SyncResult.container("no audio stream"), {}, [])
        return analyze_sync(path, mouths.tracks(), None, max_shift_s=self.config.max_av_shift_s,
                            duration_s=end_s, start_s=start_s)

    def _detect(self, chunk, state: "_VideoState") -> list:
        """Faces per frame: full MTCNN on keyframes (batched), R/O-Net refinement of the
        tracked faces on the frames between (see FaceDetector.refine). Updates the tracker."""
        interval = self.config.detect_interval_s
        key = np.zeros(len(chunk.times), bool)
        last = state.last_full_t
        for i, t in enumerate(chunk.times):
            if interval <= 0 or last is None or t - last >= interval - 1e-6:
                key[i], last = True, t
        state.last_full_t = last
        full = iter(self.detector.detect(chunk.frames[key]) if key.any() else [])
        faces, ids = [], []
        for i, t in enumerate(chunk.times):
            if key[i]:
                f = next(full)
            else:
                f = self.detector.refine(chunk.frames[i], state.tracker.predicted_boxes(float(t)))
            faces.append(f)
            ids.append(state.tracker.update(float(t), f.boxes))
            state.mouths.add(float(t), ids[-1], f.landmarks)
        return faces, ids

    def _analyse_chunk(self, chunk, state: "_VideoState", timer: StageTimer) -> None:
        with timer("detect"):
            faces, ids = self._detect(chunk, state)
        owner = np.concatenate([np.full(len(f), i) for i, f in enumerate(faces)]) if faces else np.zeros(0)
        probs = np.zeros((0, 7), np.float32)
        if len(owner):
            with timer("align"):
                landmarks = np.concatenate([f.landmarks for f in faces if len(f)])
                frames = torch.from_numpy(chunk.frames).to(self.device)
                crops = align_faces_batch(frames, owner, landmarks)
            with timer("models"):
                probs = run_batched(self.visual, to_model_input(crops)).float().cpu().numpy()
        k = 0
        for t, f, fid in zip(chunk.times, faces, ids):
            n = len(f)
            if n:
                state.builder.add_frame(float(t), fid, f.scores, f.boxes, probs[k : k + n])
                state.crops.add(float(t), fid, f.scores, crops[k : k + n])
            k += n


@dataclass
class _VideoState:
    """What carries over from one chunk to the next within a video."""

    builder: TimelineBuilder
    tracker: IoUTracker
    crops: BestCrops  # aligned crops of the seconds that will be explained
    mouths: TrackLog = field(default_factory=TrackLog)  # mouth boxes per track, for A/V sync
    last_full_t: float | None = None
    chunks: int = 0

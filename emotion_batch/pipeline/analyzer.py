"""Analyse one video: probe -> frames -> faces -> align -> sync -> audio -> timeline -> explain.

`VideoAnalyzer` is the whole per-video job with no Ray in it, so it can be tested, profiled and
reused alone; the Ray layer wraps it in actors. Like a pyannote pipeline, calling it validates
the input and then runs `apply`, a short list of stage calls (each stage: pipeline/stage.py).
Each step hands a typed artifact to the next and to the optional per-call hook,
`hook(step, artifact, *, video=VideoRef, total=, completed=)` (pipeline/hooks.py):

    step        artifact                                   stage                    when
    "probe"     media.MediaInfo                            media.probe              once
    "frames"    media.FrameChunk                           media.iter_frames        per chunk of frames
    "faces"     vision.stage.ChunkFaces (completed/total)  vision FacesStage        per chunk
    "align"     vision.stage.AlignedFaces                  vision AlignStage        per chunk with faces
    "sync"      sync.SyncAnalysis                          sync SyncStage           once
    "audio"     audio.analyse.SecondAudio                  audio AudioStage         once
    "timeline"  fusion.timeline.Timeline                   fusion TimelineStage     once
    "explain"   pyarrow.Table (ATTRIBUTION_SCHEMA)         explain ExplainStage     once (the final step)

Identity (identity IdentityStage) collects chips per chunk and gives the video's track table
at the end; it reports no step. A progress bar is a `ProgressHook`, stage times a `TimingHook`;
a test or a debugger can watch any step. docs/architecture.md walks one video through these.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from emotion_batch.audio.stage import AudioStage
from emotion_batch.config import RunConfig
from emotion_batch.errors import one_line_error
from emotion_batch.explain.select import wants_groups
from emotion_batch.explain.stage import BestCrops, ExplainStage
from emotion_batch.fusion.stage import TimelineStage
from emotion_batch.fusion.timeline import TimelineBuilder
from emotion_batch.identity.collect import TrackCrops
from emotion_batch.identity.stage import IdentityStage
from emotion_batch.media import (
    DecodeReport, FrameChunk, MediaError, MediaInfo, fingerprint, iter_frames, media_warning, probe,
)
from emotion_batch.models.experts import Experts
from emotion_batch.pipeline import heap
from emotion_batch.pipeline.device import resolve_device
from emotion_batch.pipeline.hooks import Hook, VideoRef
from emotion_batch.pipeline.result import Status, VideoResult
from emotion_batch.pipeline.stage import Stage
from emotion_batch.pipeline.version import model_version
from emotion_batch.schemas import STAGES
from emotion_batch.sync import SPEAKING_AT_ZERO, MotionStream, SyncAnalysis
from emotion_batch.sync.stage import SyncStage
from emotion_batch.timing import StageTimer
from emotion_batch.vision.stage import AlignedFaces, AlignStage, ChunkFaces, FacesStage, FaceTracks

log = logging.getLogger(__name__)

__all__ = ["AlignedFaces", "ChunkFaces", "CHUNK_PIXELS", "Hook", "VideoAnalyzer", "frames_per_chunk"]

# Frames decoded and analysed together are capped by pixels as well as by count: the detector
# holds each chunk as float32 at full resolution (plus P-Net feature maps), so the peak stays
# about the same whatever the resolution: 7 frames of 1080p, 32 of 640x360 (benchmarks/throughput.py).
CHUNK_PIXELS = 16_000_000
TRIM_EVERY_CHUNKS = 4  # heap.trim() cadence: ~1 % of the time, keeps RSS flat on long videos


def frames_per_chunk(chunk_frames: int, info: MediaInfo | None) -> int:
    """Frames per chunk: at most `chunk_frames` (--chunk-frames), and at most CHUNK_PIXELS."""
    pixels = max(1, info.width * info.height) if info is not None else 1
    return max(1, min(chunk_frames, CHUNK_PIXELS // pixels))


@dataclass
class _VideoWork:
    """What carries over from one chunk to the next within a video: each stage's own state."""

    tracks: FaceTracks  # vision: tracker, keyframe policy, shot cuts, mouth boxes
    builder: TimelineBuilder  # fusion: per-(face, second) running sums
    crops: BestCrops  # explain: aligned crops of the seconds that will be explained
    chips: TrackCrops | None  # identity: face chips per track; None: --identity off
    motion: MotionStream | None  # sync: mouth motion from this decode, when there is audio to sync with


class VideoAnalyzer:
    """Sets the stages up once (models, device); analyses any number of videos (or time
    segments of one), each call with its own hook."""

    def __init__(self, config: RunConfig | None = None):
        self.config = config or RunConfig()
        self.device = resolve_device(self.config.device)
        self.experts = Experts.load(self.config, self.device)
        self.faces, self.align, self.identity = FacesStage(), AlignStage(), IdentityStage()
        self.sync, self.audio_stage, self.timeline, self.explain = SyncStage(), AudioStage(), TimelineStage(), ExplainStage()
        self.stages: tuple[Stage, ...] = (self.faces, self.align, self.identity, self.sync, self.audio_stage,
                                          self.timeline, self.explain)
        for stage in self.stages:
            stage.setup(self.config, self.experts)
        self.model_version = model_version(self.experts.fusion_params)

    # the models, by the names callers and tests use (torch modules for gradients, *_net for inference)
    runtime = property(lambda self: self.experts.runtime)
    visual = property(lambda self: self.experts.visual)
    audio = property(lambda self: self.experts.audio)
    visual_net = property(lambda self: self.experts.visual_net)
    audio_net = property(lambda self: self.experts.audio_net)
    fusion_params = property(lambda self: self.experts.fusion_params)
    detector = property(lambda self: self.faces.detector)

    def with_chunk_frames(self, chunk_frames: int) -> "VideoAnalyzer":
        """The same models and stages, decoding `chunk_frames` frames at a time (a CUDA
        out-of-memory retry: chunking bounds memory and is not part of the config hash)."""
        other = copy.copy(self)
        other.config = dataclasses.replace(self.config, chunk_frames=chunk_frames)
        return other

    def __call__(self, path: str | Path, video_id: str | None = None, *, start_s: float = 0.0,
                 end_s: float | None = None, info: MediaInfo | None = None, hook: Hook | None = None) -> VideoResult:
        """Analyse [start_s, end_s) of one file (`info`: its probe, if the caller already has it),
        telling `hook` each step. Never raises for a bad file: the result then has status
        'failed' and a one-line error."""
        path = str(path)
        t0 = time.perf_counter()
        try:
            vid = video_id or fingerprint(path)
        except OSError as e:
            return VideoResult(video_id or "", path, Status.FAILED, f"cannot read the file: {e.strerror or e}")
        try:
            return self.apply(path, vid, start_s=start_s, end_s=end_s, info=info, hook=hook)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # a bad video must not end the batch; details to the run's log
            if isinstance(e, MediaError):
                log.info("%s: %s (technical detail: %s)", path, e, e.detail)
            else:
                log.error("%s: unexpected error", path, exc_info=True)
            return VideoResult(vid, path, Status.FAILED, one_line_error(e), timings={"total": time.perf_counter() - t0})

    @torch.inference_mode()
    def apply(self, path: str, video_id: str, *, start_s: float = 0.0, end_s: float | None = None,
              info: MediaInfo | None = None, hook: Hook | None = None) -> VideoResult:
        timer, t_start = StageTimer(STAGES), time.perf_counter()
        report = partial(hook, video=VideoRef(video_id, path, start_s, end_s)) if hook is not None else _silent
        with timer("decode"):
            info = info if info is not None else probe(path)
        report("probe", info)
        end = info.duration_s if end_s is None else min(end_s, info.duration_s)
        work = self._start(info, video_id, start_s)
        decoded = DecodeReport()
        if info.has_video:
            self._chunks(info, work, timer=timer, report=report, decoded=decoded, span=(start_s, end))
        seconds = range(int(math.floor(start_s)), int(math.ceil(end)))
        with timer("sync"):
            sync = self.sync.process(info, mouths=work.tracks.mouths, motion=work.motion, start_s=start_s, end_s=end)
        report("sync", sync)
        with timer("audio"):
            sec_audio = self.audio_stage.process(sync.result.audio_time, info=info, seconds=seconds,
                                                 keep_mel=partial(wants_groups, self.config.explain))
        report("audio", sec_audio)
        with timer("models"):
            timeline = self.timeline.process(sec_audio, builder=work.builder, seconds=seconds, info=info, sync=sync)
        report("timeline", timeline)
        with timer("explain"):
            attr = self.explain.process(timeline, crops=work.crops, mels=sec_audio.mels)
        report("explain", attr)
        with timer("models"):
            tracks = self.identity.process(work.chips, video_id=video_id)
        return _result(video_id, path, info=info, work=work, timeline=timeline.to_arrow(), attr=attr, sync=sync,
                       tracks=tracks, warning=media_warning(info, decoded, end),
                       timings=dict(timer.seconds, total=time.perf_counter() - t_start))

    def _start(self, info: MediaInfo, video_id: str, start_s: float) -> _VideoWork:
        return _VideoWork(FaceTracks.start(self.config), TimelineBuilder(video_id), self.explain.start(),
                          self.identity.start(),
                          MotionStream(info, start_s) if info.has_video and info.has_audio else None)

    def _chunks(self, info: MediaInfo, work: _VideoWork, *, timer: StageTimer, report, decoded: DecodeReport,
                span: tuple[float, float]) -> None:
        """The per-chunk stages over every chunk of decoded frames of [start, end)."""
        start, end = span
        for chunk in self._frames(info, span, timer=timer, decoded=decoded, motion=work.motion):
            report("frames", chunk)
            t_last = float(chunk.times[-1])
            with timer("detect"):
                faces = self.faces.process(chunk, tracks=work.tracks)
            if work.motion is not None:
                with timer("sync"):
                    work.motion.advance(work.tracks.mouths, t_last)
            report("faces", faces, total=end - start, completed=t_last - start)
            aligned = self.align.process(chunk, faces=faces, timer=timer)
            if aligned is not None:
                report("align", aligned)
            _collect(faces, aligned, work)
            if work.chips is not None:  # issue 24: a few chips per track, embedded when it ends
                with timer("models"):
                    self.identity.add(chunk, faces, chips=work.chips, live_ids=work.tracks.tracker.live_ids(t_last))

    def _frames(self, info: MediaInfo, span: tuple[float, float], *, timer: StageTimer, decoded: DecodeReport,
                motion: MotionStream | None) -> Iterator[FrameChunk]:
        """Decoded frames at the analysis rate, in chunks bounded by count and pixels; every
        decoded frame also goes to `motion` (sync's mouth motion: one decode per video)."""
        frames = iter_frames(info.path, self.config.fps, frames_per_chunk(self.config.chunk_frames, info),
                             start_s=span[0], end_s=span[1], report=decoded, tap=motion.frame if motion is not None else None)
        n = 0
        while True:
            with timer("decode"):
                item = next(frames, None)
            if item is None:
                return
            yield item
            n += 1
            if n % TRIM_EVERY_CHUNKS == 0:
                heap.trim()


def _silent(step: str, artifact=None, **kw) -> None:
    """The hook of a call that has none."""


def _collect(faces: ChunkFaces, aligned: AlignedFaces | None, work: _VideoWork) -> None:
    """Fold the chunk's per-face readings into the timeline and keep crops to explain."""
    k = 0
    for t, f, fid in zip(faces.times, faces.faces, faces.face_ids):
        n = len(f)
        if n:
            work.builder.add_frame(float(t), fid, f.scores, f.boxes, aligned.visual[k : k + n])
            work.crops.add(float(t), fid, f.scores, aligned.crops[k : k + n])
        k += n


def _result(video_id: str, path: str, *, info: MediaInfo, work: _VideoWork, timeline, attr, sync: SyncAnalysis,
            tracks, warning: str | None, timings: dict[str, float]) -> VideoResult:
    """The video's result, whole: nothing is added to it afterwards (it is frozen)."""
    s = sync.result
    method = s.method if s.method != "container" else f"container ({s.reason})"
    if sync.speaking_at == SPEAKING_AT_ZERO:
        method += f"; speaking at {SPEAKING_AT_ZERO}"
    return VideoResult(
        video_id, path, Status.OK, None, info, timeline, attr,
        faces_found=len(work.builder.face_ids), face_seconds=work.builder.face_seconds(),
        av_offset_s=s.offset_s, av_confidence=s.confidence, av_method=method, timings=timings,
        tracks=tracks, warning=warning,
    )

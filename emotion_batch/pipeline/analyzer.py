"""Analyse one video: probe -> frames -> faces -> align -> sync -> audio -> timeline -> explain.

`VideoAnalyzer` is the whole per-video job with no Ray in it, so it can be tested, profiled and
reused alone; the Ray layer wraps it in actors. Like a pyannote pipeline, calling it validates
the input and then runs `apply`, which is a short sequence of stage calls. Each stage hands a
typed artifact to the next and to the optional `hook(step, artifact, total=, completed=)`:

    step        artifact                                   when
    "probe"     media.MediaInfo                            once
    "frames"    media.FrameChunk                           per chunk of decoded frames
    "faces"     ChunkFaces         (completed/total: s)    per chunk
    "align"     AlignedFaces                               per chunk with faces
    "sync"      sync.SyncAnalysis                          once
    "audio"     audio.analyse.SecondAudio                  once
    "timeline"  fusion.timeline.Timeline                   once
    "explain"   pyarrow.Table (ATTRIBUTION_SCHEMA)         once

A progress bar is a hook that reads `completed`/`total` of "faces"; a test or a debugger can
watch any step. docs/architecture.md walks one video through these stages.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from emotion_batch.audio.analyse import SecondAudio, analyse_audio
from emotion_batch.config import RunConfig
from emotion_batch.errors import one_line_error
from emotion_batch.explain.select import wants_groups
from emotion_batch.explain.stage import BestCrops, attributions
from emotion_batch.fusion.fuse import make_fusion
from emotion_batch.fusion.speaker import load_speaker_gate
from emotion_batch.fusion.timeline import Timeline, TimelineBuilder
from emotion_batch.identity.collect import TrackCrops
from emotion_batch.identity.embed import shared_embedder
from emotion_batch.media import (
    DecodeReport, FrameChunk, MediaError, MediaInfo, fingerprint, iter_frames, media_warning, probe,
)
from emotion_batch.models.audio import load_audio_model
from emotion_batch.models.batching import run_batched
from emotion_batch.models.fusion import load_fusion_params
from emotion_batch.models.visual import load_visual_model
from emotion_batch.pipeline import heap
from emotion_batch.pipeline.device import resolve_device
from emotion_batch.pipeline.result import VideoResult
from emotion_batch.pipeline.version import model_version
from emotion_batch.models.runtime import Runtime
from emotion_batch.schemas import STAGES
from emotion_batch.sync import SPEAKING_AT_ZERO, MotionStream, SyncAnalysis, SyncResult, analyze_sync
from emotion_batch.timing import StageTimer
from emotion_batch.vision.align import align_faces_batch, to_model_input
from emotion_batch.vision.cuts import ShotCuts
from emotion_batch.vision.detect import FaceDetector, FrameFaces
from emotion_batch.vision.keyframes import KeyframePolicy
from emotion_batch.vision.mouths import TrackLog
from emotion_batch.vision.track import IoUTracker

Hook = Callable[..., None]
log = logging.getLogger(__name__)

# Frames decoded and analysed together are capped by pixels as well as by count: the detector
# holds each chunk as float32 at full resolution (plus P-Net feature maps), so the peak stays
# about the same whatever the resolution: 7 frames of 1080p, 32 of 640x360 (benchmarks/throughput.py).
CHUNK_PIXELS = 16_000_000
TRIM_EVERY_CHUNKS = 4  # heap.trim() cadence: ~1 % of the time, keeps RSS flat on long videos


@dataclass(frozen=True)
class ChunkFaces:
    """The faces stage's output for one chunk: per frame, its faces and their track ids."""

    times: np.ndarray  # float64 (N,) frame times
    faces: list[FrameFaces]  # N entries
    face_ids: list[np.ndarray]  # N entries, int32 (K_i,) stable ids

    @property
    def count(self) -> int:
        return sum(len(f) for f in self.faces)


@dataclass(frozen=True)
class AlignedFaces:
    """The align stage's output for one chunk: every face of every frame, flattened in frame order."""

    frame: np.ndarray  # int (K,) index of each face's frame within the chunk
    crops: torch.Tensor  # uint8 (K, 64, 64) aligned grayscale crops, on the analysis device
    visual: np.ndarray  # float32 (K, 7) visual-expert probabilities


@dataclass
class _VideoState:
    """What carries over from one chunk to the next within a video."""

    builder: TimelineBuilder
    tracker: IoUTracker
    crops: BestCrops  # aligned crops of the seconds that will be explained
    mouths: TrackLog = field(default_factory=TrackLog)  # mouth boxes per track, for A/V sync
    keyframes: KeyframePolicy = field(default_factory=lambda: KeyframePolicy(0.0))  # set per video
    identity: TrackCrops | None = None  # face-recognition chips per track (identity/collect.py); None: off
    cuts: ShotCuts | None = None  # shot cuts end every track (vision/cuts.py); None: off
    motion: MotionStream | None = None  # mouth motion from this decode, when there is audio to sync with


class VideoAnalyzer:
    """Loads the models once; analyses any number of videos (or time segments of one)."""

    def __init__(self, config: RunConfig | None = None, hook: Hook | None = None):
        self.config = config or RunConfig()
        self.hook = hook
        self.device = resolve_device(self.config.device)
        c = self.config
        self.runtime = Runtime.resolve(c.runtime, self.device)
        self.detector = FaceDetector(self.device, c.detect_max_side, c.min_face_px, c.min_face_score, self.runtime)
        # torch modules: explanations need gradients; *_net: what inference calls (models/runtime)
        self.visual = load_visual_model(self.device)
        self.audio = load_audio_model(self.device)
        self.visual_net = self.runtime.net("visual", self.visual)
        self.audio_net = self.runtime.net("audio", self.audio)
        self.fusion_params = load_fusion_params(c.fusion_params)
        self.fuse = make_fusion(self.fusion_params)
        self.model_version = model_version(self.fusion_params)

    def __call__(self, path: str | Path, video_id: str | None = None, start_s: float = 0.0,
                 end_s: float | None = None, info: MediaInfo | None = None) -> VideoResult:
        """Analyse [start_s, end_s) of one file (`info`: its probe, if the caller already has it).
        Never raises for a bad file: the result then has status 'failed' and a one-line error."""
        path = str(path)
        t0 = time.perf_counter()
        try:
            vid = video_id or fingerprint(path)
        except OSError as e:
            return VideoResult(video_id or "", path, "failed", f"cannot read the file: {e.strerror or e}")
        try:
            result = self.apply(path, vid, start_s, end_s, info)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as e:  # a bad video must not end the batch; details to the run's log
            if isinstance(e, MediaError):
                log.info("%s: %s (technical detail: %s)", path, e, e.detail)
            else:
                log.error("%s: unexpected error", path, exc_info=True)
            result = VideoResult(vid, path, "failed", one_line_error(e))
        result.timings.setdefault("total", time.perf_counter() - t0)
        return result

    def _report(self, step: str, artifact=None, **kw) -> None:
        if self.hook is not None:
            self.hook(step, artifact, **kw)

    @torch.inference_mode()
    def apply(self, path: str, video_id: str, start_s: float = 0.0, end_s: float | None = None,
              info: MediaInfo | None = None) -> VideoResult:
        c, timer = self.config, StageTimer(STAGES)
        t_start = time.perf_counter()
        with timer("decode"):
            info = info if info is not None else probe(path)
        self._report("probe", info)
        end = info.duration_s if end_s is None else min(end_s, info.duration_s)
        tracker = IoUTracker(min_iou=c.track_iou, max_gap_s=c.track_max_gap_s,
                             max_gap_frames=c.track_max_gap_frames, frame_step_s=1.0 / c.fps)
        state = _VideoState(TimelineBuilder(video_id), tracker, BestCrops(c.explain), keyframes=KeyframePolicy(c.detect_interval_s),
                            identity=TrackCrops(shared_embedder()) if c.identity != "off" else None,
                            cuts=ShotCuts(c.shot_cut) if c.shot_cut > 0 else None,
                            motion=MotionStream(info, start_s) if info.has_video and info.has_audio else None)
        decoded = DecodeReport()
        for chunk in self._frames(info, start_s, end, timer, decoded, state.motion) if info.has_video else ():
            self._report("frames", chunk)
            with timer("detect"):
                faces = self._detect(chunk, state)
            if state.motion is not None:
                with timer("sync"):
                    state.motion.advance(state.mouths, float(chunk.times[-1]))
            self._report("faces", faces, total=end - start_s, completed=float(chunk.times[-1]) - start_s)
            aligned = self._align(chunk, faces, timer)
            if aligned is not None:
                self._report("align", aligned)
            self._collect(faces, aligned, state)
            if state.identity is not None:  # issue 24: a few chips per track, embedded when it ends
                with timer("models"):
                    state.identity.add_chunk(chunk.times, chunk.frames, faces.faces, faces.face_ids,
                                             tracker.live_ids(float(chunk.times[-1])))
        seconds = range(int(math.floor(start_s)), int(math.ceil(end)))
        with timer("sync"):
            sync = (self._sync(info, state, start_s, end) if info.has_video
                    else SyncAnalysis(SyncResult.container("no video stream"), {}, []))
        self._report("sync", sync)
        with timer("audio"):
            sec_audio = self._audio(info, seconds, sync.result)
        self._report("audio", sec_audio)
        with timer("models"):
            timeline = self._timeline(state.builder, seconds, info, sec_audio, sync)
        self._report("timeline", timeline)
        with timer("explain"):
            attr = attributions(timeline, state.crops, mels=sec_audio.mels, visual=self.visual, audio=self.audio,
                                params=self.fusion_params, device=self.device, settings=c.explain)
        self._report("explain", attr)
        with timer("models"):
            tracks = state.identity.table(video_id) if state.identity is not None else None
        result = self._result(video_id, path, info, state.builder, timeline.to_arrow(), attr, sync,
                              dict(timer.seconds, total=time.perf_counter() - t_start))
        result.warning = media_warning(info, decoded, end)
        result.tracks = tracks
        return result

    # ------------------------------------------------------------------ stages

    def _frames(self, info: MediaInfo, start_s: float, end_s: float, timer: StageTimer,
                report: DecodeReport, motion: MotionStream | None) -> Iterator[FrameChunk]:
        """Decoded frames at the analysis rate, in chunks bounded by count and pixels; every
        decoded frame also goes to `motion` (sync's mouth motion: one decode per video)."""
        chunk = max(1, min(self.config.chunk_frames, CHUNK_PIXELS // max(1, info.width * info.height)))
        frames = iter_frames(info.path, self.config.fps, chunk, start_s=start_s, end_s=end_s, report=report,
                             tap=motion.frame if motion is not None else None)
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

    def _detect(self, chunk: FrameChunk, state: _VideoState) -> ChunkFaces:
        """Faces per frame: full MTCNN where the keyframe policy asks for it, else R/O-Net
        refinement of the tracked faces (see vision/keyframes.py). Full detections run in
        batches of the frames up to the next refined one. Updates the tracker and the mouth log."""
        step = 1.0 / self.config.fps
        policy, tracker = state.keyframes, state.tracker
        faces, ids = [], []
        i, n = 0, len(chunk.times)
        cut = [state.cuts is not None and state.cuts.is_cut(f) for f in chunk.frames]
        while i < n:
            if cut[i]:  # a new shot: no track continues, and full detection finds its faces
                tracker.end_all()
                policy.refined(agrees=False)
            j = i
            while j < n and policy.is_key(float(chunk.times[j]), step) and (j == i or policy.interval_s <= 0):
                j += 1
            if j > i:  # full detection of frames i..j-1 (one frame unless the policy is off)
                for k, f in enumerate(self.detector.detect(chunk.frames[i:j])):
                    t = float(chunk.times[i + k])
                    if k and cut[i + k]:
                        tracker.end_all()
                    live, known = tracker.live_count(t), tracker.next_id
                    faces.append(f)
                    ids.append(tracker.update(t, f.boxes))
                    # every track matched once at most: all ids old and as many as the tracks
                    policy.full(t, agrees=len(ids[-1]) == live and bool((ids[-1] < known).all()))
                i = j
            else:
                t = float(chunk.times[i])
                predicted = tracker.predicted_boxes(t)
                f = self.detector.refine(chunk.frames[i], predicted)
                faces.append(f)
                ids.append(tracker.update(t, f.boxes))
                policy.refined(agrees=len(f) == len(predicted))
                i += 1
        for t, f, fid in zip(chunk.times, faces, ids):
            state.mouths.add(float(t), fid, f.landmarks)
        return ChunkFaces(chunk.times, faces, ids)

    def _align(self, chunk: FrameChunk, faces: ChunkFaces, timer: StageTimer) -> AlignedFaces | None:
        """Aligned crops of every face of the chunk and the visual expert's reading of each."""
        if faces.count == 0:
            return None
        owner = np.concatenate([np.full(len(f), i) for i, f in enumerate(faces.faces)])
        with timer("align"):
            landmarks = np.concatenate([f.landmarks for f in faces.faces if len(f)])
            frames = torch.from_numpy(chunk.frames).to(self.device)
            crops = align_faces_batch(frames, owner, landmarks)
        with timer("models"):
            probs = run_batched(self.visual_net, to_model_input(crops)).float().cpu().numpy()
        return AlignedFaces(owner, crops, probs)

    @staticmethod
    def _collect(faces: ChunkFaces, aligned: AlignedFaces | None, state: _VideoState) -> None:
        """Fold the chunk's per-face readings into the timeline and keep crops to explain."""
        k = 0
        for t, f, fid in zip(faces.times, faces.faces, faces.face_ids):
            n = len(f)
            if n:
                state.builder.add_frame(float(t), fid, f.scores, f.boxes, aligned.visual[k : k + n])
                state.crops.add(float(t), fid, f.scores, aligned.crops[k : k + n])
            k += n

    def _sync(self, info: MediaInfo, state: _VideoState, start_s: float, end_s: float) -> SyncAnalysis:
        """A/V offset by DTW of mouth motion against the audio, and a speaking score for every
        (face, second), tracks seen once included (see sync/); the mouth motion was measured
        during the decode (`state.motion`), so no frame is decoded again."""
        if not info.has_audio or state.motion is None:
            return SyncAnalysis(SyncResult.container("no audio stream"), {}, [])
        motion = state.motion.finish(state.mouths)
        return analyze_sync(info, state.mouths.tracks(min_obs=1), None, settings=self.config.sync,
                            duration_s=end_s, start_s=start_s, motion=motion)

    def _audio(self, info: MediaInfo, seconds: range, sync: SyncResult) -> SecondAudio:
        """Speech fraction and audio-expert reading of every second, at the aligned audio time."""
        c = self.config
        return analyse_audio(info.path, seconds, self.audio_net, self.device, audio_time=sync.audio_time,
                             window_s=c.audio_window_s, keep_mel=lambda s: wants_groups(c.explain, s),
                             track_span=info.audio_span)

    def _timeline(self, builder: TimelineBuilder, seconds: range, info: MediaInfo, audio: SecondAudio,
                  sync: SyncAnalysis) -> Timeline:
        """Rows fused under the speaker gate: each face's audio weight scaled by its speaker_p."""
        speaking = {(fid, s): v for fid, per in sync.speaking.items() for s, v in per.items()}
        return builder.build(seconds, info.duration_s, audio=audio, fuse=self.fuse, speaking=speaking,
                             gate=load_speaker_gate(), min_speech=self.fusion_params.min_speech)

    @staticmethod
    def _result(video_id: str, path: str, info: MediaInfo, builder: TimelineBuilder, timeline: pa.Table,
                attr: pa.Table, analysis: SyncAnalysis, timings: dict[str, float]) -> VideoResult:
        sync = analysis.result
        method = sync.method if sync.method != "container" else f"container ({sync.reason})"
        if analysis.speaking_at == SPEAKING_AT_ZERO:
            method += f"; speaking at {SPEAKING_AT_ZERO}"
        return VideoResult(
            video_id, path, "ok", None, info, timeline, attr,
            faces_found=len(builder.face_ids), face_seconds=builder.face_seconds(),
            av_offset_s=sync.offset_s, av_confidence=sync.confidence, av_method=method, timings=timings,
        )

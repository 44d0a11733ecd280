"""Ray actors and the driver-side scheduler behind `distributed.run_ray` (Ray only).

`AnalyzerActor` holds one Ray-free `VideoAnalyzer`; `Scheduler` hands it units of work
(whole videos or segments), longest first, at most `concurrency` in flight per actor,
replaces actors that die and retries what they held, and stops the run on a start-up
error. See `distributed.py` for the design.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field

import ray
import torch
from ray.exceptions import GetTimeoutError, ObjectLostError, RayActorError, RayError, RayTaskError
from tqdm import tqdm

from emotion_batch.run.batch import BatchSummary, record_result
from emotion_batch.run.manifest import ManifestRow, now_utc
from emotion_batch.config import RunConfig
from emotion_batch.run.discover import WorkItem
from emotion_batch.errors import first_line, one_line_error
from emotion_batch.pipeline import VideoAnalyzer, VideoResult, model_version
from emotion_batch.run.segments import Segment, merge_segments, plan_segments
from emotion_batch.run.output import attach_worker_log
from emotion_batch.run.store import ResultStore


class ActorStartupError(RuntimeError):
    """An analysis actor could not start (a deterministic error: retrying will not help)."""


@ray.remote(concurrency_groups={"control": 1})
class AnalyzerActor:
    """Holds one VideoAnalyzer; analyses whole videos (and writes them) or segments."""

    def __init__(self, config: RunConfig, store_uri: str, torch_threads: int | None):
        self.error = None
        attach_worker_log(store_uri)  # tracebacks to the run's log, not to the driver's console
        try:
            if torch_threads:
                torch.set_num_threads(torch_threads)
            if config.device.startswith("cuda:") and ray.get_gpu_ids():
                # Ray exposes only this actor's GPU(s) (CUDA_VISIBLE_DEVICES): it is cuda:0 here
                config = dataclasses.replace(config, device="cuda")
            self.analyzer = VideoAnalyzer(config)
            self.store = ResultStore(store_uri)
            self.config = config
        except Exception as e:  # reported by ready(); the driver stops the run
            self.error = one_line_error(e)

    @ray.method(concurrency_group="control")
    def ready(self) -> dict:
        ctx = ray.get_runtime_context()
        device = str(self.analyzer.device) if self.error is None else None
        return {"error": self.error, "pid": os.getpid(), "host": socket.gethostname(),
                "node_id": ctx.get_node_id(), "device": device}

    def _check(self) -> None:
        if self.error is not None:
            raise ActorStartupError(self.error)

    def analyse_video(self, item: WorkItem) -> ManifestRow:
        self._check()
        started = now_utc()
        result = self.analyzer(item.path, item.video_id, info=item.info)
        return record_result(self.store, result, item, self.config, self.analyzer.model_version,
                             str(self.analyzer.device), started)

    @ray.method(num_returns=2)
    def analyse_segment(self, item: WorkItem, segment: Segment):
        """-> (small status dict, VideoResult). The driver waits on the first only."""
        self._check()
        started = now_utc()
        result = self.analyzer(item.path, item.video_id, segment.start_s, segment.end_s, info=item.info)
        return {"ok": result.ok, "started_at": started, "error": result.error}, result

    @ray.method(concurrency_group="control")
    def merge(self, item: WorkItem, started_at: str, segments: list[Segment], *results: VideoResult) -> ManifestRow:
        self._check()
        merged = merge_segments(list(zip(segments, results)), self.config.track_iou)
        return record_result(self.store, merged, item, self.config, self.analyzer.model_version,
                             str(self.analyzer.device), started_at)


@dataclass
class ActorSpec:
    count: int
    num_cpus: float
    num_gpus: float
    resources: dict[str, float]
    torch_threads: int

    def describe(self) -> str:
        parts = [f"{self.num_cpus:g} CPU"] + ([f"{self.num_gpus:g} GPU"] if self.num_gpus else [])
        parts += [f"{v:g} {k}" for k, v in self.resources.items()]
        return f"{self.count} actor(s) of {', '.join(parts)}"


# ----------------------------------------------------------------------------- scheduling


@dataclass
class Unit:
    item: WorkItem
    segment: Segment | None  # None: the whole video
    attempts: int = 0
    payload: ray.ObjectRef | None = None  # a segment's VideoResult, once dispatched

    @property
    def seconds(self) -> float:
        return self.item.duration_s if self.segment is None else self.segment.length(self.item.duration_s)

    def label(self) -> str:
        if self.segment is None:
            return self.item.path
        end = "end" if self.segment.end_s is None else f"{self.segment.end_s:g} s"
        return f"{self.item.path} [{self.segment.start_s:g} s, {end})"


@dataclass
class VideoState:
    item: WorkItem
    segments: list[Segment]
    parts: dict[int, ray.ObjectRef] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    merge_attempts: int = 0
    done: bool = False


@dataclass
class Slot:
    handle: ray.actor.ActorHandle
    ready_ref: ray.ObjectRef | None
    info: dict | None = None
    busy: int = 0


class Scheduler:
    """Dispatch units to actors, bounded in flight; retry what a dead actor held."""

    def __init__(self, spec: ActorSpec, config: RunConfig, store: ResultStore, store_uri: str, concurrency: int,
                 max_retries: int, bar: tqdm, summary: BatchSummary, echo):
        self.spec, self.config, self.store, self.store_uri = spec, config, store, store_uri
        self.concurrency, self.max_retries = concurrency, max_retries
        self.bar, self.summary, self.echo = bar, summary, echo
        self.slots: list[Slot] = []
        self.replacements_left = spec.count * (max_retries + 1)
        self.pending: deque[Unit] = deque()
        self.inflight: dict[ray.ObjectRef, tuple[Unit, Slot]] = {}
        self.merging: dict[ray.ObjectRef, tuple[VideoState, Slot]] = {}
        self.videos: dict[str, VideoState] = {}
        self.to_merge: deque[VideoState] = deque()  # all segments in, waiting for a live actor
        self.n_videos = 0
        self.retries = 0
        self.model_version = model_version()

    def _say(self, msg: str) -> None:
        with tqdm.external_write_mode():
            self.echo(msg)

    # actors -------------------------------------------------------------------------
    def _start_actor(self) -> Slot:
        s = self.spec
        handle = AnalyzerActor.options(
            num_cpus=s.num_cpus, num_gpus=s.num_gpus, resources=s.resources or None,
            max_restarts=0, max_task_retries=0, max_concurrency=self.concurrency,
        ).remote(self.config, self.store_uri, s.torch_threads)
        slot = Slot(handle, handle.ready.remote())
        self.slots.append(slot)
        return slot

    def _lose_actor(self, slot: Slot, err: BaseException) -> None:
        """The actor died: forget it, start a replacement, requeue what it held."""
        if slot not in self.slots:
            return
        self.slots.remove(slot)
        try:
            ray.kill(slot.handle, no_restart=True)
        except Exception:
            pass
        where = f" (pid {slot.info['pid']})" if slot.info else ""
        self._say(f"actor{where} lost: {first_line(err)}")
        if self.replacements_left > 0:
            self.replacements_left -= 1
            self._start_actor()

    # planning -----------------------------------------------------------------------
    def add(self, items: list[WorkItem], segment_s: float) -> None:
        units = []
        for item in items:
            segs = plan_segments(item.duration_s, segment_s)
            if len(segs) == 1:
                units.append(Unit(item, None))
            else:
                self.videos[item.video_id] = VideoState(item, segs)
                units += [Unit(item, seg) for seg in segs]
        units.sort(key=lambda u: -u.seconds)  # stable: ties keep the plan's longest-video order
        self.pending.extend(units)
        self.n_videos = len(items)
        for _ in range(self.spec.count):
            self._start_actor()

    # main loop ----------------------------------------------------------------------
    def run(self) -> None:
        waiting_since = time.monotonic()
        warned = False
        while self.pending or self.inflight or self.merging or self.to_merge:
            self._dispatch()
            refs = list(self.inflight) + list(self.merging) + [s.ready_ref for s in self.slots if s.ready_ref]
            if not refs:
                raise ActorStartupError(
                    f"every actor died and the retry budget is spent; {len(self.pending)} unit(s) left undone")
            done, _ = ray.wait(refs, num_returns=1, timeout=1.0)
            if done:
                done, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in done:
                self._handle(ref)
            if any(s.info for s in self.slots):
                waiting_since = time.monotonic()
            elif not warned and time.monotonic() - waiting_since > 60:
                warned = True
                self._say(f"waiting for actors to start: {self.spec.describe()} (does the cluster have them?)")
            self.bar.set_postfix_str(refresh=False, s=
                f"videos {len(self.summary.rows)}/{self.n_videos}, {len(self.summary.failed)} failed, "
                f"{sum(1 for s in self.slots if s.info)} actor(s)")

    def _dispatch(self) -> None:
        while self.to_merge and any(s.info for s in self.slots):
            self._start_merge(self.to_merge.popleft())
        while self.pending:  # next-longest unit to the least busy ready actor
            free = [s for s in self.slots if s.info and s.busy < self.concurrency]
            if not free:
                return
            slot = min(free, key=lambda s: s.busy)
            unit = self.pending.popleft()
            if unit.segment is None:
                ref = slot.handle.analyse_video.remote(unit.item)
            else:
                ref, payload = slot.handle.analyse_segment.remote(unit.item, unit.segment)
                unit.payload = payload
            self.inflight[ref] = (unit, slot)
            slot.busy += 1

    def _handle(self, ref: ray.ObjectRef) -> None:
        if ref in self.inflight:
            unit, slot = self.inflight.pop(ref)
            slot.busy -= 1
            try:
                out = ray.get(ref)
            except RayError as e:
                self._unit_error(unit, slot, e)
                return
            if unit.segment is None:
                self._finish(out, unit.item.duration_s)
            else:
                self._segment_done(unit, out)
        elif ref in self.merging:
            state, slot = self.merging.pop(ref)
            try:
                row = ray.get(ref)
            except RayError as e:
                self._merge_error(state, slot, e)
                return
            self._finish(row, 0.0)
        else:
            self._actor_ready(ref)

    def _actor_ready(self, ref: ray.ObjectRef) -> None:
        slot = next((s for s in self.slots if s.ready_ref == ref), None)
        if slot is None:  # the actor was already given up
            return
        slot.ready_ref = None
        try:
            info = ray.get(ref)
        except RayActorError as e:
            if e.actor_init_failed:
                raise ActorStartupError(f"analysis actor failed to start: {first_line(e)}") from None
            self._lose_actor(slot, e)
            return
        if info["error"]:
            raise ActorStartupError(f"analysis actor failed to start on {info['host']}: {info['error']}")
        slot.info = info
        self._say(f"actor ready: pid {info['pid']} on {info['host']} (node {info['node_id'][:12]}), {info['device']}")

    # outcomes -----------------------------------------------------------------------
    def _finish(self, row: ManifestRow, seconds: float) -> None:
        self.summary.rows.append(row)
        if not row.ok:
            self._say(f"FAILED {row.path}: {row.error}")
        self.bar.update(seconds)

    def _segment_done(self, unit: Unit, meta: dict) -> None:
        state = self.videos[unit.item.video_id]
        if state.done:
            return
        state.parts[unit.segment.index] = unit.payload
        state.started.append(meta["started_at"])
        self.bar.update(unit.seconds)
        if len(state.parts) == len(state.segments):
            self._start_merge(state)

    def _start_merge(self, state: VideoState) -> None:
        live = [s for s in self.slots if s.info]
        if not live:  # no actor to write it: merge when one is back
            self.to_merge.append(state)
            return
        slot = min(live, key=lambda s: s.busy)
        refs = [state.parts[s.index] for s in state.segments]
        ref = slot.handle.merge.remote(state.item, min(state.started), state.segments, *refs)
        self.merging[ref] = (state, slot)

    def _unit_error(self, unit: Unit, slot: Slot, err: RayError) -> None:
        cause = getattr(err, "cause", None)
        if isinstance(err, RayTaskError) and isinstance(cause, ActorStartupError):
            raise ActorStartupError(f"analysis actor failed to start: {cause}") from None
        if isinstance(err, RayActorError) and err.actor_init_failed:
            raise ActorStartupError(f"analysis actor failed to start: {first_line(err)}") from None
        if isinstance(err, RayActorError):
            self._lose_actor(slot, err)
        if not isinstance(err, (RayActorError, ObjectLostError, GetTimeoutError)) and not _is_oom(err):
            self._fail_video(unit.item, f"internal error while analysing: {first_line(err)}")
            return
        unit.attempts += 1
        if unit.attempts > self.max_retries:
            self._fail_video(unit.item, f"worker lost {unit.attempts} times while analysing {unit.label()}: "
                                        f"{first_line(err)}")
            return
        self.retries += 1
        self._say(f"retrying {unit.label()} (attempt {unit.attempts + 1} of {self.max_retries + 1})")
        self.pending.appendleft(unit)

    def _merge_error(self, state: VideoState, slot: Slot, err: RayError) -> None:
        if isinstance(err, RayActorError):
            self._lose_actor(slot, err)
        state.merge_attempts += 1
        if state.merge_attempts > self.max_retries or not isinstance(err, (RayActorError, ObjectLostError)):
            self._fail_video(state.item, f"merging segments failed: {first_line(err)}", counted=True)
            return
        if isinstance(err, ObjectLostError):  # a segment result is gone: redo the segments
            state.parts.clear()
            self.pending.extendleft(Unit(state.item, s, state.merge_attempts) for s in reversed(state.segments))
            return
        self._start_merge(state)

    def _fail_video(self, item: WorkItem, error: str, counted: bool = False) -> None:
        """Record a failed manifest row (from the driver) and drop the video's other units."""
        state = self.videos.get(item.video_id)
        if state is not None:
            if state.done:
                return
            state.done = True
        remaining = [u for u in self.pending if u.item.video_id == item.video_id]
        for u in remaining:
            self.pending.remove(u)
        res = VideoResult(item.video_id, item.path, "failed", error, item.info)
        try:
            row = record_result(self.store, res, item, self.config, self.model_version, "none", now_utc())
        except OSError as e:
            self._say(f"cannot record the failure of {item.path}: {e}")
            row = ManifestRow.from_result(res, item.size_bytes, item.info, self.config, self.model_version, "none",
                                          now_utc())
        done_s = sum(s.length(item.duration_s) for s in state.segments if s.index in state.parts) if state else 0.0
        self._finish(row, 0.0 if counted else max(item.duration_s - done_s, 0.0))




def _is_oom(err: BaseException) -> bool:
    return type(err).__name__ == "OutOfMemoryError"



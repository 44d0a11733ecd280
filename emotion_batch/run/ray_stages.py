"""The Ray side of a distributed run: the planning task, the analysis actor, the coordinator.

`distributed.run_ray` chains them into one Ray Data pipeline (see its docstring):

    paths -> flat_map(plan_units)          tasks: fingerprint, probe, skip, cut into units
          -> map_batches(UnitAnalyzer)     actor pool, one unit per call: analyse, write,
                                           merge; one small progress row out

`Coordinator` is the `ledger.Ledger` as an actor pinned to the driver's node. Only this
module and `distributed.py` import Ray; the analysis itself is `units.UnitRunner`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import ray

from emotion_batch.config import RunConfig
from emotion_batch.errors import one_line_error
from emotion_batch.run.batch import record_unreadable, stored_row
from emotion_batch.run.discover import WorkItem, _path_id, describe
from emotion_batch.run.claims import Claim, Claims
from emotion_batch.run.current import holds, repoint, retire_stale
from emotion_batch.run.plan import dup_id
from emotion_batch.run.ledger import Ledger
from emotion_batch.run.output import OutputError, attach_worker_log
from emotion_batch.run.segments import plan_segments
from emotion_batch.run.store import ResultStore
from emotion_batch.run.units import SegmentFiles, Unit, slim


class ActorStartupError(RuntimeError):
    """An analysis actor could not start (a deterministic error: retrying will not help)."""


log = logging.getLogger(__name__)

Coordinator = ray.remote(num_cpus=0, max_restarts=0)(Ledger)


def start_coordinator(max_retries: int, unit_timeout_s: float):
    """The ledger actor, on this (the driver's) node: it lives and dies with the driver."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return Coordinator.options(scheduling_strategy=here).remote(max_retries, unit_timeout_s)


# ----------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class PlanSpec:
    store_uri: str
    config: RunConfig
    model_version: str
    force: bool
    segment_s: float
    ahead: int = 256  # planned units not yet taken up by an actor, at most (see Ledger.room)
    claim_as: Claim | None = None  # the run (driver host, pid, run id) that claims videos (claims.py)
    # manifest rows naming each input path (current.path_index, read once by the driver)
    known: dict | None = dataclasses.field(default=None, hash=False, compare=False)


def plan_units(row: dict, spec: PlanSpec, coordinator, timeout_s: float) -> list[dict]:
    """One input path -> its units of work (none when done, a duplicate, or unreadable).
    Probing runs under the same watchdog and retry bookkeeping as analysis: a file that
    hangs or crashes the probe fails alone instead of holding the run."""
    path, ledger = row["path"], coordinator
    attach_worker_log(spec.store_uri)  # a file's technical failure detail goes to the run's log
    key, label = f"plan:{path}", f"probing {path}"
    verdict = ray.get(ledger.begin.remote(key, label, _worker_id(), False))
    try:
        if verdict.action == "fail":
            item = WorkItem(path, _path_id(path), 0, None, verdict.error)
        else:
            with Watchdog(timeout_s, lambda: _expire(ledger, key, [], label, timeout_s)):
                item = describe(path)
        return _units(item, spec, ledger)
    finally:
        ledger.end.remote(key)


def _units(item: WorkItem, spec: PlanSpec, ledger) -> list[dict]:
    path = item.path
    store = ResultStore(spec.store_uri)
    owner = _owner(item, spec, store, ledger)
    retire_stale(store, path, dup_id(path) if owner != path else item.video_id, spec.known or {})
    if owner != path or item.error:  # a duplicate's or an unreadable file's row, written here
        row = record_unreadable(store, [dataclasses.replace(item, duplicate_of=owner if owner != path else None)],
                                spec.config, spec.model_version)[0]
        ledger.planned.remote(path, failed_row=row)
        return []
    chash = spec.config.config_hash()
    rec = None if spec.force else store.done_record(item.video_id)
    if rec is not None and rec.finished(spec.model_version, chash):
        if rec.path != path:
            repoint(store, item.video_id, path, spec.model_version)  # renamed or moved
        ledger.planned.remote(path, skipped=1)
        return []
    if spec.claim_as is not None:
        other = Claims(store.fs, store.root, claim_as=spec.claim_as).take(item.video_id)
        if other is not None:  # a live other run into the same results is analysing it
            ledger.planned.remote(path, busy=1, message=f"skipped {path}: another run is analysing it "
                                                       f"({other.describe()})")
            return []
    _wait_for_room(ledger, spec.ahead)
    segments = plan_segments(item.duration_s, spec.segment_s)
    # Awaited by the driver from now on (see Ledger.awaiting): known to the ledger before
    # any of its units can reach an actor, hence ray.get.
    analyse = dict(videos=1, video_id=item.video_id, size_bytes=item.size_bytes)
    if len(segments) == 1:
        ray.get(ledger.planned.remote(path, seconds=item.duration_s, units=1, **analyse))
        return [{"unit": pickle.dumps(Unit(item))}]
    files = SegmentFiles(store)
    if spec.force:
        files.remove(item.video_id)
    done = files.usable(item.video_id, segments, spec.model_version, spec.config.config_hash())
    ray.get(ledger.register.remote(item.video_id, len(segments), sorted(done)))
    todo = [s for s in segments if s.index not in done] or segments[-1:]  # all written: merge only
    resumed = sum(s.length(item.duration_s) for s in segments if s.index in done)
    ray.get(ledger.planned.remote(path, seconds=item.duration_s - resumed, resumed_s=resumed, units=len(todo),
                                  **analyse))
    light = slim(item)
    return [{"unit": pickle.dumps(Unit(light, s, len(segments)))} for s in todo]


def _owner(item: WorkItem, spec: PlanSpec, store: ResultStore, ledger) -> str:
    """The path whose results stand for this content: the first path of this run with it, or
    the path an earlier run finished it under (if that file is still there)."""
    if item.error:
        return item.path
    rec = store.done_record(item.video_id)
    if (rec is not None and not spec.force and rec.finished(spec.model_version, spec.config.config_hash())
            and rec.path and rec.path != item.path and holds(rec.path, item.video_id)):
        return rec.path
    return ray.get(ledger.claim.remote(item.video_id, item.path))


def _wait_for_room(ledger, ahead: int) -> None:
    """Hold this planning task while enough planned units wait for actors: queued units
    are small rows held by the driver, so this keeps its memory flat on huge inputs."""
    while not ray.get(ledger.room.remote(ahead)):
        time.sleep(0.5)


# ----------------------------------------------------------------------------- watchdog


class Watchdog:
    """Calls `on_expire` (which ends the process) if the block runs past `timeout_s`."""

    def __init__(self, timeout_s: float, on_expire):
        self._timer = threading.Timer(timeout_s, on_expire)
        self._timer.daemon = True

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


def _expire(ledger, key: str, others: list[str], label: str, timeout_s: float) -> None:
    """Past the timeout: tell the ledger, then end this worker process. A stuck decode
    holds a C call that no Python exception can interrupt; Ray restarts the actor (or
    retries the task) and the ledger decides whether the work runs again."""
    try:
        ray.get(ledger.timed_out.remote(key, others), timeout=30)
    except Exception:
        pass  # exit anyway: the ledger then counts it as a lost worker
    print(f"timed out after {timeout_s:g} s while {label}: ending this worker (pid {os.getpid()})",
          file=sys.stderr, flush=True)
    os._exit(1)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# ----------------------------------------------------------------------------- analysis


class _Gate:
    """Lets a unit run alone in its actor: it waits for the others to finish, and none
    starts while it waits or runs."""

    def __init__(self):
        self._cv = threading.Condition()
        self._running = 0
        self._waiting_alone = 0
        self._exclusive = False

    @contextmanager
    def enter(self, alone: bool):
        with self._cv:
            if alone:
                self._waiting_alone += 1
            self._cv.wait_for(lambda: not self._exclusive and (
                self._running == 0 if alone else self._waiting_alone == 0))
            if alone:
                self._waiting_alone -= 1
                self._exclusive = True
            self._running += 1
        try:
            yield
        finally:
            with self._cv:
                self._running -= 1
                if alone:
                    self._exclusive = False
                self._cv.notify_all()


class UnitAnalyzer:
    """The Ray Data callable class: one VideoAnalyzer per actor, one unit per call.

    Each call asks the coordinator whether to run (retry bookkeeping), runs the unit under
    a watchdog, and returns one small progress row (with the manifest row when a video is
    done). A unit past `unit_timeout_s` cannot be stopped from inside (a stuck decode holds
    a C call), so the watchdog reports it and ends this actor's process; Ray restarts the
    actor (the pool keeps its size) and Ray Data resubmits its calls, which the
    coordinator then retries or fails."""

    def __init__(self, config: RunConfig, store_uri: str, coordinator, segment_s: float, unit_timeout_s: float,
                 shared: bool, torch_threads: int | None, hook=None):
        self.coordinator, self.segment_s, self.timeout_s, self.shared = coordinator, segment_s, unit_timeout_s, shared
        self.gate = _Gate()
        self.inflight: dict[str, Unit] = {}
        self.lock = threading.Lock()
        self.error = None
        self.worker = _worker_id()
        attach_worker_log(store_uri)  # tracebacks to the run's log, not to the driver's console
        try:
            self.runner = _make_runner(config, store_uri, torch_threads, hook)
        except Exception as e:  # raised from __call__: the driver stops the run
            self.error = f"analysis actor failed to start on {socket.gethostname()}: {one_line_error(e)}"
            return
        node = ray.get_runtime_context().get_node_id()
        coordinator.actor_ready.remote(f"analysis worker ready on {socket.gethostname()} ({self.runner.device}; "
                                       f"pid {os.getpid()}, node {node[:12]})")

    def __call__(self, batch: dict) -> dict:
        if self.error is not None:
            raise ActorStartupError(self.error)
        rows = [self._one(pickle.loads(u)) for u in batch["unit"]]
        return {k: [r[k] for r in rows] for k in rows[0]}

    def _one(self, unit: Unit) -> dict:
        verdict = ray.get(self.coordinator.begin.remote(unit.key, f"analysing {unit.label()}", self.worker,
                                                        self.shared))
        with self.lock:
            self.inflight[unit.key] = unit
        try:
            try:
                if verdict.action == "done":
                    return self._again(unit)
                if verdict.action == "run":
                    expire = lambda: self._expire(unit)  # noqa: E731
                    with self.gate.enter(verdict.alone), Watchdog(self.timeout_s, expire):
                        if verdict.alone:  # it holds the actor now: a death is its own
                            ray.get(self.coordinator.alone.remote(unit.key))
                        return self._run(unit, verdict.attempt)
                return self._settle(unit, verdict.error)
            except OutputError:
                raise
            except Exception as e:  # a bug in one unit: it fails, the run goes on; details to the run's log
                log.error("internal error while analysing %s", unit.label(), exc_info=True)
                return self._settle(unit, f"internal error: {one_line_error(e)}")
        except OutputError as e:  # the results location failed a write: the driver stops the run, one line
            log.error("run stopped: %s (%s)", e, e.detail, exc_info=True)
            raise OutputError(str(e)) from None  # no chain: Ray would print it
        finally:
            with self.lock:
                self.inflight.pop(unit.key, None)
            self.coordinator.end.remote(unit.key)

    def _again(self, unit: Unit) -> dict:
        """A call for a unit that ended already: Ray retried it because its actor died after
        the unit ended, and its output may never have reached the driver (Ray passes on the
        retry's output only in that case: one output per call). So it is sent again, with
        the manifest row read back from storage. A segmented video whose merger's output
        was lost gets its row from the driver at the end (Progress.settle)."""
        row = stored_row(self.runner.store, unit.item.video_id) if unit.segment is None else None
        return _progress(unit, row)

    def _run(self, unit: Unit, attempt: int) -> dict:
        r = self.runner
        if unit.segment is None:
            row = r.finished_row(unit.item) if attempt > 1 else None  # written before its worker died
            return _progress(unit, row or r.run_video(unit))
        error = None
        if not r.segments.exists(unit.item.video_id, unit.segment.index):  # else: done before a restart
            error = r.run_segment(unit)
        return self._segment_done(unit, error)

    def _settle(self, unit: Unit, error: str | None) -> dict:
        """A unit not run: failed past its retries (`error`), or skipped as its video failed."""
        if unit.segment is None:
            return _progress(unit, self.runner.fail(unit.item, error))
        return self._segment_done(unit, error)

    def _segment_done(self, unit: Unit, error: str | None) -> dict:
        vid = unit.item.video_id
        errors = ray.get(self.coordinator.segment_done.remote(vid, unit.segment.index, unit.key, error))
        if errors is None:
            return _progress(unit, None, error)
        segments = plan_segments(unit.item.duration_s, self.segment_s)  # as the planner cut them
        row = self.runner.merge(unit.item, segments, errors)
        self.coordinator.merged.remote(vid)
        return _progress(unit, row, error)

    def _expire(self, unit: Unit) -> None:
        with self.lock:
            others = [k for k in self.inflight if k != unit.key]
        _expire(self.coordinator, unit.key, others, f"analysing {unit.label()}", self.timeout_s)


def _progress(unit: Unit, row, error: str | None = None, seconds: float | None = None) -> dict:
    """One small row for the driver: what finished, and the manifest row if a video did."""
    return {"video_id": unit.item.video_id, "path": unit.item.path,
            "seconds": unit.seconds if seconds is None else seconds,
            "duration": unit.item.duration_s,  # the whole video's, for the driver's bar
            "segment": -1 if unit.segment is None else unit.segment.index, "error": error,
            "manifest": None if row is None else pickle.dumps(row)}


def _make_runner(config: RunConfig, store_uri: str, torch_threads: int | None, hook):
    import torch

    from emotion_batch.pipeline import VideoAnalyzer
    from emotion_batch.run.units import UnitRunner

    if torch_threads:
        torch.set_num_threads(torch_threads)
    if config.device.startswith("cuda:") and ray.get_gpu_ids():
        # Ray exposes only this actor's GPU(s) (CUDA_VISIBLE_DEVICES): it is cuda:0 here
        config = dataclasses.replace(config, device="cuda")
    analyzer = VideoAnalyzer(config)
    return UnitRunner(analyzer, ResultStore(store_uri), config, echo=lambda m: print(m, file=sys.stderr, flush=True),
                      hook=hook)

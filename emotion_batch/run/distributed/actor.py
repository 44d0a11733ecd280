"""The Ray layer's analysis actor: one `UnitRunner` (one VideoAnalyzer) per actor, one unit
per call, under a watchdog and the ledger's retry bookkeeping (see ledger.py)."""

from __future__ import annotations

import dataclasses
import logging
import os
import pickle
import socket
import sys
import threading
from contextlib import contextmanager

import ray

from emotion_batch.errors import one_line_error
from emotion_batch.run.context import RunContext
from emotion_batch.run.distributed.watchdog import Watchdog, expire, worker_id
from emotion_batch.run.engine import ActorStartupError
from emotion_batch.run.storage.manifest import ManifestRow
from emotion_batch.run.console.runlog import attach_worker_log
from emotion_batch.run.storage.output import OutputError
from emotion_batch.run.storage.segments import plan_segments
from emotion_batch.run.units import Unit, UnitRunner

log = logging.getLogger(__name__)


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

    Each call asks the ledger whether to run (retry bookkeeping), runs the unit under
    a watchdog, and returns one small progress row (with the manifest row when a video is
    done). A unit past `unit_timeout_s` cannot be stopped from inside (a stuck decode holds
    a C call), so the watchdog reports it and ends this actor's process; Ray restarts the
    actor (the pool keeps its size) and Ray Data resubmits its calls, which the
    ledger then retries or fails."""

    def __init__(self, ctx: RunContext, ledger, *, segment_s: float, unit_timeout_s: float, shared: bool,
                 torch_threads: int | None, hook=None):
        self.ledger, self.segment_s, self.timeout_s, self.shared = ledger, segment_s, unit_timeout_s, shared
        self.hook = hook
        self.gate = _Gate()
        self.inflight: dict[str, Unit] = {}
        self.lock = threading.Lock()
        self.error = None
        self.worker = worker_id()
        attach_worker_log(ctx.out)  # tracebacks to the run's log, not to the driver's console
        try:
            self.runner = _make_runner(ctx, torch_threads)
        except Exception as e:  # raised from __call__: the driver stops the run
            self.error = f"analysis actor failed to start on {socket.gethostname()}: {one_line_error(e)}"
            return
        node = ray.get_runtime_context().get_node_id()
        ledger.actor_ready.remote(f"analysis worker ready on {socket.gethostname()} ({self.runner.device}; "
                                       f"pid {os.getpid()}, node {node[:12]})")

    def __call__(self, batch: dict) -> dict:
        if self.error is not None:
            raise ActorStartupError(self.error)
        rows = [self._one(pickle.loads(u)) for u in batch["unit"]]
        return {k: [r[k] for r in rows] for k in rows[0]}

    def _one(self, unit: Unit) -> dict:
        verdict = ray.get(self.ledger.begin.remote(unit.key, f"analysing {unit.label()}", self.worker,
                                                        self.shared))
        with self.lock:
            self.inflight[unit.key] = unit
        try:
            try:
                if verdict.action == "done":
                    return self._again(unit)
                if verdict.action == "run":
                    on_timeout = lambda: self._expire(unit)  # noqa: E731
                    with self.gate.enter(verdict.alone), Watchdog(self.timeout_s, on_timeout):
                        if verdict.alone:  # it holds the actor now: a death is its own
                            ray.get(self.ledger.alone.remote(unit.key))
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
            self.ledger.end.remote(unit.key)

    def _again(self, unit: Unit) -> dict:
        """A call for a unit that ended already: Ray retried it because its actor died after
        the unit ended, and its output may never have reached the driver (Ray passes on the
        retry's output only in that case: one output per call). So it is sent again, with
        the manifest row read back from storage. A segmented video whose merger's output
        was lost gets its row from the driver at the end (Progress.settle)."""
        row = ManifestRow.read(self.runner.ctx.store, unit.item.video_id) if unit.segment is None else None
        return _progress(unit, row)

    def _run(self, unit: Unit, attempt: int) -> dict:
        r = self.runner
        if unit.segment is None:
            row = r.finished_row(unit.item) if attempt > 1 else None  # written before its worker died
            return _progress(unit, row or r.run_video(unit, hook=self.hook))
        error = None
        if not r.segments.exists(unit.item.video_id, unit.segment.index):  # else: done before a restart
            error = r.run_segment(unit, hook=self.hook)
        return self._segment_done(unit, error)

    def _settle(self, unit: Unit, error: str | None) -> dict:
        """A unit not run: failed past its retries (`error`), or skipped as its video failed."""
        if unit.segment is None:
            return _progress(unit, self.runner.fail(unit.item, error))
        return self._segment_done(unit, error)

    def _segment_done(self, unit: Unit, error: str | None) -> dict:
        vid = unit.item.video_id
        errors = ray.get(self.ledger.segment_done.remote(vid, unit.segment.index, unit.key, error))
        if errors is None:
            return _progress(unit, None, error)
        segments = plan_segments(unit.item.duration_s, self.segment_s)  # as the planner cut them
        row = self.runner.merge(unit.item, segments, errors)
        self.ledger.merged.remote(vid)
        return _progress(unit, row, error)

    def _expire(self, unit: Unit) -> None:
        with self.lock:
            others = [k for k in self.inflight if k != unit.key]
        expire(self.ledger, unit.key, others, label=f"analysing {unit.label()}", timeout_s=self.timeout_s)


def _progress(unit: Unit, row, error: str | None = None, seconds: float | None = None) -> dict:
    """One small row for the driver: what finished, and the manifest row if a video did."""
    return {"video_id": unit.item.video_id, "path": unit.item.path,
            "seconds": unit.seconds if seconds is None else seconds,
            "duration": unit.item.duration_s,  # the whole video's, for the driver's bar
            "segment": -1 if unit.segment is None else unit.segment.index, "error": error,
            "manifest": None if row is None else pickle.dumps(row)}


def _make_runner(ctx: RunContext, torch_threads: int | None) -> UnitRunner:
    import torch

    from emotion_batch.pipeline import VideoAnalyzer

    if torch_threads:
        torch.set_num_threads(torch_threads)
    config = ctx.config
    if config.device.startswith("cuda:") and ray.get_gpu_ids():
        # Ray exposes only this actor's GPU(s) (CUDA_VISIBLE_DEVICES): it is cuda:0 here
        config = dataclasses.replace(config, device="cuda")
    return UnitRunner(VideoAnalyzer(config), ctx, echo=lambda m: print(m, file=sys.stderr, flush=True))

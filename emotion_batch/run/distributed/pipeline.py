"""The Ray Data pipeline of a run: input paths -> planning tasks -> the analysis actor pool,
with this run's Ray Data settings, and a clean stop."""

from __future__ import annotations

import copy
import logging
import math
import os
import threading
import time
from contextlib import contextmanager

from emotion_batch.errors import first_line
from emotion_batch.run.distributed.actor import UnitAnalyzer
from emotion_batch.run.distributed.planning import PlanSpec, plan_units
from emotion_batch.run.distributed.sizing import ActorShape
from emotion_batch.run.engine import ActorStartupError, EngineConfig

log = logging.getLogger(__name__)

PATHS_PER_PLAN_TASK = 1  # a planning task that dies is retried whole: re-plan one file, not several
IN_FLIGHT_BYTES = 256 * 2**20  # Ray Data's object-store budget: bounds planned units waiting for actors


@contextmanager
def data_context(unit_timeout_s: float):
    """Ray Data settings for this run, restored afterwards."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    names = ("enable_progress_bars", "print_on_execution_start", "raise_original_map_exception",
             "max_consecutive_actor_init_deaths", "execution_no_progress_timeout_s", "execution_options",
             "target_max_block_size")
    saved = {n: getattr(ctx, n) for n in names}
    log = logging.getLogger("ray.data")
    level = log.level
    quiet, noisy = _DropMessage("Progress bars disabled"), logging.getLogger("ray.data._internal.progress")
    try:
        ctx.enable_progress_bars = False  # ours shows videos and video-seconds instead
        ctx.print_on_execution_start = False
        ctx.raise_original_map_exception = True
        # Every unit its own block, hence its own actor call: blocks are cut once they pass
        # this size. (ds.repartition(target_num_rows_per_block=1) would do it too, but
        # as a separate task stage that needs a CPU the actor pool may hold.)
        ctx.target_max_block_size = 1
        ctx.max_consecutive_actor_init_deaths = 10  # a node lost while its actor loads models
        # Output can pause for a whole unit (and its restart after a timeout), or while an
        # autoscaler brings nodes: fail only well past that.
        guard = saved["execution_no_progress_timeout_s"]
        ctx.execution_no_progress_timeout_s = guard if guard < 0 else max(guard, 2 * unit_timeout_s + 900)
        opts = copy.copy(saved["execution_options"])
        opts.resource_limits = opts.resource_limits.copy(object_store_memory=IN_FLIGHT_BYTES)
        ctx.execution_options = opts
        log.setLevel(logging.WARNING)
        noisy.addFilter(quiet)  # we said so: ours shows instead
        yield
    finally:
        for n, v in saved.items():
            setattr(ctx, n, v)
        log.setLevel(level)
        noisy.removeFilter(quiet)


class _DropMessage(logging.Filter):
    def __init__(self, start: str):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def build_pipeline(paths: list[str], spec: PlanSpec, shape: ActorShape, ledger, *, engine: EngineConfig,
                   plan_tasks: int, hook=None):
    """paths -> planning tasks -> the analysis actor pool; one unit per block (see
    data_context), so one unit per actor call. Build it inside `_data_context`."""
    import ray.data
    from ray.data import ActorPoolStrategy, TaskPoolStrategy

    blocks = max(1, math.ceil(len(paths) / PATHS_PER_PLAN_TASK))
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=blocks)
    ds = ds.flat_map(plan_units, fn_kwargs={"spec": spec, "ledger": ledger},
                     num_cpus=0,
                     compute=TaskPoolStrategy(size=min(plan_tasks, blocks)))
    concurrency = engine.actor_concurrency
    threaded = concurrency > 1
    pool = ActorPoolStrategy(min_size=shape.min_size, max_size=shape.max_size, initial_size=shape.initial,
                             max_concurrent_calls_per_actor=concurrency if threaded else None,
                             enable_true_multi_threading=threaded or None)
    return ds.map_batches(
        UnitAnalyzer, batch_size=1, compute=pool, num_cpus=shape.num_cpus, num_gpus=shape.num_gpus or None,
        resources=shape.resources or None,  # Ray Data's actor defaults: max_restarts=-1, max_task_retries=-1
        fn_constructor_kwargs=dict(ctx=spec.ctx, ledger=ledger, segment_s=spec.segment_s,
                                   unit_timeout_s=engine.unit_timeout_s, shared=threaded,
                                   torch_threads=shape.torch_threads, hook=hook))


def startup_error(e: BaseException | None) -> ActorStartupError | None:
    """The ActorStartupError an actor raised, unwrapped from Ray's task errors, if any."""
    for _ in range(10):
        if e is None:
            return None
        cause = getattr(e, "cause", None)  # RayTaskError: the exception raised in the worker
        if isinstance(e, ActorStartupError) and not isinstance(cause, BaseException):
            return ActorStartupError(first_line(e))
        e = cause if isinstance(cause, BaseException) else e.__cause__
    return None


# Ray Data's threads in the driver that call into Ray (2.60 names). One of them still in a
# Ray call when Ray shuts down ends the whole process with exit status 1 ("The core worker
# has already been shutdown ... The process will exit"): an interrupted run then lost its 130.
RAY_DATA_THREADS = ("StreamingExecutor-", "ray-data-metadata-prefetch", "iter_threaded")


def stop_pipeline(rows, timeout_s: float = 30.0) -> None:
    """Stop the pipeline now, not when its iterator is garbage-collected: closing the
    iterator shuts the executor down (its actors are killed, so a thread waiting for their
    output returns), then wait up to `timeout_s` for Ray Data's threads to end, so that
    nothing of it is left in a Ray call when Ray is shut down (interrupt, error)."""
    close = getattr(rows, "close", None)
    if close is not None:
        close()
    deadline = time.monotonic() + timeout_s
    for t in threading.enumerate():
        if t is not threading.current_thread() and t.name.startswith(RAY_DATA_THREADS):
            t.join(max(0.0, deadline - time.monotonic()))
    left = [t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith(RAY_DATA_THREADS)]
    if left:
        log.warning("Ray Data threads still running after %.0f s: %s", timeout_s, ", ".join(left))


def sorted_biggest_first(paths: list[str]) -> list[str]:
    def size(p: str) -> int:
        try:
            return os.path.getsize(p)
        except OSError:
            return 0

    return sorted(paths, key=lambda p: (-size(p), p))

"""The Ray executor: a batch of videos as one Ray Data pipeline, locally or on a cluster.

The modules of run/distributed/ are the only ones that import Ray: `connect.py` (joining Ray,
the ledger actor), `sizing.py` (the actor pool's shape), `pipeline.py` (the Ray Data pipeline),
`planning.py` (the planning tasks), `actor.py` (the analysis actor), `watchdog.py`,
`progress.py` (the driver's view) and this module, the driver. The decisions (`run/decide.py`),
the analysis (`units.UnitRunner`), the recorder (`run/record.py`) and the retry ledger
(`ledger.py`) are the local runner's too, and have no Ray in them.

* **Planning is distributed**: the input paths (biggest files first, a cheap stand-in for
  longest first) go to planning tasks (`planning.plan_units`, no CPU reserved: it is
  I/O) that fingerprint and probe each file, skip what is finished, write the failed row
  of an unreadable file, and cut long videos into units (segments of `--segment-s`).
  Analysis starts as soon as the first file is planned.
* **Analysis runs in an autoscaling actor pool** (`ActorPoolStrategy(min_size, max_size)`,
  one `VideoAnalyzer` per actor): Ray Data adds actors while units queue up and the
  cluster has room (nodes that join mid-run, the KubeRay autoscaler's GPU pods), and
  removes idle ones at the tail. Each actor runs up to `concurrency` units at once
  (decoding of one overlaps compute of the other). Execution is streaming; planning stays
  at most `plan_ahead` units ahead of the actors (the ledger holds it back), so units
  waiting for an actor stay bounded however large the input.
* **Results go to storage as they finish** (`units.py`): a whole video's files and manifest
  row, or a segment file that is merged into its video when the last segment is in. The
  driver receives one small row per unit for the progress bar and the summary
  (`ray_progress.py`) and keeps no results; what grows with the number of units is only
  Ray Data's own per-block statistics (~3 KB a unit, docs/cluster.md).
* **Failures are bounded** (`ledger.py`): a unit past `--unit-timeout` ends its actor (the
  only way to stop a stuck decode); Ray restarts actors without limit (a preempted node
  does not shrink the pool) and resubmits their units, which the ledger retries up to
  `--max-retries` and then records failed, naming the cause. CUDA out-of-memory is
  retried with smaller chunks (`units.py`). An actor that cannot start (bad --device,
  missing weights) stops the run with `ActorStartupError`.
* **Nothing is dropped**: at the end every video planned for analysis has one row. One
  whose result never reached the driver (its actor died after writing it, before Ray Data
  took the output) gets the row on storage, else a failed row (`Progress.settle`).
* **Resume** is free: manifest rows are written last and finished videos are skipped;
  finished segments of unmerged videos are on storage and are not analysed again.
"""

from __future__ import annotations

import logging

import ray

from emotion_batch.errors import first_line
from emotion_batch.run.console.bar import videos_bar
from emotion_batch.run.console.interrupts import reinstall as reinstall_interrupts
from emotion_batch.run.console.quiet import library_logs_to_run_log, user_error
from emotion_batch.run.context import RunContext
from emotion_batch.run.distributed.connect import connect, start_ledger
from emotion_batch.run.distributed.pipeline import (
    build_pipeline, data_context, sorted_biggest_first, startup_error, stop_pipeline,
)
from emotion_batch.run.distributed.planning import PlanSpec
from emotion_batch.run.distributed.progress import Progress
from emotion_batch.run.distributed.sizing import ActorShape, segment_length, size_actors
from emotion_batch.run.engine import EngineConfig
from emotion_batch.run.record import BatchSummary, settle_undelivered
from emotion_batch.run.storage.claims import Claims
from emotion_batch.run.storage.current import path_index
from emotion_batch.run.storage.output import OutputError
from emotion_batch.words import plural

log = logging.getLogger(__name__)


def run_ray(paths: list[str], ctx: RunContext, engine: EngineConfig, *, echo=print, hook=None) -> BatchSummary:
    """Analyse `paths` into `ctx.store` on Ray (embedded, or the cluster at `engine.address`).
    `hook` goes to every actor's analyses (tests, tracing). Raises ActorStartupError when
    actors cannot start, ConfigError for settings the cluster cannot meet."""
    summary = BatchSummary()
    if not paths:
        return summary
    started_ray = connect(engine.address)
    reinstall_interrupts()  # ray.init took SIGTERM over (sys.exit(15), a C++ stack dump)
    ledger = claims = None
    try:
        shape, segment_s, plan_tasks = _size(paths, ctx, engine, fixed_cluster=started_ray, echo=echo)
        ledger = start_ledger(engine.max_retries, engine.unit_timeout_s)
        claims = Claims(ctx.store.fs, ctx.store.root)  # this driver's run: planning tasks claim videos in its name
        spec = PlanSpec(ctx, segment_s, engine.unit_timeout_s, engine.plan_ahead, claims.me,
                        known=path_index(ctx.store, paths))  # one current row per path
        retries = _execute(paths, spec, shape, ledger, engine=engine, plan_tasks=plan_tasks, summary=summary,
                           echo=echo, hook=hook)
        if retries:
            echo(f"{plural(retries, 'video or part', 'videos or parts')} analysed again after a worker was lost "
                 "or timed out")
    finally:
        if ledger is not None:
            ray.kill(ledger, no_restart=True)
        if started_ray:
            ray.shutdown()
        if claims is not None:
            claims.release_run()  # what no actor recorded (interrupted, stopped)
    return summary


def _size(paths: list[str], ctx: RunContext, engine: EngineConfig, *, fixed_cluster: bool,
          echo) -> tuple[ActorShape, float, int]:
    """The actor pool's shape, the segment length and how many planning tasks run at once."""
    totals = ray.cluster_resources()
    node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
    shape = size_actors(engine, ctx.config, totals=totals, max_node_cpus=node_cpus, n_paths=len(paths),
                        fixed_cluster=fixed_cluster, echo=echo)
    plan_tasks = engine.plan_tasks or max(2, min(16, int(totals.get("CPU", 0) // 2)))
    log.info("planning in up to %d task(s) at once; analysis: %s", plan_tasks, shape.describe())
    n = engine.actor_concurrency
    echo(f"Analysing on {shape.describe()}; each takes up to {n} video{'' if n == 1 else 's'} or parts of videos "
         "at once")
    return shape, segment_length(engine.segment_s, len(paths), shape.initial * n, echo), plan_tasks


def _execute(paths: list[str], spec: PlanSpec, shape: ActorShape, ledger, *, engine: EngineConfig, plan_tasks: int,
             summary: BatchSummary, echo, hook) -> int:
    """Run the pipeline to its end, with the bar; every planned video gets its row. Returns
    how many units were retried."""
    bar = videos_bar(len(paths), enabled=engine.progress)
    with data_context(engine.unit_timeout_s), bar, library_logs_to_run_log():  # no tracebacks on the console
        ds = build_pipeline(sorted_biggest_first(paths), spec, shape, ledger, engine=engine, plan_tasks=plan_tasks,
                            hook=hook)
        with Progress(ledger, bar, summary, n_paths=len(paths), echo=echo) as prog:
            rows = iter(ds.iter_rows())
            try:
                for out in rows:
                    prog.unit_done(out)
            except Exception as e:
                _raise_plainly(e)
            finally:
                stop_pipeline(rows)
        prog.settle(lambda awaited: settle_undelivered(spec.ctx, awaited))
    return prog.retries


def _raise_plainly(e: Exception) -> None:
    """Re-raise what stopped the pipeline as the error the user should see."""
    err = startup_error(e)
    if err is not None:
        raise err from None
    if (stop := user_error(e, OutputError)) is not None:  # a worker's write failed
        raise OutputError(first_line(stop)) from None  # Ray Data appends lines
    raise e

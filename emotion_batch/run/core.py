"""The run core: one plan, one recorder, two executors, one collection step.

    paths ─► RunContext (context.py: store, settings, hash, model version, force; built once)
          ─► executor: local/runner.py (one process)  or  distributed/driver.py (Ray actors)
               both: describe ─► decide(item) (decide.py) ─► UnitRunner (units.py) ─► record (record.py)
          ─► the collection step, once after every unit: person ids (persons.py)
          ─► BatchSummary (record.py)

The executors own only what is engine-specific (the local loop and bar; Ray's planning tasks,
actor pool, ledger and retries). A step over the whole collection goes after them here, in
one place for both.
"""

from __future__ import annotations

import time

from emotion_batch.run.context import RunContext
from emotion_batch.run.engine import EngineConfig
from emotion_batch.run.persons import give_persons
from emotion_batch.run.record import BatchSummary


def analyse(paths: list[str], ctx: RunContext, engine: EngineConfig, *, echo=print, hook=None) -> BatchSummary:
    """Analyse `paths` into `ctx.store` on `engine`, then give person ids (identity). `hook`
    watches every video's analysis (tests, tracing; on Ray it travels to the actors). Raises
    ActorStartupError when Ray's actors cannot start, ConfigError for settings the cluster
    cannot meet, OutputError when results cannot be written, KeyboardInterrupt when stopped."""
    t0 = time.perf_counter()
    if engine.engine == "local":
        from emotion_batch.run.local.runner import run_local as execute
    else:
        from emotion_batch.run.distributed.driver import run_ray as execute
    summary = execute(paths, ctx, engine, echo=echo, hook=hook)
    give_persons(ctx, echo=echo)  # once, after every unit (identity)
    summary.wall_s = time.perf_counter() - t0
    return summary

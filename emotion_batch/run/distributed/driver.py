"""The Ray layer: a batch of videos as one Ray Data pipeline, locally or on a cluster.

This module (connecting, sizing, the driver), `ray_stages.py` (the stages) and
`ray_progress.py` (the driver's progress) are the only ones that import Ray; the analysis
(`VideoAnalyzer`, wrapped by `units.UnitRunner`) and the retry ledger (`ledger.py`) have none.

* **Planning is distributed**: the input paths (biggest files first, a cheap stand-in for
  longest first) go to planning tasks (`ray_stages.plan_units`, no CPU reserved: it is
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

import copy
import logging
import math
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import ray

from emotion_batch.words import plural
from emotion_batch.config import ConfigError, RunConfig
from emotion_batch.errors import first_line
from emotion_batch.models.fusion_params import load_fusion_params
from emotion_batch.pipeline import model_version
from emotion_batch.run.console.bar import videos_bar
from emotion_batch.run.batch import settle_undelivered
from emotion_batch.run.persons import give_persons
from emotion_batch.run.distributed.progress import Progress, RunSummary
from emotion_batch.run.distributed.stages import ActorStartupError, PlanSpec, UnitAnalyzer, plan_units, start_coordinator
from emotion_batch.run.storage.claims import Claims
from emotion_batch.run.storage.current import path_index
from emotion_batch.run.console.interrupts import reinstall as reinstall_interrupts
from emotion_batch.run.storage.output import OutputError
from emotion_batch.run.console.quiet import library_logs_to_run_log, user_error
from emotion_batch.run.storage.store import ResultStore

log = logging.getLogger(__name__)

__all__ = ["ActorStartupError", "ActorShape", "RunSummary", "connect", "run_ray", "segment_length", "size_actors"]

DEFAULT_SEGMENT_S = 300.0  # videos longer than this are analysed in segments (--segment-s)
FILL_SEGMENT_S = 60.0  # ... or than this, when the batch has fewer files than analysis slots
PATHS_PER_PLAN_TASK = 1  # a planning task that dies is retried whole: re-plan one file, not several
IN_FLIGHT_BYTES = 256 * 2**20  # Ray Data's object-store budget: bounds planned units waiting for actors

# ----------------------------------------------------------------------------- connecting


def _force_loopback() -> None:
    """Ray 2.60 rewrites 127.0.0.1 to the machine's network address unless multi-node
    support is off; an embedded single-machine Ray has no business listening beyond
    loopback, so switch it off (env for child processes, constant for this one)."""
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray._private.ray_constants as rc

    rc.ENABLE_RAY_CLUSTER = False


def connect(address: str | None) -> bool:
    """Join the cluster at `address` (or RAY_ADDRESS), or start an embedded local Ray on
    loopback. Returns True when this call initialised Ray (and so must shut it down).
    Workers' own output is not forwarded to this console (log_to_driver=False): what a user
    needs comes back as rows and progress; Ray's crash dumps of a worker whose node died
    (C++ stack traces) stay in Ray's session logs."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        # The cluster decides the auth mode: export RAY_AUTH_MODE=token (and the token)
        # when it uses token authentication.
        try:
            ray.init(address=address, logging_level="WARNING", log_to_driver=False)
        except (ConnectionError, RuntimeError) as e:
            raise ConfigError(f"cannot join the Ray cluster at {address}: {first_line(e)}") from None
    else:
        # A new cluster: Ray 2.60 accepts RAY_AUTH_MODE=disabled|token and defaults to
        # token for new clusters; keep that default, but say so explicitly. Ray caches its
        # config when imported, so re-read it, as Ray itself does when it enables tokens
        # (else the GCS starts in token mode with no token and aborts).
        if os.environ.setdefault("RAY_AUTH_MODE", "token") == "token":
            from ray._raylet import Config

            Config.initialize("")
        _force_loopback()
        try:
            ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                     _node_ip_address="127.0.0.1", logging_level="WARNING", log_to_driver=False)
        except Exception as e:  # GCS/raylet start-up failures arrive as many exception types
            log.error("the embedded Ray did not start", exc_info=True)
            raise ConfigError(
                f"the embedded Ray could not start ({first_line(e, 160)}); try: 'ray stop' to end a stale "
                "local Ray, free space in /tmp, or run without Ray: --engine local") from None
    return True


# ----------------------------------------------------------------------------- sizing


@dataclass
class ActorShape:
    num_cpus: float
    num_gpus: float
    resources: dict[str, float]
    torch_threads: int
    min_size: int
    max_size: int | None  # None: as many as the cluster fits, growing with it
    initial: int

    def describe(self) -> str:
        """In the user's words, e.g. "1 to as many as fit analysis workers (2 CPUs each, starting with 1)"."""
        parts = [f"{self.num_cpus:g} CPU{'' if self.num_cpus == 1 else 's'}"]
        parts += [f"{self.num_gpus:g} GPU"] if self.num_gpus else []
        parts += [f"{v:g} {k}" for k, v in self.resources.items()]
        top = "as many as fit" if self.max_size is None else str(self.max_size)
        count = str(self.min_size) if top == str(self.min_size) else f"{self.min_size} to {top}"
        plural = "" if count == "1" else "s"
        return f"{count} analysis worker{plural} ({', '.join(parts)} each, starting with {self.initial})"


def size_actors(
    config: RunConfig, min_actors: int, max_actors: int | None, cpus_per_actor: float | None, gpus_per_actor: float,
    resources: dict[str, float] | None, totals: dict[str, float], max_node_cpus: float, n_paths: int,
    fixed_cluster: bool, echo=print, concurrency: int = 1,
) -> ActorShape:
    """The shape of an analysis actor and the pool's bounds. GPU actors when the device is
    cuda, or auto on a cluster that has GPUs now; `fixed_cluster` (the embedded Ray) cannot
    grow, so an actor that does not fit there is an error rather than a wait. The actor's CPUs
    are shared by the `concurrency` units it runs at once: each unit's torch and onnxruntime
    threads are CPUs // concurrency (a 2-CPU actor running 2 units with 2 threads each had 4
    busy threads on 2 cores: the 118 s sample's two 60 s segments took 26.0 / 26.2 s against
    22.5 / 24.3 s with 1 thread each; a lone unit loses some: 4.4 / 4.1 s -> 5.5 / 4.3 s for
    the 20 s sample, whose whole run is mostly start-up)."""
    if max_actors is not None and min_actors > max_actors:
        raise ConfigError(f"--min-actors ({min_actors}) is more than --actors ({max_actors})")
    resources = dict(resources or {})
    has_gpu = totals.get("GPU", 0) > 0
    use_gpu = config.device != "cpu" and gpus_per_actor > 0 and (has_gpu or config.device.startswith("cuda"))
    if config.device == "auto" and gpus_per_actor > 0 and not has_gpu:
        say = log.info if fixed_cluster else echo  # this machine alone: no GPU will join, nothing to choose
        say("note: the cluster has no GPU now, so the analysis workers use CPUs; pass --device cuda to "
            "wait for GPU nodes instead (e.g. an autoscaler's)")
    if use_gpu:
        cpus, gpus = (cpus_per_actor or 1.0), gpus_per_actor
    else:
        cpus, gpus = (cpus_per_actor or max(1.0, min(4.0, max_node_cpus))), 0.0
    need = {"CPU": cpus, "GPU": gpus, **resources}
    fits = min(int(totals.get(k, 0) // v) for k, v in need.items() if v > 0)
    if fits < max(1, min_actors if fixed_cluster else 1):
        have = {k: totals.get(k, 0) for k in need}
        short = f"each actor needs {need}, the cluster has {have}"
        if fixed_cluster:
            raise ConfigError(f"the cluster has no room for {plural(max(1, min_actors), 'analysis worker')}: {short}")
        echo(f"note: no room for an actor now ({short}); waiting for nodes to join")
    top = max_actors if max_actors is not None else math.inf
    initial = max(min_actors, min(fits, top, n_paths))
    return ActorShape(cpus, gpus, resources, max(1, int(cpus) // max(1, concurrency)), min_actors, max_actors, initial)


# ----------------------------------------------------------------------------- the pipeline


@contextmanager
def _data_context(unit_timeout_s: float):
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


def build_pipeline(paths: list[str], spec: PlanSpec, shape: ActorShape, coordinator, concurrency: int,
                   unit_timeout_s: float, plan_tasks: int, hook=None):
    """paths -> planning tasks -> the analysis actor pool; one unit per block (see
    _data_context), so one unit per actor call. Build it inside `_data_context`."""
    import ray.data
    from ray.data import ActorPoolStrategy, TaskPoolStrategy

    blocks = max(1, math.ceil(len(paths) / PATHS_PER_PLAN_TASK))
    ds = ray.data.from_items([{"path": p} for p in paths], override_num_blocks=blocks)
    ds = ds.flat_map(plan_units, fn_kwargs={"spec": spec, "coordinator": coordinator, "timeout_s": unit_timeout_s},
                     num_cpus=0,
                     compute=TaskPoolStrategy(size=min(plan_tasks, blocks)))
    threaded = concurrency > 1
    pool = ActorPoolStrategy(min_size=shape.min_size, max_size=shape.max_size, initial_size=shape.initial,
                             max_concurrent_calls_per_actor=concurrency if threaded else None,
                             enable_true_multi_threading=threaded or None)
    return ds.map_batches(
        UnitAnalyzer, batch_size=1, compute=pool, num_cpus=shape.num_cpus, num_gpus=shape.num_gpus or None,
        resources=shape.resources or None,  # Ray Data's actor defaults: max_restarts=-1, max_task_retries=-1
        fn_constructor_kwargs=dict(config=spec.config, store_uri=spec.store_uri, coordinator=coordinator,
                                   segment_s=spec.segment_s, unit_timeout_s=unit_timeout_s, shared=threaded,
                                   torch_threads=shape.torch_threads, hook=hook))


def segment_length(segment_s: float | None, n_files: int, slots: int, echo=print) -> float:
    """`--segment-s` if given; else DEFAULT_SEGMENT_S, or FILL_SEGMENT_S when the batch has
    fewer files than the pool has analysis slots at the start (actors x units per actor): long
    videos are then cut finer so that every slot has work (one 2-minute video on one actor
    running two units at once: two 1-minute units in parallel; measured 32.3 -> 28.8 s for
    the whole run, the same 119 face-seconds). Segments are merged with their face ids
    stitched, as for any long video."""
    if segment_s is not None:
        return segment_s
    if n_files < slots:
        log.info("%d file(s) for %d analysis slot(s): %g s segments", n_files, slots, FILL_SEGMENT_S)
        echo(f"Fewer files than the workers can take at once: videos longer than {FILL_SEGMENT_S:g} s are "
             f"split into {FILL_SEGMENT_S:g} s parts, analysed in parallel")
        return FILL_SEGMENT_S
    return DEFAULT_SEGMENT_S


def _startup_error(e: BaseException | None) -> ActorStartupError | None:
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


def _sorted_biggest_first(paths: list[str]) -> list[str]:
    def size(p: str) -> int:
        try:
            return os.path.getsize(p)
        except OSError:
            return 0

    return sorted(paths, key=lambda p: (-size(p), p))


# ----------------------------------------------------------------------------- entry point


def run_ray(
    paths: list[str], store_uri: str, config: RunConfig, force: bool = False, address: str | None = None,
    actors: int | None = None, cpus_per_actor: float | None = None, gpus_per_actor: float = 1.0,
    segment_s: float | None = None, max_retries: int = 2, resources: dict[str, float] | None = None,
    concurrency: int = 2, progress: bool = True, echo=print, min_actors: int = 1, unit_timeout_s: float = 3600.0,
    plan_tasks: int | None = None, plan_ahead: int = 256, hook=None,
) -> RunSummary:
    """Analyse `paths` into `store_uri` on Ray (embedded, or the cluster at `address`);
    `actors` caps the actor pool (None: as many as fit), `min_actors` is its floor.
    Planning stays at most `plan_ahead` units (or 4 per busy actor) ahead of analysis.
    `hook` goes to every actor's VideoAnalyzer (tests, tracing). Raises ActorStartupError
    when actors cannot start, ConfigError for settings the cluster cannot meet."""
    if segment_s is not None and segment_s < 1:
        raise ConfigError(f"--segment-s must be >= 1, got {segment_s}")
    if max_retries < 0 or concurrency < 1 or min_actors < 1:
        raise ConfigError("--max-retries must be >= 0, concurrency and --min-actors >= 1")
    if not unit_timeout_s > 0:
        raise ConfigError(f"--unit-timeout must be > 0 s, got {unit_timeout_s}")
    t0 = time.perf_counter()
    ResultStore(store_uri)  # creates the tables' folders (and fails early on a bad location)
    summary = RunSummary()
    if not paths:
        return summary
    started_ray = connect(address)
    reinstall_interrupts()  # issue 26: ray.init took SIGTERM over (sys.exit(15), a C++ stack dump)
    coordinator = claims = None
    try:
        totals = ray.cluster_resources()
        node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
        shape = size_actors(config, min_actors, actors, cpus_per_actor, gpus_per_actor, resources, totals, node_cpus,
                            len(paths), started_ray, echo, concurrency)
        plan_tasks = plan_tasks or max(2, min(16, int(totals.get("CPU", 0) // 2)))
        log.info("planning in up to %d task(s) at once; analysis: %s", plan_tasks, shape.describe())
        echo(f"Analysing on {shape.describe()}; each takes up to {concurrency} "
             f"video{'' if concurrency == 1 else 's'} or parts of videos at once")
        segment_s = segment_length(segment_s, len(paths), shape.initial * concurrency, echo)
        coordinator = start_coordinator(max_retries, unit_timeout_s)
        store = ResultStore(store_uri)
        claims = Claims(store.fs, store.root)  # this driver's run: planning tasks claim videos in its name
        spec = PlanSpec(store_uri, config, model_version(load_fusion_params(config.fusion_params)), force, segment_s,
                        plan_ahead, claims.me, known=path_index(store, paths))  # one current row per path
        bar = videos_bar(len(paths), enabled=progress)
        with _data_context(unit_timeout_s), bar, library_logs_to_run_log():  # no tracebacks on the console
            ds = build_pipeline(_sorted_biggest_first(paths), spec, shape, coordinator, concurrency, unit_timeout_s,
                                plan_tasks, hook)
            with Progress(coordinator, bar, summary, len(paths), echo) as prog:
                rows = iter(ds.iter_rows())
                try:
                    for out in rows:
                        prog.unit_done(out)
                except Exception as e:
                    err = _startup_error(e)
                    if err is not None:
                        raise err from None
                    if (stop := user_error(e, OutputError)) is not None:  # issue 26: a worker's write failed
                        raise OutputError(first_line(stop)) from None  # Ray Data appends lines
                    raise
                finally:
                    stop_pipeline(rows)
            prog.settle(lambda awaited: settle_undelivered(store, awaited, config, spec.model_version))
        if prog.retries:
            echo(f"{plural(prog.retries, 'video or part', 'videos or parts')} analysed again after a worker was lost or timed out")
    finally:
        if coordinator is not None:
            ray.kill(coordinator, no_restart=True)
        if started_ray:
            ray.shutdown()
        if claims is not None:
            claims.release_run()  # what no actor recorded (interrupted, stopped)
    give_persons(store_uri, config, echo)  # once, after every unit (identity, run/persons.py)
    summary.wall_s = time.perf_counter() - t0
    return summary

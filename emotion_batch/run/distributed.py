"""The Ray layer: shard a batch of videos across model-holding actors, locally or on a cluster.

This module (connecting, sizing, `run_ray`) and `run/ray_scheduler.py` (the actor and the
scheduler) are the only ones that import Ray; they wrap the Ray-free `VideoAnalyzer` and
only orchestrate.

* **Actors** (`AnalyzerActor`) hold one `VideoAnalyzer` each, so models load once per actor.
  By default one actor per GPU (`gpus_per_actor`, fractional packs several on a GPU); on a
  cluster without GPUs, CPU actors of `cpus_per_actor` CPUs with torch threads to match.
  `resources` adds custom resources every actor requires (e.g. {"emotion_worker": 1}).
* **Units of work**: a video, or for a video longer than `segment_s` one segment of it
  (cut at whole seconds, see `segments.py`). Units go out longest first. A whole-video unit
  is analysed *and written* by its actor; a segment returns its (small) timeline to the
  object store, and once all segments of a video are in, an actor merges them in order
  (face ids stitched across boundaries) and writes the result. Workers write straight to
  the output location; the driver plans, dispatches, retries and shows progress. It writes
  only the manifest rows of videos that failed for lack of a live worker.
* **Bounded in-flight work**: each actor has at most `concurrency` units in flight, so
  the object store and memory stay flat however long the batch is.
* **Decoding overlaps compute** by running `concurrency` (default 2) analyses at once in a
  threaded actor: PyAV decoding and torch kernels release the GIL, so one analysis
  decodes while the other computes. Chosen over a prefetch thread inside the pipeline
  because it needs no change to the Ray-free pipeline and also hides write latency.
  Measured with `benchmarks/scaling.py --settings 1x1,1x2` on the shared 2-core CPU host:
  1.27x, 1.03x and 0.97x in three runs (noise from other jobs dominates), at ~10% more
  peak memory per actor; its real use is keeping a GPU fed while frames decode.
  `--actor-concurrency 1` turns it off.
* **Failures**: a video that fails is a `failed` manifest row and the batch goes on. An
  actor that dies (killed, out of memory, node lost) is replaced by a fresh one and the
  work it held is retried, each unit at most `max_retries` times, then recorded failed. An
  error while an actor starts (bad `--device`, missing weights) is deterministic: the run
  stops with `ActorStartupError` instead of restarting actors forever. Resume is free: the
  manifest row is written last and `plan()` skips finished videos.
"""

from __future__ import annotations

import os
import time

import ray
from tqdm import tqdm

from emotion_batch.run.batch import BatchSummary, record_planned
from emotion_batch.run.plan import plan
from emotion_batch.config import ConfigError, RunConfig
from emotion_batch.pipeline import model_version
from emotion_batch.errors import first_line
from emotion_batch.run.ray_scheduler import ActorSpec, ActorStartupError, AnalyzerActor, Scheduler
from emotion_batch.run.segments import plan_segments
from emotion_batch.run.store import ResultStore

__all__ = ["ActorStartupError", "AnalyzerActor", "connect", "run_ray", "size_actors"]

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
    loopback. Returns True when this call initialised Ray (and so must shut it down)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        # The cluster decides the auth mode: export RAY_AUTH_MODE=token (and the token)
        # when it uses token authentication.
        try:
            ray.init(address=address, logging_level="WARNING")
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
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False,
                 _node_ip_address="127.0.0.1", logging_level="WARNING")
    return True



# ----------------------------------------------------------------------------- sizing


def size_actors(
    config: RunConfig, actors: int | None, cpus_per_actor: float | None, gpus_per_actor: float,
    resources: dict[str, float] | None, n_units: int, totals: dict[str, float], max_node_cpus: float, echo=print,
) -> ActorSpec:
    """How many actors of what shape: one per GPU (or per `gpus_per_actor`) when the cluster
    has GPUs and the device is not cpu, else CPU actors; never more actors than units."""
    resources = dict(resources or {})
    use_gpu = totals.get("GPU", 0) > 0 and config.device != "cpu" and gpus_per_actor > 0
    if use_gpu:
        cpus, gpus = (cpus_per_actor or 1.0), gpus_per_actor
    else:
        cpus, gpus = (cpus_per_actor or max(1.0, min(4.0, max_node_cpus))), 0.0
    need = {"CPU": cpus, "GPU": gpus, **resources}
    capacity = min(int(totals.get(k, 0) // v) for k, v in need.items() if v > 0)
    count = actors or capacity
    if actors and actors > capacity:
        short = f"the cluster now fits {capacity} actor(s) of {need}"
        echo(f"note: {short}; the other {actors - capacity} start when resources appear")
    if count < 1:
        have = {k: totals.get(k, 0) for k in need}
        raise ConfigError(f"the cluster has no room for one actor: each needs {need}, the cluster has {have}")
    return ActorSpec(max(1, min(count, n_units)), cpus, gpus, resources, max(1, int(cpus)))



# ----------------------------------------------------------------------------- entry point


def run_ray(
    paths: list[str], store_uri: str, config: RunConfig, force: bool = False, address: str | None = None,
    actors: int | None = None, cpus_per_actor: float | None = None, gpus_per_actor: float = 1.0,
    segment_s: float = 300.0, max_retries: int = 2, resources: dict[str, float] | None = None,
    concurrency: int = 2, progress: bool = True, echo=print,
) -> BatchSummary:
    """Analyse `paths` into `store_uri` on Ray (embedded, or the cluster at `address`).
    Raises ActorStartupError when actors cannot start, ConfigError when none fit."""
    if segment_s < 1:
        raise ConfigError(f"--segment-s must be >= 1, got {segment_s}")
    if max_retries < 0 or concurrency < 1:
        raise ConfigError("--max-retries must be >= 0 and concurrency >= 1")
    t0 = time.perf_counter()
    store = ResultStore(store_uri)
    p = plan(paths, store, config, model_version(), force)
    summary = BatchSummary(skipped=len(p.skipped))
    record_planned(store, p, config, model_version(), summary, echo)  # failed and duplicate rows
    if not p.todo:
        summary.wall_s = time.perf_counter() - t0
        return summary
    started_ray = connect(address)
    sched = None
    try:
        totals = ray.cluster_resources()
        node_cpus = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
        n_units = sum(len(plan_segments(it.duration_s, segment_s)) for it in p.todo)
        spec = size_actors(config, actors, cpus_per_actor, gpus_per_actor, resources, n_units, totals, node_cpus, echo)
        echo(f"{len(p.todo)} video(s) to analyse ({sum(it.duration_s for it in p.todo):.0f} video-s, "
             f"{n_units} unit(s)); {spec.describe()}, up to {concurrency} unit(s) in flight each")
        bar = tqdm(total=sum(it.duration_s for it in p.todo), unit="video-s", disable=not progress,
                   dynamic_ncols=True, bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} video-s "
                   "[{elapsed}<{remaining}, {rate_fmt}{postfix}]")
        with bar:
            sched = Scheduler(spec, config, store, store.root_uri, concurrency, max_retries, bar, summary, echo)
            sched.add(p.todo, segment_s)
            sched.run()
        if sched.retries:
            echo(f"{sched.retries} unit(s) were retried after a worker was lost")
    finally:
        for slot in sched.slots if sched else []:
            try:
                ray.kill(slot.handle, no_restart=True)
            except Exception:
                pass
        if started_ray:
            ray.shutdown()
        p.claims.release_all()  # what no actor recorded (interrupted, stopped)
    summary.wall_s = time.perf_counter() - t0
    return summary

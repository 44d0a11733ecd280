"""How big the Ray layer's analysis actors are, how many, and how long its segments."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from emotion_batch.config import ConfigError, RunConfig
from emotion_batch.run.engine import EngineConfig
from emotion_batch.words import plural

log = logging.getLogger(__name__)

DEFAULT_SEGMENT_S = 300.0  # videos longer than this are analysed in segments (--segment-s)
FILL_SEGMENT_S = 60.0  # ... or than this, when the batch has fewer files than analysis slots


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


def size_actors(engine: EngineConfig, config: RunConfig, *, totals: dict[str, float], max_node_cpus: float,
                n_paths: int, fixed_cluster: bool, echo=print) -> ActorShape:
    """The shape of an analysis actor and the pool's bounds. GPU actors when the device is
    cuda, or auto on a cluster that has GPUs now; `fixed_cluster` (the embedded Ray) cannot
    grow, so an actor that does not fit there is an error rather than a wait. The actor's CPUs
    are shared by the `concurrency` units it runs at once: each unit's torch and onnxruntime
    threads are CPUs // concurrency (a 2-CPU actor running 2 units with 2 threads each had 4
    busy threads on 2 cores: the 118 s sample's two 60 s segments took 26.0 / 26.2 s against
    22.5 / 24.3 s with 1 thread each; a lone unit loses some: 4.4 / 4.1 s -> 5.5 / 4.3 s for
    the 20 s sample, whose whole run is mostly start-up)."""
    min_actors, max_actors, gpus_per_actor = engine.min_actors, engine.actors, engine.gpus_per_actor
    cpus_per_actor, concurrency = engine.cpus_per_actor, engine.actor_concurrency
    resources = dict(engine.resources or {})
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

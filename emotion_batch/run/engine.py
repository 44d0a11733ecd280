"""How a run is executed, as one typed value: `EngineConfig`.

`RunConfig` (emotion_batch/config.py) holds what changes the results and enters their hash;
`EngineConfig` holds what only changes how the work is spread: the engine, the Ray cluster,
the actor pool, segments, retries and timeouts. Neither enters the other. Both are built once,
by the CLI (`cli/run.py`), the Ray job entry point (`jobs/analyze.py`) or `emotion_batch.analyze`,
and travel as two values instead of long lists of positional settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emotion_batch.config import ConfigError

ENGINES = ("ray", "local")


@dataclass(frozen=True)
class EngineConfig:
    engine: str = "ray"  # ray | local
    address: str | None = None  # Ray cluster to join (None: RAY_ADDRESS, else an embedded Ray)
    actors: int | None = None  # most analysis actors (None: as many as fit)
    min_actors: int = 1  # fewest analysis actors the pool keeps
    cpus_per_actor: float | None = None  # None: 1 with GPUs, else min(4, CPUs of a node)
    gpus_per_actor: float = 1.0  # a fraction packs several actors on one GPU
    segment_s: float | None = None  # None: 300 s, or 60 s when there are fewer files than slots
    max_retries: int = 2  # retries of a unit whose actor died or which timed out
    unit_timeout_s: float = 3600.0  # seconds one unit may take
    resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources per actor
    actor_concurrency: int = 2  # units analysed at once per actor
    progress: bool = True  # the progress bar
    plan_tasks: int | None = None  # planning tasks at once (None: from the cluster's CPUs)
    plan_ahead: int = 256  # planned units not yet taken up by an actor, at most

    def __post_init__(self) -> None:
        object.__setattr__(self, "resources", {str(k): float(v) for k, v in dict(self.resources or {}).items()})
        if self.engine not in ENGINES:
            raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.segment_s is not None and self.segment_s < 1:
            raise ConfigError(f"--segment-s must be >= 1, got {self.segment_s}")
        if self.max_retries < 0:
            raise ConfigError(f"--max-retries must be >= 0, got {self.max_retries}")
        if self.actor_concurrency < 1:
            raise ConfigError(f"--actor-concurrency must be >= 1, got {self.actor_concurrency}")
        if self.min_actors < 1:
            raise ConfigError(f"--min-actors must be >= 1, got {self.min_actors}")
        if self.actors is not None and self.actors < 1:
            raise ConfigError(f"--actors must be >= 1, got {self.actors}")
        if self.actors is not None and self.min_actors > self.actors:
            raise ConfigError(f"--min-actors ({self.min_actors}) is more than --actors ({self.actors})")
        if not self.unit_timeout_s > 0:
            raise ConfigError(f"--unit-timeout must be > 0 s, got {self.unit_timeout_s}")
        if self.cpus_per_actor is not None and not self.cpus_per_actor > 0:
            raise ConfigError(f"--cpus-per-actor must be > 0, got {self.cpus_per_actor}")
        if self.gpus_per_actor < 0:
            raise ConfigError(f"--gpus-per-actor must be >= 0, got {self.gpus_per_actor}")
        if any(not v > 0 for v in self.resources.values()):
            raise ConfigError("--resources must map resource names to positive amounts")
        if self.plan_ahead < 1 or (self.plan_tasks is not None and self.plan_tasks < 1):
            raise ConfigError("plan_ahead and plan_tasks must be >= 1")


class ActorStartupError(RuntimeError):
    """An analysis actor could not start (a deterministic error: bad --device, missing weights;
    retrying will not help). Raised by the Ray engine; defined here so that callers need not
    import Ray to catch it."""

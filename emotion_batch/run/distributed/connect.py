"""Joining Ray (an existing cluster, or an embedded one on loopback) and starting the run's
ledger actor on the driver's node."""

from __future__ import annotations

import logging
import os

import ray

from emotion_batch.config import ConfigError
from emotion_batch.errors import first_line
from emotion_batch.run.distributed.ledger import Ledger

log = logging.getLogger(__name__)

LedgerActor = ray.remote(num_cpus=0, max_restarts=0)(Ledger)


def start_ledger(max_retries: int, unit_timeout_s: float):
    """The ledger actor, on this (the driver's) node: it lives and dies with the driver."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
    return LedgerActor.options(scheduling_strategy=here).remote(max_retries, unit_timeout_s)


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


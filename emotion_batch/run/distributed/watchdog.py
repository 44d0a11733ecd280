"""A unit (or a probe) that runs past `--unit-timeout` ends its worker process: a stuck decode
holds a C call that no Python exception can interrupt. Ray restarts the actor (or retries the
task) and the ledger decides whether the work runs again."""

from __future__ import annotations

import os
import socket
import sys
import threading

import ray


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


def expire(ledger, key: str, others: list[str], *, label: str, timeout_s: float) -> None:
    """Past the timeout: tell the ledger (`others`: the units that die with this worker), then
    end this worker process."""
    try:
        ray.get(ledger.timed_out.remote(key, others), timeout=30)
    except Exception:
        pass  # exit anyway: the ledger then counts it as a lost worker
    print(f"timed out after {timeout_s:g} s while {label}: ending this worker (pid {os.getpid()})",
          file=sys.stderr, flush=True)
    os._exit(1)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"

"""SIGINT and SIGTERM stop a run the same clean way: as an exception in the main thread.

Slurm, Kubernetes and KubeRay send SIGTERM before they stop a job; a user presses Ctrl-C
(SIGINT). While `interrupts()` lasts, either raises in the main thread: `KeyboardInterrupt`
for SIGINT, `Terminated` (a KeyboardInterrupt) for SIGTERM, so every `finally` of the run
runs (claims released, temporary files removed, the Ray pipeline and an embedded Ray shut
down) and the CLI exits 130 or 143. The next two signals while the run is already stopping
are written to the log and otherwise ignored, so that cleanup is not cut short (a fourth
interrupts again).

Two things took the signals away before:
* a process started in the background by a shell without job control inherits SIGINT
  ignored, and Python then installs no KeyboardInterrupt handler;
* `ray.init` sets its own SIGTERM handler (`sys.exit(15)`: an undocumented status) and Ray's
  core worker installs a C++ failure-signal handler that prints a stack dump for SIGTERM.
  `reinstall()`, called right after Ray is connected, puts ours back over both.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager

log = logging.getLogger(__name__)


class Terminated(KeyboardInterrupt):
    """The run received SIGTERM."""


_active = False
_received = 0  # signals received during this run
IGNORED_REPEATS = 2  # further signals while stopping that are ignored; the next one interrupts again


def _handler(signum, frame):
    global _received
    name = signal.Signals(signum).name
    _received += 1
    if 1 < _received <= 1 + IGNORED_REPEATS:
        log.warning("%s received again while the run is stopping: ignored, cleanup goes on", name)
        return
    log.warning("%s received: stopping the run", name)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _install() -> None:
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


@contextmanager
def interrupts():
    """SIGINT and SIGTERM interrupt the main thread for the length of the block (whatever
    this process inherited); the previous handlers come back afterwards."""
    global _active, _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    _active, _received = True, 0
    _install()
    try:
        yield
    finally:
        _active = False
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)


def reinstall() -> None:
    """Put the run's handlers back (after `ray.init` replaced SIGTERM's); a no-op outside
    `interrupts()` or off the main thread."""
    if _active and threading.current_thread() is threading.main_thread():
        _install()

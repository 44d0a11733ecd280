"""A Ray run from a terminal runs in a child process that this one watches.

When the Ray node of the driver dies (killed, OOM-killed, marked dead by the GCS after
missed heartbeats), Ray's C++ core worker ends the driver process itself ("Exiting because
the Raylet IPC connection failed and the local Raylet is dead", exit status 1): no Python
code runs, so there was no summary, no plain line and no release of claims. So `run
--engine ray` starts the same command again as a child (the environment marks it) and
waits for it. The child writes where its log is and the exit status it means to end with
to a small status file; a child that ends any other way was ended from outside, and this
process says so in one plain line with the log path, drops the claims its process left
(claims of processes that no longer exist on this host) and exits 2.

SIGINT and SIGTERM are passed on to the child, which stops cleanly and exits 130 or 143;
this process then exits with the same status, also when the signal reached Ray's processes
too (Slurm signals every process of a job) and the child could not finish its stop. Nothing of torch or Ray is imported here.
Only where the console is a real file (not under click's test runner, not a job
entrypoint calling `execute`) and only for the Ray engine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

import click

CHILD_ENV = "EMOTION_BATCH_SUPERVISED_STATUS"  # set in the child: its status file


def wanted(engine: str) -> bool:
    if engine != "ray" or os.environ.get(CHILD_ENV) or threading.current_thread() is not threading.main_thread():
        return False
    try:
        sys.stdout.fileno(), sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # click's test runner, captured output
        return False
    return True


def note(**fields) -> None:
    """In the child: record `log` (the run's log file) or `status` (the exit status it
    means to end with) for the watching parent."""
    path = os.environ.get(CHILD_ENV)
    if not path:
        return
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = {}
    data.update(fields)
    try:
        with open(path, "w") as f:
            json.dump(data, f)
    except OSError:
        pass


def _end_with_parent() -> None:
    """In the child before it starts (Linux): SIGTERM when this parent dies, even by SIGKILL,
    so a killed parent leaves no run behind (it stops cleanly, as for any SIGTERM)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_child(out: str, argv: list[str] = (), *, command: list[str] | None = None) -> int:
    """Run this command (`argv`: its arguments after the program's name, as main() was given
    them, which need not be sys.argv) again as a child, or `command`, and return the exit
    status to end with."""
    fd, status_path = tempfile.mkstemp(prefix="emotion-batch-status-", suffix=".json")
    os.close(fd)
    env = dict(os.environ, **{CHILD_ENV: status_path})
    cmd = command or [sys.executable, "-c", "from emotion_batch.cli import main; main(prog_name='emotion-batch')",
                      *argv]
    sys.stdout.flush()
    sys.stderr.flush()
    child = subprocess.Popen(cmd, env=env, preexec_fn=_end_with_parent)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    received: list[int] = []

    def forward(signum, frame):
        received.append(signum)
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    for s in previous:
        signal.signal(s, forward)
    try:
        rc = child.wait()
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    try:
        with open(status_path) as f:
            status = json.load(f)
    except (OSError, ValueError):
        status = {}
    finally:
        try:
            os.unlink(status_path)
        except OSError:
            pass
    if status.get("status") == rc:
        return rc
    return _ended_from_outside(rc, status.get("log"), out, received[0] if received else None)


def _ended_from_outside(rc: int, log_path: str | None, out: str, signum: int | None) -> int:
    """One line for a child that did not finish (and the log path); its claims dropped."""
    if signum is not None:  # stopped on purpose (Slurm signals every process, Ray's too)
        what = "Stopped by SIGTERM" if signum == signal.SIGTERM else "Interrupted"
        click.echo(f"{what}. Finished videos are kept; run the same command again to resume.", err=True)
    else:
        how = f"killed by {signal.Signals(-rc).name}" if rc < 0 else f"exit status {rc}"
        click.echo(f"Error: the run stopped: its process ended before it finished ({how}), most likely because "
                   "the Ray node it ran on was lost; finished videos are kept: run the same command again to "
                   "resume", err=True)
    if log_path:
        click.echo(f"details: {log_path}", err=True)
    _drop_abandoned_claims(out)
    return 2 if signum is None else 128 + signum


def _drop_abandoned_claims(out: str) -> None:
    try:
        from emotion_batch.run.storage.claims import Claims
        from emotion_batch.run.storage.store import ResultStore

        store = ResultStore(out)
        Claims(store.fs, store.root).release_abandoned()
    except Exception:  # best effort: the next run takes abandoned claims over anyway
        pass

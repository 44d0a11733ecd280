"""The watching parent of a Ray run: the child's own status passes through; a child ended
from outside is one line, the log path, its claims dropped and status 2 (or 128 + the
signal that stopped the run)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from emotion_batch.cli import supervise
from emotion_batch.run.storage.claims import claim_path
from emotion_batch.run.storage.store import ResultStore

CHILD = """
import os, sys
from emotion_batch.cli.supervise import note
note(log="/tmp/run.log")
mode = sys.argv[1]
if mode == "clean":
    note(status=1)
    sys.exit(1)
os._exit(1)  # what Ray's core worker does when the driver's raylet dies
"""


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def out(tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    store.fs.create_dir(f"{store.root}/claims", recursive=True)
    with open(claim_path(store.root, "vid1"), "w") as f:  # left by a driver that no longer exists
        json.dump({"host": socket.gethostname(), "pid": _dead_pid(), "run_id": "r", "started_at": time.time()}, f)
    return tmp_path / "res"


def test_the_childs_own_status_passes_through(out, capsys):
    assert supervise.run_child(str(out), command=[sys.executable, "-c", CHILD, "clean"]) == 1
    assert capsys.readouterr().err == ""


def test_a_child_ended_from_outside_is_one_line_and_the_log(out, capsys):
    assert supervise.run_child(str(out), command=[sys.executable, "-c", CHILD, "killed"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("Error: the run stopped: its process ended before it finished (exit status 1), "
                             "most likely because the Ray node it ran on was lost")
    assert err[1:] == ["details: /tmp/run.log"]
    assert list((out / "claims").iterdir()) == []


def test_a_stop_by_signal_keeps_its_status(out, capsys):
    assert supervise._ended_from_outside(1, None, str(out), signal.SIGTERM) == 143
    assert capsys.readouterr().err.startswith("Stopped by SIGTERM. Finished videos are kept")


def test_only_a_ray_run_on_a_real_console_is_watched(monkeypatch):
    import io

    monkeypatch.delenv(supervise.CHILD_ENV, raising=False)
    assert not supervise.wanted("local")
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # click's test runner, captured output
    assert not supervise.wanted("ray")


def test_the_child_ends_when_the_parent_is_killed(tmp_path):
    """SIGKILL of the watching parent (no chance to pass anything on) still stops the run."""
    import os

    import psutil

    flag = tmp_path / "child.pid"
    child_py = tmp_path / "child.py"
    child_py.write_text(f"import os, time\nopen({str(flag)!r}, 'w').write(str(os.getpid()))\ntime.sleep(300)\n")
    parent_code = ("import sys; from emotion_batch.cli import supervise; "
                   f"supervise.run_child({str(tmp_path)!r}, command=[sys.executable, {str(child_py)!r}])")
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    try:
        deadline = time.monotonic() + 60
        while not (flag.exists() and flag.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = psutil.Process(int(flag.read_text()))
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        child.wait(timeout=60)  # raises psutil.TimeoutExpired if it is still running
        assert not child.is_running()
    finally:
        if parent.poll() is None:
            parent.kill()

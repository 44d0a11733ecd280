"""SIGTERM (what Slurm, Kubernetes and KubeRay send before they stop a job) is an interrupt:
the same clean stop as Ctrl-C, with exit status 143, on both engines: claims released, no
temporary file left, no traceback or Ray stack dump on the console, and every process the run
started gone within seconds (polled, with a generous bound)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import psutil
import pytest

from ray_helpers import REPO, descendants, env_with, stop_pids, wait_for
from videogen import make_video

CONSOLE_NOISE = re.compile(r"Traceback|^\s+File \"|\*\*\* SIG|PC: @|@ +0x|Error\(|\[Errno", re.M)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    d = tmp_path_factory.mktemp("sigterm-in")
    make_video(d / "a_short.mp4", seconds=1.0, fps=5, size=(96, 72))
    for i in range(3):  # enough work left when the first video is written
        make_video(d / f"b_long{i}.mp4", seconds=12.0 + i, fps=10, size=(160, 120))
    return d


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["local", "ray"])
def test_sigterm_is_a_clean_stop(inbox, tmp_path, engine):
    out = tmp_path / "res"
    env = env_with(PYTHONPATH=str(REPO), HOME=str(tmp_path / "home"))
    cmd = [sys.executable, str(REPO / "cli.py"), "run", str(inbox), "--out", str(out), "--engine", engine,
           "--device", "cpu", "--explain", "none", "--fps", "2", "--no-progress"]
    if engine == "ray":
        cmd += ["--actors", "1", "--cpus-per-actor", "1"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    started: set[int] = set()
    try:
        wait_for(lambda: proc.poll() is not None or any((out / "videos").glob("*.parquet")), 300,
                 "the first video written")
        assert proc.poll() is None, proc.stdout.read().decode()
        started = descendants(proc.pid)
        procs = [psutil.Process(p) for p in started if psutil.pid_exists(p)]
        os.kill(proc.pid, signal.SIGTERM)
        text = proc.communicate(timeout=120)[0].decode()
        # every process the run started ends by itself (polled, not raced)
        deadline = time.monotonic() + 60
        while _alive(procs) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [(p.pid, p.name()) for p in _alive(procs)]
    finally:
        if proc.poll() is None:
            stop_pids([proc.pid])
        stop_pids(started | descendants(proc.pid))
    assert proc.returncode == 143, text
    assert "Stopped by SIGTERM. Finished videos are kept" in text, text
    assert not CONSOLE_NOISE.search(text), text
    assert not left, left
    assert os.listdir(out / "claims") == []
    assert [os.path.join(r, n) for r, _, names in os.walk(out) for n in names if n.endswith(".tmp")] == []
    written = list((out / "videos").glob("*.parquet"))
    assert 1 <= len(written) < 4

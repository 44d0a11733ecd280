"""Helpers shared by the Ray tests: loopback-only settings, free ports, test-made videos,
analysis hooks that stall, kill or fail a unit on purpose, and process bookkeeping (every
process a test starts is stopped by its id).

The hooks run inside Ray actors; the tests register this module to be pickled by value
(`ray.cloudpickle.register_pickle_by_value`), so workers need not import it.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Ray 2.60: RAY_AUTH_MODE is "disabled" or "token"; tests run on loopback without tokens.
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 stops Ray from rewriting 127.0.0.1 to the machine's
# network address, so everything binds and connects on loopback only.
RAY_TEST_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_videos(folder: Path) -> dict[str, Path]:
    """Small real videos (tests/videogen.py): a face with audio, one without a face, a
    7 s face video to cut into segments."""
    from videogen import make_video

    folder.mkdir(parents=True, exist_ok=True)
    v = {"face": folder / "face.mp4", "noface": folder / "noface.mp4", "long": folder / "long.mp4"}
    make_video(v["face"], seconds=3.0, fps=10)
    make_video(v["noface"], seconds=2.0, fps=10, face=False)
    make_video(v["long"], seconds=7.0, fps=10, audio=None)
    return v


def make_tiny_videos(folder: Path, n: int, seconds: float = 1.0) -> list[Path]:
    """`n` tiny face-less videos, each of different content (lengths differ by a frame)."""
    from videogen import make_video

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"tiny{i:03d}.mp4"
        make_video(p, seconds=seconds + 0.2 * i, fps=5, size=(64, 48), face=False, audio=None)
        out.append(p)
    return out


def wait_for(cond, timeout: float = 300.0, what: str = "condition") -> None:
    """Poll `cond` (an event the test observes, not a fixed sleep) until true."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


# ----------------------------------------------------------------------------- hooks


class Hooks:
    """Several hooks as one."""

    def __init__(self, *hooks):
        self.hooks = hooks

    def __call__(self, step, artifact=None, **kw):
        for h in self.hooks:
            h(step, artifact, **kw)


class Gate:
    """Each analysis, at its probe step, leaves a `started.*` file in `folder` and then
    waits until `folder/open` exists: the test decides when units may go on."""

    def __init__(self, folder: Path, limit_s: float = 300.0):
        self.folder, self.limit_s = str(folder), limit_s

    def open(self) -> None:
        Path(self.folder, "open").touch()

    def started(self) -> int:
        return len(list(Path(self.folder).glob("started.*")))

    def __call__(self, step, artifact=None, **kw):
        if step != "probe":
            return
        Path(self.folder, f"started.{os.getpid()}.{uuid.uuid4().hex[:6]}").touch()
        deadline = time.monotonic() + self.limit_s
        while not os.path.exists(os.path.join(self.folder, "open")) and time.monotonic() < deadline:
            time.sleep(0.05)


class KillOn:
    """SIGKILLs its own worker when it analyses a file whose name contains `name`."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, step, artifact=None, **kw):
        if step == "probe" and self.name in os.path.basename(artifact.path):
            os.kill(os.getpid(), signal.SIGKILL)


class StallOn:
    """Hangs (like a stuck decode) when it analyses a file whose name contains `name`."""

    def __init__(self, name: str, limit_s: float = 600.0):
        self.name, self.limit_s = name, limit_s

    def __call__(self, step, artifact=None, **kw):
        if step == "probe" and self.name in os.path.basename(artifact.path):
            time.sleep(self.limit_s)


class FailFrom:
    """Fails the analysis of any chunk of frames at or after `t` seconds."""

    def __init__(self, t: float):
        self.t = t

    def __call__(self, step, artifact=None, **kw):
        if step == "frames" and float(artifact.times[-1]) >= self.t:
            raise RuntimeError(f"injected failure at {self.t:g} s")


class FrameLog:
    """Records the time of the first frame of every decoded chunk (one file per chunk)."""

    def __init__(self, folder: Path):
        self.folder = str(folder)

    def __call__(self, step, artifact=None, **kw):
        if step == "frames":
            Path(self.folder, f"{float(artifact.times[0]):.3f}.{uuid.uuid4().hex[:6]}").touch()

    def times(self) -> list[float]:
        return sorted(float(p.name.rsplit(".", 1)[0]) for p in Path(self.folder).iterdir())


# ----------------------------------------------------------------------------- processes


def descendants(pid: int) -> set[int]:
    import psutil

    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def stop_pids(pids, timeout: float = 10.0) -> None:
    """Terminate, then kill, the given processes (by id) that are still alive."""
    import psutil

    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            pass
    for p in procs:
        try:
            p.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)


def env_with(**extra) -> dict:
    env = dict(os.environ, **RAY_TEST_ENV, **extra)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # this venv's python first
    return env

"""Helpers shared by the Ray tests: loopback-only settings, free ports, test-made videos,
and process bookkeeping (every process a test starts is stopped by its id)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
VIDEOS = REPO / "../shared/data/videos"

# Ray 2.60: RAY_AUTH_MODE is "disabled" or "token"; tests run on loopback without tokens.
# RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 stops Ray from rewriting 127.0.0.1 to the machine's
# network address, so everything binds and connects on loopback only.
RAY_TEST_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                "RAY_USAGE_STATS_ENABLED": "0"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_repeated_video(src: Path, dst: Path, repeats: int) -> Path:
    """Re-encode `src`'s frames `repeats` times back to back (H.264, no audio): a longer
    video with the same faces, made by the test."""
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate = stream.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in inp.decode(stream)]
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
        vs.pix_fmt = "yuv420p"
        vs.options = {"crf": "18", "preset": "ultrafast"}
        for _ in range(repeats):
            for arr in frames:
                for packet in vs.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")):
                    out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
    return dst


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
    env["PATH"] = f"{REPO / '.venv/bin'}{os.pathsep}{env.get('PATH', '')}"
    return env

"""`ray start --head` on loopback + `ray job submit` of jobs/analyze.py, end to end.

The head runs with `--block` in its own session so that every process it starts is
stopped by id afterwards (never `ray stop`, which would stop every Ray on the machine).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from ray_helpers import REPO, descendants, env_with, free_port, make_videos, stop_pids

from emotion_batch.run.storage.store import ResultStore

pytestmark = [pytest.mark.ray, pytest.mark.slow]

RAY = str(Path(sys.executable).with_name("ray"))


def _wait_for_dashboard(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ray start --head exited early"
        try:
            with urllib.request.urlopen(f"{url}/api/version", timeout=2) as r:
                if r.status == 200 and json.load(r).get("ray_version"):
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"dashboard at {url} did not come up")


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    dash = free_port()
    temp = tmp_path_factory.mktemp("r", numbered=True)  # short: Ray puts sockets under it
    cmd = [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(free_port()),
           "--include-dashboard", "true", "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash),
           "--dashboard-agent-listen-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
           "--runtime-env-agent-port", str(free_port()), "--metrics-export-port", str(free_port()),
           "--ray-client-server-port", str(free_port()), "--num-cpus", "2", "--disable-usage-stats",
           "--temp-dir", str(temp)]
    log = open(temp / "head.log", "wb")
    proc = subprocess.Popen(cmd, env=env_with(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started: set[int] = set()
    try:
        url = f"http://127.0.0.1:{dash}"
        _wait_for_dashboard(url, proc)
        started = descendants(proc.pid)
        yield url
    finally:
        started |= descendants(proc.pid)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        stop_pids(started | descendants(proc.pid))
        log.close()


def test_ray_job_submit_analyses_two_videos(head, tmp_path):
    out = tmp_path / "results"
    made = make_videos(tmp_path / "videos")
    videos = [str(made["face"]), str(made["noface"])]
    cmd = [RAY, "job", "submit", "--address", head, "--working-dir", str(REPO),
           "--runtime-env", str(REPO / "jobs/runtime_env.yaml"), "--",
           "python", "jobs/analyze.py", *videos, "--out", str(out),
           "--actors", "1", "--cpus-per-actor", "1", "--device", "cpu", "--explain", "none", "--fps", "2",
           "--unit-timeout", "600", "--no-progress"]
    r = subprocess.run(cmd, cwd=REPO, env=env_with(), capture_output=True, text=True, timeout=400)
    text = r.stdout + r.stderr
    assert r.returncode == 0, text
    assert "succeeded" in text.lower(), text
    assert "Analysed 2 videos" in text, text
    store = ResultStore(str(out))
    rows = [store.read("videos", v).to_pylist()[0] for v in store.video_ids()]
    assert sorted(r["path"] for r in rows) == sorted(videos)
    assert all(r["status"] == "ok" for r in rows)
    assert all(store.exists("timelines", r["video_id"]) for r in rows)

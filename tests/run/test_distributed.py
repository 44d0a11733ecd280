"""The Ray layer on a real two-node Ray cluster on loopback (one machine).

One cluster per module: a head with no CPUs and a worker node carrying the custom
resource `emotion_worker` that every actor requires, so actors can only run on the
worker. The cluster and every process the tests start are stopped afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pyarrow as pa
import pytest
from ray_helpers import REPO, RAY_TEST_ENV, VIDEOS, descendants, env_with, free_port, make_repeated_video, stop_pids

from emotion_batch.config import RunConfig
from emotion_batch.schemas import prob_columns
from emotion_batch.run.store import ResultStore

pytestmark = [pytest.mark.ray, pytest.mark.shared]

CONFIG = RunConfig(device="cpu", explain="none")
ON_WORKER = {"emotion_worker": 1}


@pytest.fixture(scope="module")
def cluster():
    saved = {k: os.environ.get(k) for k in RAY_TEST_ENV}
    os.environ.update(RAY_TEST_ENV)
    import ray
    import ray._private.ray_constants as rc
    from ray.cluster_utils import Cluster

    was_cluster = rc.ENABLE_RAY_CLUSTER
    rc.ENABLE_RAY_CLUSTER = False  # the env var above only counts before ray is imported
    c = Cluster(initialize_head=True, shutdown_at_exit=True, head_node_args=dict(
        num_cpus=0, node_ip_address="127.0.0.1", include_dashboard=False,
        dashboard_port=free_port(), dashboard_agent_listen_port=free_port()))
    try:
        worker = c.add_node(num_cpus=2, resources={"emotion_worker": 2}, node_ip_address="127.0.0.1")
        ray.init(address=c.address, logging_level="WARNING")
        yield c, worker
    finally:
        ray.shutdown()
        c.shutdown()
        rc.ENABLE_RAY_CLUSTER = was_cluster
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """single_face.mp4 three times over: 7.2 s, no audio."""
    return str(make_repeated_video(VIDEOS / "single_face.mp4", tmp_path_factory.mktemp("long") / "long.mp4", 3))


def worker_pids(worker_node) -> set[int]:
    raylet = worker_node.all_processes["raylet"][0].process.pid
    return descendants(raylet)


def run(paths, out, **kw):
    from emotion_batch.run.distributed import run_ray

    msgs: list[str] = []
    opts = dict(actors=2, cpus_per_actor=1, resources=ON_WORKER, progress=False, echo=msgs.append)
    opts.update(kw)
    summary = run_ray([str(p) for p in paths], str(out), opts.pop("config", CONFIG), **opts)
    return summary, msgs


def manifest(out) -> pa.Table:
    store = ResultStore(str(out))
    return pa.concat_tables([store.read("videos", v) for v in store.video_ids()])


def assert_no_duplicates(out) -> None:
    store = ResultStore(str(out))
    m = manifest(out)
    assert len(set(m["video_id"].to_pylist())) == m.num_rows
    for vid in store.video_ids("timelines"):
        t = store.read("timelines", vid)
        keys = list(zip(t["face_id"].to_pylist(), t["second"].to_pylist()))
        assert len(keys) == len(set(keys)), vid
        seconds = [s for f, s in keys]
        assert set(seconds) == set(range(min(seconds), max(seconds) + 1))  # every second, once or per face


@pytest.fixture(scope="module")
def first_run(cluster, long_video, tmp_path_factory):
    out = tmp_path_factory.mktemp("first") / "results"
    paths = [VIDEOS / "single_face.mp4", VIDEOS / "no_face.mp4", long_video]
    summary, msgs = run(paths, out)
    return out, summary, msgs, paths


def test_two_node_batch_runs_on_the_worker_node(cluster, first_run):
    _, worker = cluster
    out, summary, msgs, paths = first_run
    assert [r["status"] for r in summary.rows] == ["ok"] * 3, [r["error"] for r in summary.rows]
    m = manifest(out)
    assert sorted(m["path"].to_pylist()) == sorted(str(p) for p in paths)
    ready = [re.match(r"actor ready: pid (\d+) on \S+ \(node (\w+)\)", x) for x in msgs]
    node_of = {int(r[1]): r[2] for r in ready if r}
    assert len(node_of) == 2 and set(node_of.values()) == {worker.node_id[:12]}  # both on the worker node
    pids = {int(w.rsplit(":", 1)[1]) for w in m["worker"].to_pylist()}
    assert pids and pids <= set(node_of)  # every video was written by one of those actors
    assert set(m["device"].to_pylist()) == {"cpu"}
    assert any("2 actor(s) of 1 CPU, 1 emotion_worker" in x for x in msgs)
    assert_no_duplicates(out)
    assert summary.stage_totals()["detect"] > 0


def _rows_by_second(t: pa.Table) -> dict:
    t = t.sort_by([("second", "ascending"), ("face_id", "ascending")])
    return {s: [r for r in t.to_pylist() if r["second"] == s] for s in set(t["second"].to_pylist())}


def test_segment_split_equals_unsplit(cluster, first_run, long_video, tmp_path):
    out, *_ = first_run
    split_out = tmp_path / "split"
    summary, msgs = run([long_video], split_out, segment_s=2)
    assert [r["status"] for r in summary.rows] == ["ok"]
    assert any("4 unit(s)" in x for x in msgs)  # [0,2) [2,4) [4,6) [6,7.2)
    vid = summary.rows[0]["video_id"]
    whole = ResultStore(str(out)).read("timelines", vid)
    split = ResultStore(str(split_out)).read("timelines", vid)
    assert split.num_rows == whole.num_rows
    a, b = _rows_by_second(whole), _rows_by_second(split)
    assert sorted(a) == sorted(b) == list(range(8))
    cols = prob_columns("v") + prob_columns("p") + ["face_score", "box_x1", "box_y1", "box_x2", "box_y2"]
    for s in a:
        assert len(a[s]) == len(b[s]), s
        for ra, rb in zip(a[s], b[s]):
            assert ra["n_frames"] == rb["n_frames"]
            assert ra["face_id"] == rb["face_id"]  # stitched across boundaries, not offset
            for c in cols:
                if ra[c] is None:
                    assert rb[c] is None, (s, c)
                else:
                    assert rb[c] == pytest.approx(ra[c], rel=1e-3, abs=1e-3), (s, c)
    m = ResultStore(str(split_out)).read("videos", vid).to_pylist()[0]
    assert m["faces_found"] == summary.rows[0]["faces_found"] == len(set(split["face_id"].to_pylist()) - {-1})
    assert_no_duplicates(split_out)


def _actor_processes(worker_node) -> list:
    import psutil

    procs = []
    for pid in worker_pids(worker_node):
        try:
            title = " ".join(psutil.Process(pid).cmdline())
        except psutil.NoSuchProcess:
            continue
        if title.startswith("ray::AnalyzerActor"):
            procs.append((pid, title))
    return procs


@pytest.mark.slow
def test_killed_actor_work_is_retried(cluster, long_video, tmp_path):
    _, worker = cluster
    out = tmp_path / "results"
    paths = [long_video, VIDEOS / "face_noface.mov", VIDEOS / "single_face.mp4", VIDEOS / "no_face.mp4"]
    before = {pid for pid, _ in _actor_processes(worker)}
    result = {}
    t = threading.Thread(target=lambda: result.update(zip(("summary", "msgs"), run(paths, out, max_retries=2))))
    t.start()
    killed = None
    deadline = time.monotonic() + 120
    while t.is_alive() and time.monotonic() < deadline and killed is None:
        busy = [(pid, title) for pid, title in _actor_processes(worker) if pid not in before and "analyse" in title]
        if busy:
            killed = busy[0][0]
            os.kill(killed, signal.SIGKILL)  # like the OOM killer: no goodbye
        time.sleep(0.2)
    t.join(timeout=300)
    assert not t.is_alive()
    assert killed is not None, "no actor was seen analysing"
    summary, msgs = result["summary"], result["msgs"]
    assert [r["status"] for r in summary.rows] == ["ok"] * 4, [r["error"] for r in summary.rows]
    assert any("lost" in x for x in msgs) and any("retrying" in x for x in msgs), msgs
    pids = {int(w.rsplit(":", 1)[1]) for w in manifest(out)["worker"].to_pylist()}
    assert killed not in pids
    assert_no_duplicates(out)


def test_startup_error_stops_the_run(cluster, tmp_path):
    from emotion_batch.run.distributed import ActorStartupError

    with pytest.raises(ActorStartupError, match="CUDA"):
        run([VIDEOS / "single_face.mp4"], tmp_path / "r", config=RunConfig(device="cuda"), actors=1)
    assert ResultStore(str(tmp_path / "r")).video_ids() == []  # nothing recorded: not the videos' fault


def test_resume_redoes_only_unfinished_videos(cluster, first_run, tmp_path):
    out, first, _, paths = first_run
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    store = ResultStore(str(copy))
    by_path = {r["path"]: r for r in first.rows}
    lost = by_path[str(VIDEOS / "no_face.mp4")]
    store.fs.delete_file(store.path("videos", lost["video_id"]))  # interrupted before its manifest row
    summary, _ = run(paths, copy)
    assert summary.skipped == 2
    assert [r["video_id"] for r in summary.rows] == [lost["video_id"]]
    m = {r["video_id"]: r for r in manifest(copy).to_pylist()}
    assert len(m) == 3
    for r in first.rows:
        if r["video_id"] != lost["video_id"]:  # untouched: same row as the first run
            now = m[r["video_id"]]
            for k in ("started_at", "finished_at", "worker"):
                assert now[k] == r[k], k
    assert_no_duplicates(copy)


@pytest.mark.slow
def test_ctrl_c_then_cli_run_resumes(cluster, long_video, tmp_path):
    """`cli.py run` with its own embedded Ray is interrupted (SIGINT) after the first video
    is finished; `cli.py run` again, on the cluster, redoes only the others."""
    from click.testing import CliRunner

    from emotion_batch.cli.run import run as run_cmd

    inp = tmp_path / "in"
    inp.mkdir()
    for p in (long_video, VIDEOS / "single_face.mp4", VIDEOS / "no_face.mp4", VIDEOS / "face_noface.mov"):
        os.symlink(p, inp / os.path.basename(p))
    out = tmp_path / "results"
    # the embedded Ray keeps Ray's default, token auth: its token goes to a private HOME
    env = env_with(HOME=str(tmp_path / "home"))
    env.pop("RAY_AUTH_MODE")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "run", str(inp), "--out", str(out), "--actors", "1",
         "--cpus-per-actor", "1", "--device", "cpu", "--explain", "none", "--no-progress"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    started: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None and not list((out / "videos").glob("*.parquet")):
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read().decode()
        started = descendants(proc.pid)  # its embedded Ray; stopped by id below if left over
        os.kill(proc.pid, signal.SIGINT)
        text = proc.communicate(timeout=60)[0].decode()
    finally:
        if proc.poll() is None:
            stop_pids([proc.pid])
        stop_pids(started | descendants(proc.pid))
    assert proc.returncode != 0
    assert "interrupted" in text.lower(), text
    assert (tmp_path / "home/.ray/auth_token").is_file()
    first = {r["video_id"]: r for r in manifest(out).to_pylist()}
    assert 1 <= len(first) < 4
    res = CliRunner().invoke(run_cmd, [str(inp), "--out", str(out), "--actors", "2", "--cpus-per-actor", "1",
                                       "--resources", '{"emotion_worker": 1}', "--device", "cpu",
                                       "--explain", "none", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert f"{len(first)} already done" in res.output
    m = {r["video_id"]: r for r in manifest(out).to_pylist()}
    assert len(m) == 4 and all(r["status"] == "ok" for r in m.values())
    for vid, r in first.items():
        assert m[vid]["finished_at"] == r["finished_at"]
    assert_no_duplicates(out)

"""The Ray layer on a real multi-node Ray cluster on loopback (one machine).

One cluster per module: a head with no CPUs and a worker node carrying the custom
resource `emotion_worker`, which the actors of most tests require, so they run on the
worker. Tests that need nodes to join or leave add their own nodes with their own resource
and remove them afterwards. Videos are made by the tests (tests/videogen.py); hooks that
stall, kill or fail a unit on purpose come from tests/ray_helpers.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import gc

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import ray_helpers
from ray_helpers import (REPO, RAY_TEST_ENV, FailFrom, FrameLog, Gate, KillOn, StallOn, descendants, env_with,
                         free_port, make_tiny_videos, make_videos, stop_pids, wait_for)

from emotion_batch.config import RunConfig
from emotion_batch.run.discover import describe
from emotion_batch.run.storage.segments import plan_segments
from emotion_batch.run.storage.store import ResultStore
from emotion_batch.run.units import SegmentFiles
from emotion_batch.schemas import prob_columns

pytestmark = [pytest.mark.ray]

# Full face detection on every frame: a segment starts with its own tracker, so under the default
# keyframe policy (vision/keyframes.py) it re-detects frames the whole video only re-found, and
# the numbers of a split video differ a little from the unsplit one (0.05 px in a box here);
# the tests below compare the two for exact stitching.
CONFIG = RunConfig.from_flat(device="cpu", explain="none", fps=2.0, detect_interval_s=0.0)
ON_WORKER = {"emotion_worker": 1}
READY = re.compile(r"analysis worker ready on \S+ \([^;]+; pid (\d+), node (\w+)\)")


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
        ray.cloudpickle.register_pickle_by_value(ray_helpers)  # the hooks travel to the actors by value
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
def videos(tmp_path_factory):
    return make_videos(tmp_path_factory.mktemp("videos"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_videos(tmp_path_factory.mktemp("tiny"), 8)


def run(paths, out, **kw):
    """The run core on the Ray engine (then the collection step), as `run --engine ray` drives it."""
    from conftest import analyse_into

    msgs: list[str] = kw.pop("msgs", [])
    opts = dict(actors=2, cpus_per_actor=1, resources=ON_WORKER, echo=msgs.append)
    opts.update(kw)
    if "concurrency" in opts:
        opts["actor_concurrency"] = opts.pop("concurrency")
    summary = analyse_into(out, paths, opts.pop("config", CONFIG), engine="ray", **opts)
    return summary, msgs


def in_thread(paths, out, **kw):
    """run() in a thread; returns (thread, result dict, messages as they come)."""
    result, msgs = {}, []
    t = threading.Thread(target=lambda: result.update(zip(("summary", "msgs"), run(paths, out, msgs=msgs, **kw))))
    t.start()
    return t, result, msgs


def manifest(out) -> pa.Table:
    store = ResultStore(str(out))
    return pa.concat_tables([store.read("videos", v) for v in store.video_ids()])


def actors_by_node(msgs) -> dict[int, str]:
    return {int(m[1]): m[2] for m in map(READY.match, msgs) if m}


def writers(out) -> set[int]:
    return {int(w.rsplit(":", 1)[1]) for w in manifest(out)["worker"].to_pylist()}


def assert_no_duplicates(out, n_videos: int | None = None) -> None:
    store = ResultStore(str(out))
    m = manifest(out)
    assert len(set(m["video_id"].to_pylist())) == m.num_rows
    if n_videos is not None:
        assert m.num_rows == n_videos
    for vid in store.video_ids("timelines"):
        t = store.read("timelines", vid)
        keys = list(zip(t["face_id"].to_pylist(), t["second"].to_pylist()))
        assert len(keys) == len(set(keys)), vid
        seconds = [s for f, s in keys]
        assert set(seconds) == set(range(min(seconds), max(seconds) + 1))  # every second, once or per face


def statuses(summary) -> list[str]:
    return [r.status for r in summary.rows]


@pytest.fixture(scope="module")
def first_run(cluster, videos, tmp_path_factory):
    out = tmp_path_factory.mktemp("first") / "results"
    paths = [videos["face"], videos["noface"], videos["long"]]
    summary, msgs = run(paths, out, min_actors=2)
    return out, summary, msgs, paths


def test_two_node_batch_runs_on_the_worker_node(cluster, first_run):
    _, worker = cluster
    out, summary, msgs, paths = first_run
    assert statuses(summary) == ["ok"] * 3, [r.error for r in summary.rows]
    m = manifest(out)
    assert sorted(m["path"].to_pylist()) == sorted(str(p) for p in paths)
    node_of = actors_by_node(msgs)
    assert len(node_of) == 2 and set(node_of.values()) == {worker.node_id[:12]}  # both on the worker node
    assert writers(out) <= set(node_of)  # every video was written by one of those actors
    assert set(m["device"].to_pylist()) == {"cpu"}
    assert any("2 analysis workers (1 CPU, 1 emotion_worker each" in x for x in msgs)
    assert_no_duplicates(out, 3)
    assert summary.stage_totals()["detect"] > 0
    assert not list((out / "segments").glob("*/*.parquet"))
    # identity on Ray: units wrote their tracks, the driver's one step gave persons
    tracks = pa.concat_tables([pq.read_table(p) for p in (out / "tracks").glob("*.parquet")])
    embedded = [r for r in tracks.to_pylist() if r["n_crops"]]
    assert embedded and all(r["person_id"] is not None for r in embedded)
    assert (out / "persons" / "persons.parquet").is_file()
    assert sum(m.startswith("persons: ") for m in msgs) == 1


def _rows_by_second(t: pa.Table) -> dict:
    t = t.sort_by([("second", "ascending"), ("face_id", "ascending")])
    return {s: [r for r in t.to_pylist() if r["second"] == s] for s in set(t["second"].to_pylist())}


def assert_same_timeline(whole: pa.Table, split: pa.Table) -> None:
    """The same video analysed whole and in segments: same rows and face ids; the numbers
    agree within 1e-3 (the same code on the same frames, but decoding starts at another
    keyframe and batches differ)."""
    assert split.num_rows == whole.num_rows
    a, b = _rows_by_second(whole), _rows_by_second(split)
    assert sorted(a) == sorted(b) == list(range(7))
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


def test_segment_split_equals_unsplit(cluster, first_run, videos, tmp_path):
    out, *_ = first_run
    split_out = tmp_path / "split"
    summary, msgs = run([videos["long"]], split_out, segment_s=2)
    assert statuses(summary) == ["ok"]
    vid = summary.rows[0].video_id
    whole = ResultStore(str(out)).read("timelines", vid)
    split = ResultStore(str(split_out)).read("timelines", vid)
    assert_same_timeline(whole, split)
    m = ResultStore(str(split_out)).read("videos", vid).to_pylist()[0]
    assert m["faces_found"] == summary.rows[0].faces_found == len(set(split["face_id"].to_pylist()) - {-1})
    assert_no_duplicates(split_out, 1)
    assert not (split_out / "segments" / vid).exists()  # merged: the segment files are gone
    # identity: the segments' tracks are merged into the video's, one per face, with a person
    whole_t, split_t = (pq.read_table(o / "tracks" / f"{vid}.parquet").to_pylist() for o in (out, split_out))
    assert [r["face_id"] for r in split_t] == [r["face_id"] for r in whole_t]
    assert all(r["person_id"] is not None for r in split_t if r["n_crops"])
    spans = [[r[k] for r in t for k in ("t_first", "t_last")] for t in (split_t, whole_t)]
    assert spans[0] == pytest.approx(spans[1], abs=1e-6)


def test_resume_merges_the_segments_already_written(cluster, first_run, videos, tmp_path):
    """A run that ended with one segment unfinished (here it failed; a lost driver leaves
    the same files) is resumed: only that segment is analysed, and the video merged from
    the files equals the one analysed in one piece."""
    out0, *_ = first_run
    out = tmp_path / "results"
    s1, _ = run([videos["long"]], out, segment_s=2, hook=FailFrom(6.0))  # [0,2) [2,4) [4,6) ok, [6,7) fails
    assert statuses(s1) == ["failed"]
    assert s1.rows[0].error.startswith("segment 3 [6 s, end): unexpected error (RuntimeError: injected failure")
    vid = s1.rows[0].video_id
    store = ResultStore(str(out))
    files = SegmentFiles(store)
    # Which of [0,2) [2,4) [4,6) finished before [6,7) failed depends on the order the two
    # actors took them (a failed segment fails the video; units not begun are dropped).
    written = [files.exists(vid, i) for i in range(4)]
    assert not written[3] and any(written), written
    first_missing = min(i for i in range(4) if not written[i])
    store.fs.delete_file(store.path("videos", vid))  # as if the driver had been lost before it
    log = tmp_path / "frames"
    log.mkdir()
    s2, _ = run([videos["long"]], out, segment_s=2, hook=FrameLog(log))
    assert statuses(s2) == ["ok"]
    decoded = FrameLog(log).times()
    # only the missing segments were decoded: no frame from a segment already written
    assert all(not written[min(int(t // 2), 3)] for t in decoded), (written, decoded)
    assert min(decoded) >= 2.0 * first_missing
    assert_same_timeline(ResultStore(str(out0)).read("timelines", vid), store.read("timelines", vid))
    assert not files.exists(vid, 0)
    assert_no_duplicates(out, 1)


def test_startup_error_stops_the_run(cluster, videos, tmp_path):
    from emotion_batch.run.engine import ActorStartupError

    # --gpus-per-actor 0: a CPU actor that is told to use CUDA fails to start
    with pytest.raises(ActorStartupError, match="CUDA"):
        run([videos["face"]], tmp_path / "r", config=RunConfig(device="cuda"), gpus_per_actor=0, actors=1)
    assert ResultStore(str(tmp_path / "r")).video_ids() == []  # nothing recorded: not the videos' fault


def test_resume_redoes_only_unfinished_videos(cluster, first_run, tmp_path):
    import shutil

    out, first, _, paths = first_run
    copy = tmp_path / "results"
    shutil.copytree(out, copy)
    store = ResultStore(str(copy))
    lost = next(r for r in first.rows if r.path.endswith("noface.mp4"))
    store.fs.delete_file(store.path("videos", lost.video_id))  # interrupted before its manifest row
    summary, _ = run(paths, copy)
    assert summary.skipped == 2
    assert [r.video_id for r in summary.rows] == [lost.video_id]
    m = {r["video_id"]: r for r in manifest(copy).to_pylist()}
    assert len(m) == 3
    for r in first.rows:
        if r.video_id != lost.video_id:  # untouched: same row as the first run
            for k in ("started_at", "finished_at", "worker"):
                assert m[r.video_id][k] == getattr(r, k), k
    assert_no_duplicates(copy, 3)


def test_a_node_that_joins_mid_run_gets_work(cluster, tiny, tmp_path):
    """The pool starts with room for one actor; a node joins once the first unit is
    running and gets an actor and units (what the KubeRay autoscaler's new pods need)."""
    c, _ = cluster
    first = c.add_node(num_cpus=1, resources={"join_slot": 1}, node_ip_address="127.0.0.1")
    late = None
    gate = Gate(tmp_path / "gate")
    (tmp_path / "gate").mkdir()
    t, result, msgs = in_thread(tiny, tmp_path / "out", resources={"join_slot": 1}, actors=None, min_actors=1,
                                concurrency=1, hook=gate)
    try:
        wait_for(lambda: gate.started() >= 1, what="the first unit to start")
        late = c.add_node(num_cpus=1, resources={"join_slot": 1}, node_ip_address="127.0.0.1")
        wait_for(lambda: late.node_id[:12] in actors_by_node(msgs).values(), what="an actor on the new node")
        gate.open()
        t.join(timeout=300)
        assert not t.is_alive()
    finally:
        gate.open()
        t.join()
        for node in (first, late):
            if node is not None:
                c.remove_node(node)
    summary = result["summary"]
    assert statuses(summary) == ["ok"] * len(tiny) and summary.skipped == 0
    node_of = actors_by_node(msgs)
    on_late = {pid for pid, node in node_of.items() if node == late.node_id[:12]}
    assert writers(tmp_path / "out") & on_late  # the new node's actor analysed and wrote videos
    assert_no_duplicates(tmp_path / "out", len(tiny))


def test_a_node_lost_mid_run_loses_and_duplicates_nothing(cluster, tiny, tmp_path):
    """Two actors on two nodes, both holding units; one node is stopped. Its actor comes
    back on a replacement node (as a preempted pod is replaced) and its units are redone."""
    c, _ = cluster
    a = c.add_node(num_cpus=1, resources={"rm_slot": 1}, node_ip_address="127.0.0.1")
    b = c.add_node(num_cpus=1, resources={"rm_slot": 1}, node_ip_address="127.0.0.1")
    spare = None
    gate = Gate(tmp_path / "gate")
    (tmp_path / "gate").mkdir()
    t, result, msgs = in_thread(tiny, tmp_path / "out", resources={"rm_slot": 1}, actors=2, min_actors=2,
                                concurrency=1, hook=gate)
    try:
        wait_for(lambda: gate.started() >= 2 and b.node_id[:12] in actors_by_node(msgs).values(),
                 what="both actors holding a unit")
        c.remove_node(b, allow_graceful=False)
        spare = c.add_node(num_cpus=1, resources={"rm_slot": 1}, node_ip_address="127.0.0.1")
        gate.open()
        t.join(timeout=400)
        assert not t.is_alive()
    finally:
        gate.open()
        t.join()
        for node in (a, spare):
            if node is not None:
                c.remove_node(node)
    summary, msgs = result["summary"], result["msgs"]
    assert statuses(summary) == ["ok"] * len(tiny), [r.error for r in summary.rows]
    assert any("worker lost" in m for m in msgs), msgs
    assert_no_duplicates(tmp_path / "out", len(tiny))


def test_a_unit_past_the_timeout_is_retried_then_failed(cluster, tiny, tmp_path):
    summary, msgs = run([tiny[0]], tmp_path / "out", actors=1, unit_timeout_s=2, max_retries=1,
                        hook=StallOn(tiny[0].name))
    assert statuses(summary) == ["failed"]
    assert summary.rows[0].error.startswith("timed out after 2 s (2 attempts) while analysing ")
    assert sum(m.startswith("timed out after 2 s while analysing") for m in msgs) == 2
    assert len(actors_by_node(msgs)) >= 2  # the actor was restarted
    assert_no_duplicates(tmp_path / "out", 1)


def test_a_video_that_kills_its_actor_fails_and_the_run_goes_on(cluster, tiny, tmp_path):
    import shutil

    poison = tmp_path / "poison.mp4"
    shutil.copy(tiny[1], poison)
    paths = [poison, tiny[2], tiny[3]]
    summary, msgs = run(paths, tmp_path / "out", actors=1, concurrency=2, max_retries=0, hook=KillOn("poison"))
    by_path = {r.path: r for r in summary.rows}
    assert set(by_path) == {str(p) for p in paths}, msgs
    assert by_path[str(poison)].status == "failed"
    assert by_path[str(poison)].error == f"worker lost 1 time while analysing {poison}"
    assert [by_path[str(p)].status for p in paths[1:]] == ["ok", "ok"]
    assert_no_duplicates(tmp_path / "out", 3)


@pytest.mark.slow
def test_driver_memory_does_not_grow_with_the_number_of_units(cluster, tmp_path):
    """A few hundred one-second units: what the driver allocates during the run (Python
    heap, traced, at its peak) and the object references it holds afterwards do not grow
    with the number of units beyond Ray Data's own bookkeeping. The old driver kept every
    segment's result (tens to hundreds of KB each) until its video was merged."""
    import ray

    vids = make_tiny_videos(tmp_path / "v", 8, seconds=30.0)
    config = RunConfig.from_flat(device="cpu", explain="none", fps=1.0)
    run(vids[:1], tmp_path / "warm-up", config=config)  # one-time costs (imports, caches) out of the way
    growth, refs = {}, {}
    for n in (2, 8):
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        summary, _ = run(vids[:n], tmp_path / f"out{n}", config=config, segment_s=1)
        growth[n] = tracemalloc.get_traced_memory()[1] - base  # the peak during the run
        tracemalloc.stop()
        gc.collect()
        held = ray._private.worker.global_worker.core_worker.get_all_reference_counts()
        refs[n] = len(held)
        assert statuses(summary) == ["ok"] * n
    units = {n: sum(len(plan_segments(describe(str(p)).duration_s, 1)) for p in vids[:n]) for n in (2, 8)}
    assert units[8] - units[2] >= 180
    per_unit = (growth[8] - growth[2]) / (units[8] - units[2])
    # Measured here: ~3 KB per unit, all of it Ray Data's per-block statistics (BlockStats
    # with their exec stats, kept for ds.stats() until the execution ends); this code keeps
    # nothing per unit. A segment's result is 10 KB and more (300 KB for a 5-minute one).
    assert per_unit < 8192, (growth, units)
    assert refs[8] <= refs[2] + 10, refs


@pytest.mark.slow
def test_killed_actor_work_is_retried(cluster, videos, tmp_path):
    """An actor killed (like the OOM killer: SIGKILL) while it holds a unit: Ray restarts
    it, the unit is retried and written once, by the new process."""
    out = tmp_path / "results"
    paths = [videos["long"], videos["face"], videos["noface"]]
    gate = Gate(tmp_path / "gate")
    (tmp_path / "gate").mkdir()
    t, result, msgs = in_thread(paths, out, max_retries=2, actors=1, concurrency=1, hook=gate)
    killed = None
    try:
        wait_for(lambda: gate.started() >= 1 and actors_by_node(msgs), what="an actor holding a unit")
        killed = next(iter(actors_by_node(msgs)))
        os.kill(killed, signal.SIGKILL)
        gate.open()
    finally:
        gate.open()
        t.join(timeout=300)
    assert not t.is_alive()
    summary, msgs = result["summary"], result["msgs"]
    assert statuses(summary) == ["ok"] * 3, [r.error for r in summary.rows]
    assert any(m.startswith("worker lost while analysing") for m in msgs), msgs
    assert any(m.startswith("retrying: analysing") for m in msgs), msgs
    assert killed not in writers(out) and len(actors_by_node(msgs)) == 2
    assert_no_duplicates(out, 3)


def test_interrupt_stops_ray_data_before_returning(cluster, tiny, tmp_path, monkeypatch):
    """Ctrl-C landing in the driver's own code (between two rows, with Ray Data's iterator
    suspended) stops the pipeline before run_ray returns: none of Ray Data's threads is left
    in a Ray call, where shutting Ray down next would end the process with status 1."""
    from emotion_batch.run.distributed import driver as distributed
    from emotion_batch.run.distributed.pipeline import RAY_DATA_THREADS

    def interrupt(self, out):
        raise KeyboardInterrupt

    monkeypatch.setattr(distributed.Progress, "unit_done", interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(tiny, tmp_path / "results", actors=1)
    left = [t.name for t in threading.enumerate() if t.name.startswith(RAY_DATA_THREADS)]
    assert left == []


@pytest.mark.slow
def test_ctrl_c_then_cli_run_resumes(cluster, videos, tiny, tmp_path):
    """`cli.py run` with its own embedded Ray is interrupted (SIGINT) after the first video
    is finished; `cli.py run` again, on the cluster, redoes only the others. It starts with
    SIGINT ignored, as anything started in the background by a shell without job control
    does (a test run that way too): the run must stop all the same."""
    from click.testing import CliRunner

    from emotion_batch.cli.run import run as run_cmd

    inp = tmp_path / "in"
    inp.mkdir()
    # enough work that the run cannot finish between its first video and the signal, even on
    # a loaded machine
    for p in (videos["long"], videos["face"], videos["noface"], *tiny):
        os.symlink(p, inp / os.path.basename(p))
    out = tmp_path / "results"
    # the embedded Ray keeps Ray's default, token auth: its token goes to a private HOME
    env = env_with(HOME=str(tmp_path / "home"))
    env.pop("RAY_AUTH_MODE")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "cli.py"), "run", str(inp), "--out", str(out), "--actors", "1",
         "--cpus-per-actor", "1", "--device", "cpu", "--explain", "none", "--fps", "2", "--no-progress"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
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
    assert proc.returncode == 130, text
    assert "interrupted" in text.lower(), text
    assert (tmp_path / "home/.ray/auth_token").is_file()
    first = {r["video_id"]: r for r in manifest(out).to_pylist()}
    assert 1 <= len(first) < 3 + len(tiny)
    res = CliRunner().invoke(run_cmd, [str(inp), "--out", str(out), "--actors", "2", "--cpus-per-actor", "1",
                                       "--resources", '{"emotion_worker": 1}', "--device", "cpu",
                                       "--explain", "none", "--fps", "2", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert f"{len(first)} already done" in res.output
    m = {r["video_id"]: r for r in manifest(out).to_pylist()}
    assert len(m) == 3 + len(tiny) and all(r["status"] == "ok" for r in m.values())
    for vid, r in first.items():
        assert m[vid]["finished_at"] == r["finished_at"]
    assert_no_duplicates(out)

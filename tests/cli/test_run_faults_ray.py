"""The Ray engine through the CLI, as a user runs it (a subprocess with an embedded Ray):
one current manifest row per path after a file changed in place and another was renamed, a
FIFO among the inputs refused without blocking the batch, sound past the picture analysed,
a full disk mid-run stopping the run with one plain line and the log path, and the loss of
the driver's Ray node. No traceback on the console in any of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from ray_helpers import REPO, descendants, env_with, stop_pids
from videogen import make_video, tone

pytestmark = [pytest.mark.slow, pytest.mark.ray]

TECHNICAL = re.compile(r"Traceback|^\s+File \"|\[Errno|errno 28|Error\(|RayTaskError|\*\*\* SIG|"
                       r"streaming_executor|pyarrow", re.M)
FAULTS = REPO / "tests" / "fault_inject"


def _cli(inbox, out, tmp_path, **env):
    cmd = [sys.executable, str(REPO / "cli.py"), "run", str(inbox), "--out", str(out), "--actors", "1",
           "--cpus-per-actor", "1", "--device", "cpu", "--explain", "none", "--fps", "2", "--no-progress"]
    e = env_with(PYTHONPATH=f"{REPO}{os.pathsep}{FAULTS}", HOME=str(tmp_path / "home"), **env)
    proc = subprocess.Popen(cmd, cwd=REPO, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    started: set[int] = set()
    try:
        text = proc.communicate(timeout=400)[0].decode()
    finally:
        started = descendants(proc.pid)
        if proc.poll() is None:
            stop_pids([proc.pid])
        stop_pids(started)
    assert not TECHNICAL.search(text), text
    return proc.returncode, text


def _manifest(out):
    return pd.concat([pd.read_parquet(p) for p in (out / "videos").glob("*.parquet")])


def test_current_rows_fifo_and_full_disk_under_ray(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    make_video(src / "one.mp4", seconds=1.0, fps=5, size=(96, 72))
    make_video(src / "two.mp4", seconds=2.0, fps=5, size=(96, 72), face=False)
    make_video(src / "three.mp4", seconds=1.4, fps=5, size=(96, 72), face=False)
    inbox = tmp_path / "in"
    inbox.mkdir()
    shutil.copyfile(src / "one.mp4", inbox / "changed.mp4")
    shutil.copyfile(src / "three.mp4", inbox / "before.mp4")
    os.mkfifo(inbox / "pipe.mp4")  # nothing writes to it: opening it would block the run
    make_video(inbox / "tail.mp4", seconds=2.0, fps=5, size=(96, 72), audio=tone(4.2, 16000))
    out = tmp_path / "res"

    rc, text = _cli(inbox, out, tmp_path)
    assert rc == 1, text  # the FIFO failed, the rest analysed
    assert f"FAILED {inbox / 'pipe.mp4'}: not a regular file (a named pipe (FIFO))" in text
    first = _manifest(out).set_index("path")
    assert first.loc[str(inbox / "changed.mp4"), "status"] == "ok"
    renamed_id = first.loc[str(inbox / "before.mp4"), "video_id"]
    tail = first.loc[str(inbox / "tail.mp4")]  # sound past the picture: analysed, and said
    assert tail.duration_s == pytest.approx(4.2, abs=0.1) and "duration_s is the sound's" in tail.warning
    tl = pd.read_parquet(out / "timelines" / f"{tail.video_id}.parquet")
    assert sorted(set(tl.second)) == [0, 1, 2, 3, 4] and set(tl[tl.second >= 2].face_id) == {-1}

    shutil.copyfile(src / "two.mp4", inbox / "changed.mp4")  # changed in place
    os.rename(inbox / "before.mp4", inbox / "after.mp4")  # renamed
    rc, text = _cli(inbox, out, tmp_path)
    assert rc == 1, text
    m = _manifest(out)
    assert m.path.is_unique, m[["path", "video_id", "status"]]  # one current row per path
    m = m.set_index("path")
    assert sorted(m.index) == sorted(str(inbox / n) for n in ("changed.mp4", "after.mp4", "pipe.mp4", "tail.mp4"))
    assert m.loc[str(inbox / "after.mp4"), "video_id"] == renamed_id  # not analysed again
    assert m.loc[str(inbox / "changed.mp4"), "duration_s"] == pytest.approx(2.0, abs=0.1)
    timeline_ids = {p.stem for p in (out / "timelines").glob("*.parquet")}
    assert timeline_ids == set(m.loc[m.status == "ok", "video_id"])  # the old content's rows retired

    make_video(inbox / "new.mp4", seconds=1.0, fps=5, size=(80, 60), face=False)
    flag = tmp_path / "disk-full"
    flag.touch()
    rc, text = _cli(inbox, out, tmp_path, EMOTION_BATCH_TEST_DISK_FULL=str(flag))
    assert rc == 2, text
    errors = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    assert errors == [f"Error: cannot write results to {out}: no space left on the device; the run stopped "
                      "(results written so far are kept; fix this and run again to resume)"], text
    details = [ln.split("details: ", 1)[1] for ln in text.splitlines() if ln.startswith("details: ")]
    assert len(details) == 1 and "No space left" in open(details[0]).read()
    assert len(text.splitlines()) < 15, text
    assert os.listdir(out / "claims") == []


def test_losing_the_drivers_ray_node_is_one_line_and_the_log_path(tmp_path):
    """Ray's core worker ends the driver's process when its node's raylet dies: the watching
    parent (cli/supervise.py) says so in one line with the log path, drops the claims and
    exits 2. Ray's own lines about the lost raylet may still reach the console before it, but
    no worker's crash dump does."""
    import psutil

    from ray_helpers import wait_for

    inbox = tmp_path / "in"
    inbox.mkdir()
    for i in range(3):
        make_video(inbox / f"v{i}.mp4", seconds=8.0 + i, fps=10, size=(160, 120))
    out = tmp_path / "res"
    cmd = [sys.executable, str(REPO / "cli.py"), "run", str(inbox), "--out", str(out), "--actors", "1",
           "--cpus-per-actor", "1", "--device", "cpu", "--explain", "none", "--fps", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env_with(PYTHONPATH=str(REPO), HOME=str(tmp_path / "home")),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    started: set[int] = set()
    try:
        wait_for(lambda: proc.poll() is not None or any((out / "claims").glob("*.claim")), 300, "a claimed video")
        assert proc.poll() is None, proc.stdout.read().decode()
        wait_for(lambda: any(psutil.Process(p).name() == "raylet" for p in descendants(proc.pid)
                             if psutil.pid_exists(p)), 120, "the raylet")
        started = descendants(proc.pid)
        for p in started:
            if psutil.pid_exists(p) and psutil.Process(p).name() == "raylet":
                os.kill(p, 9)
        text = proc.communicate(timeout=300)[0].decode()
    finally:
        started |= descendants(proc.pid)
        if proc.poll() is None:
            stop_pids([proc.pid])
        stop_pids(started)
    assert proc.returncode == 2, text
    errors = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    # Ray's core worker ends the driver (the watching parent says so), or the driver sees Ray
    # gone first and stops by itself: one plain line either way
    assert len(errors) == 1 and errors[0].startswith(("Error: the run stopped: its process ended before it finished",
                                                      "Error: the run stopped: Ray was lost")), text
    assert "StackTrace" not in text and "core_worker.cc" not in text, text  # workers' dumps stay in Ray's logs
    log = [ln.split("details: ", 1)[1] for ln in text.splitlines() if ln.startswith("details: ")]
    assert len(log) == 1 and os.path.isfile(log[0]), text
    assert os.listdir(out / "claims") == []

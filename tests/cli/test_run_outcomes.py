"""`run`: exit codes, output problems, duplicates, claims of another run, plain reasons + log.

All with the local engine (one process): what is tested here is the same for Ray, which
shares decide(), record() and the CLI; test_run_cli.py covers the Ray path end to end.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

from emotion_batch.cli import main
from emotion_batch.media import fingerprint
from emotion_batch.run.storage import output
from videogen import make_video

TECHNICAL = re.compile(r"\[Errno|\.cc:\d+|Check failed|/github/")


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    d = tmp_path_factory.mktemp("inbox")
    make_video(d / "good.mp4", seconds=1.0, faststart=True)
    shutil.copyfile(d / "good.mp4", d / "good_copy.mp4")
    make_video(d / "other.mp4", seconds=1.0, face=False)
    (d / "notes.mkv").write_text("this is not a video\n" * 20)
    for name, seconds in (("truncated.mp4", 6.0), ("cut.mp4", 3.0)):  # index promises more than the data
        long = d.parent / f"{d.name}-long.mp4"  # outside the inbox
        make_video(long, seconds=seconds, faststart=True)
        data = long.read_bytes()
        (d / name).write_bytes(data[: len(data) // 2])
        long.unlink()
    return d


def _run(*args):
    return CliRunner().invoke(main, ["run", *map(str, args), "--engine", "local", "--no-progress"])


def _manifest(out):
    return pd.concat([pd.read_parquet(p) for p in (out / "videos").glob("*.parquet")]).set_index("path")


def _tree(root):
    return sorted((p, n, os.path.getsize(os.path.join(p, n))) for p, _, names in os.walk(root) for n in names)


def test_help_documents_exit_codes():
    r = CliRunner().invoke(main, ["run", "--help"])
    assert r.exit_code == 0
    for code, words in (("0", "every video"), ("1", "some videos failed"), ("2", "could not proceed"),
                        ("130", "interrupted"), ("143", "SIGTERM")):
        assert re.search(rf"^\s+{code}\s+.*{words}", r.output, re.M), (code, r.output)


def test_out_is_a_file_is_one_line_and_exit_2(inbox, tmp_path):
    f = tmp_path / "results"
    f.write_text("not a folder")
    r = _run(inbox / "good.mp4", "--out", f)
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [f"Error: --out {f} is a file, not a folder: give a folder for the results"]
    assert f.read_text() == "not a folder"


def test_unwritable_out_stops_before_any_analysis(inbox, tmp_path, monkeypatch):
    out = tmp_path / "res"
    assert _run(inbox / "good.mp4", "--out", out).exit_code == 0
    before = _tree(out)
    real_open = os.open

    def read_only(path, flags, *a):
        if ".write-test-" in str(path):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(output.os, "open", read_only)
    monkeypatch.setattr("emotion_batch.pipeline.VideoAnalyzer", None)  # any analysis would crash
    r = _run(inbox / "other.mp4", "--out", out)
    assert r.exit_code == 2
    assert r.output.strip().splitlines() == [f"Error: cannot write results to {out}: the file system is "
                                             "read-only; choose another --out"]
    assert _tree(out) == before  # existing results untouched


def test_disk_full_midway_stops_the_run_with_one_line(inbox, tmp_path, monkeypatch):
    from emotion_batch.pipeline import VideoAnalyzer
    from emotion_batch.run.storage.store import ResultStore

    analysed = []
    real_call, real_write = VideoAnalyzer.__call__, ResultStore.write

    def counting(self, path, *a, **kw):
        analysed.append(path)
        return real_call(self, path, *a, **kw)

    def full_disk(self, table, video_id, data, model_version):
        if table == "timelines":
            raise OSError(f"Failed to open local file '{self.root}/timelines/.x.tmp'. Detail: [errno 28] "
                          "No space left on device")
        return real_write(self, table, video_id, data, model_version)

    monkeypatch.setattr(VideoAnalyzer, "__call__", counting)
    monkeypatch.setattr(ResultStore, "write", full_disk)
    out = tmp_path / "res"
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("good.mp4", "other.mp4"):
        shutil.copyfile(inbox / name, folder / name)
    r = _run(folder, "--out", out)
    assert r.exit_code == 2, r.output
    assert len(analysed) == 1  # stopped at the first failed write, not one error per video
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert errors == [f"Error: cannot write results to {out}: no space left on the device; the run stopped "
                      "(results written so far are kept; fix this and run again to resume)"]
    assert "internal error" not in r.output and "Analysed" not in r.output
    assert os.listdir(out / "claims") == []  # released
    log_path = next((out / "logs").glob("run-*.log"))
    assert f"details: {log_path}" in r.output.splitlines()  # and where the details are
    assert "Traceback" not in r.output
    log = log_path.read_text()
    assert "errno 28" in log  # the technical detail is in the log


def test_duplicates_plain_reasons_and_the_log(inbox, tmp_path):
    out = tmp_path / "res"
    r = _run(inbox, "--out", out)
    assert r.exit_code == 1, r.output  # some videos failed
    m = _manifest(out)
    status = {os.path.basename(p): s for p, s in m["status"].items()}
    # recordings cut short are analysed up to where their data ends, with a warning
    assert status == {"good.mp4": "ok", "good_copy.mp4": "duplicate", "other.mp4": "ok",
                      "notes.mkv": "failed", "truncated.mp4": "ok", "cut.mp4": "ok"}
    for name in ("truncated.mp4", "cut.mp4"):
        assert m.loc[str(inbox / name), "warning"].startswith("truncated: video data ends at")
    dup = m.loc[str(inbox / "good_copy.mp4")]
    assert dup["duplicate_of"] == str(inbox / "good.mp4") and dup["video_id"].startswith("dup-")
    assert m.loc[str(inbox / "good.mp4"), "video_id"] == fingerprint(str(inbox / "good.mp4"))
    failed = m[m.status == "failed"]
    for _, row in failed.iterrows():
        assert not any(TECHNICAL.search(str(v)) for v in row.values), row.to_dict()
    assert not TECHNICAL.search(r.output)
    assert "notes.mkv: not a readable media file: FFmpeg finds no audio or video it can read in it" in r.output
    assert "duplicate" in r.output and "same content as" in r.output
    log_line = [ln for ln in r.output.splitlines() if ln.startswith("details: ")]
    assert len(log_line) == 1
    log = open(log_line[0][len("details: "):]).read()
    assert "1094995529" in log  # FFmpeg's own message, for whoever debugs it
    assert "truncated.mp4" in log and "cut.mp4" in log
    # a rerun redoes nothing and rewrites the duplicate's row in place
    r2 = _run(inbox, "--out", out)
    assert "Analysed 0 videos" in r2.output and "4 already done" in r2.output
    assert len(list((out / "videos").glob("*.parquet"))) == 6


def test_second_run_leaves_videos_a_live_run_holds(inbox, tmp_path):
    out = tmp_path / "res"
    good = inbox / "good.mp4"
    vid = fingerprint(str(good))
    (out / "claims").mkdir(parents=True)
    first = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])  # the "first run"
    try:
        claim = out / "claims" / f"{vid}.claim"
        claim.write_text(json.dumps({"host": socket.gethostname(), "pid": first.pid, "run_id": "first",
                                     "started_at": time.time()}))
        r = _run(good, "--out", out)
        assert r.exit_code == 0, r.output
        assert f"skipped {good}: another run is analysing it (pid {first.pid}" in r.output
        assert "1 left to another run" in r.output
        assert not list((out / "videos").glob("*.parquet")) and claim.is_file()
    finally:
        first.kill()
        first.wait()
    r = _run(good, "--out", out)  # the first run died: its claim is abandoned
    assert r.exit_code == 0 and "Analysed 1 video," in r.output
    assert os.listdir(out / "claims") == []

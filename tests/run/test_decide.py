"""decide(): duplicates get their own rows, finished videos are skipped, claimed ones left alone."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

from emotion_batch.run.record import manifest_row
from emotion_batch.config import RunConfig
from emotion_batch.pipeline import VideoResult
from emotion_batch.run.context import RunContext
from plan_helpers import plan
from emotion_batch.run.decide import dup_id, nothing_to_do
from emotion_batch.run.record import record, record_known
from emotion_batch.run.storage.claims import claim_path
from emotion_batch.run.storage.store import ResultStore
from videogen import make_video

CONFIG = RunConfig(device="cpu")
MODEL = "m1"


def _ctx(store, force=False):
    return RunContext(store, CONFIG, MODEL, CONFIG.config_hash(), force, "cpu")


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    make_video(d / "a.mp4", seconds=1.0)
    shutil.copyfile(d / "a.mp4", d / "b.mp4")  # same bytes, another name
    make_video(d / "c.mp4", seconds=2.0, face=False)
    return {k: str(d / f"{k}.mp4") for k in "abc"}


def _finish(store, item):
    """Write an `ok` manifest row for a planned item, as a finished analysis would."""
    res = VideoResult(item.video_id, item.path, "ok", None, item.info)
    row = manifest_row(res, item=item, ctx=_ctx(store), started_at="t0")
    store.write("videos", item.video_id, row.to_arrow(), MODEL)


def test_duplicate_in_one_run_is_analysed_once_and_gets_its_own_row(videos, tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    p = plan(sorted(videos.values()), store)
    assert [it.path for it in p.todo] == [videos["c"], videos["a"]]  # longest first
    assert [(it.path, it.duplicate_of) for it in p.duplicates] == [(videos["b"], videos["a"])]
    assert p.claims.held == {it.video_id for it in p.todo}
    rows = record_known(_ctx(store), p.duplicates)
    assert rows[0].status == "duplicate" and rows[0].duplicate_of == videos["a"]
    assert rows[0].video_id == dup_id(videos["b"]) != p.todo[1].video_id
    m = pq.read_table(tmp_path / "res" / "videos" / f"{dup_id(videos['b'])}.parquet").to_pylist()[0]
    assert (m["status"], m["path"], m["duplicate_of"], m["error"]) == ("duplicate", videos["b"], videos["a"], None)
    p.claims.release_all()
    assert os.listdir(tmp_path / "res" / "claims") == []


def test_duplicate_of_a_video_finished_by_an_earlier_run(videos, tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    first = plan([videos["a"]], store)
    _finish(store, first.todo[0])
    first.claims.release_all()
    p = plan([videos["b"]], store)
    assert not p.todo and [it.duplicate_of for it in p.duplicates] == [videos["a"]]
    # both paths given, the one holding the results comes later in the order: still the owner
    again = plan([videos["b"], videos["a"]], store)
    assert [it.path for it in again.skipped] == [videos["a"]]
    assert [(it.path, it.duplicate_of) for it in again.duplicates] == [(videos["b"], videos["a"])]
    assert plan([videos["b"]], store, force=True).todo[0].path == videos["b"]  # --force redoes


def test_moved_file_is_already_done_not_a_duplicate(videos, tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    moved = tmp_path / "moved.mp4"
    shutil.copyfile(videos["a"], moved)
    first = plan([str(moved)], store)
    _finish(store, first.todo[0])
    first.claims.release_all()
    moved.unlink()  # the analysed file is gone: the same content elsewhere is simply done
    p = plan([videos["b"]], store)
    assert [it.path for it in p.skipped] == [videos["b"]] and not p.duplicates


def test_analysed_path_loses_its_old_duplicate_row(videos, tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    p = plan([videos["a"], videos["b"]], store)
    record_known(_ctx(store), p.duplicates)
    assert store.exists("videos", dup_id(videos["b"]))
    item = p.duplicates[0]  # b now holds content of its own: its analysis replaces the duplicate row
    res = VideoResult("other-content", item.path, "failed", "no faces, say")
    record(_ctx(store), res, item, started_at="t0")
    assert not store.exists("videos", dup_id(videos["b"])) and store.exists("videos", "other-content")


def test_video_claimed_by_a_live_other_run_is_left_to_it(videos, tmp_path):
    store = ResultStore(str(tmp_path / "res"))
    vid = plan([videos["a"]], store, claim=False).todo[0].video_id
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        path = claim_path(store.root, vid)
        with open(path, "w") as f:
            json.dump({"host": socket.gethostname(), "pid": proc.pid, "run_id": "x", "started_at": time.time()}, f)
        for claim in (True, False):
            p = plan([videos["a"], videos["c"]], store, force=True, claim=claim)
            assert [it.path for it in p.todo] == [videos["c"]]
            assert [(it.path, c.pid) for it, c in p.busy] == [(videos["a"], proc.pid)]
            p.claims.release_all()
    finally:
        proc.kill()
        proc.wait()
    p = plan([videos["a"]], store)  # its run is gone: taken over
    assert [it.path for it in p.todo] == [videos["a"]] and not p.busy


def _done(store, path, *, status="ok", model="m1", chash="c1", row_path=None, row_id=None):
    import pyarrow as pa

    from emotion_batch.media import fingerprint
    from emotion_batch.fs import write_atomic

    vid = row_id or fingerprint(str(path))
    row = pa.table({"video_id": [vid], "status": [status], "model_version": [model], "config_hash": [chash],
                    "path": [str(row_path or path)]})
    write_atomic(store.fs, store.path("videos", vid), row)


def test_nothing_to_do_only_when_every_input_is_finished_with_this_model_and_settings(tmp_path):

    a, b, copy = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "copy_of_a.mp4"
    a.write_bytes(b"first video")
    b.write_bytes(b"second video")
    copy.write_bytes(b"first video")
    store = ResultStore(str(tmp_path / "results"))
    def check(paths, config_hash="c1", model_version="m1", force=False):
        ctx = RunContext(store, CONFIG, model_version, config_hash, force)
        return nothing_to_do([str(p) for p in paths], ctx)

    assert not check([a])  # never analysed
    _done(store, a)
    assert check([a]) and not check([a], force=True) and not check([])
    assert not check([a], model_version="m2") and not check([a], config_hash="c2")
    assert not check([a, b])  # b is not done
    _done(store, b, status="failed")
    assert not check([a, b])  # failed files are tried again
    _done(store, b)
    assert check([a, b])
    assert not check([a, b, copy])  # the copy has no duplicate row yet: the engine writes it
    _done(store, copy, status="duplicate", row_id=dup_id(str(copy)))
    assert check([a, b, copy])
    assert not check([a, tmp_path / "gone.mp4"])  # unreadable: the engine reports it


def test_nothing_to_do_hashes_nothing_when_an_input_has_no_manifest_row(tmp_path, monkeypatch):
    """Resuming a batch with new files: a path no manifest row names is work, found from the
    manifest's paths alone; the finished files are not hashed here (the planner hashes them)."""
    import emotion_batch.media


    done, new = tmp_path / "done.mp4", tmp_path / "new.mp4"
    done.write_bytes(b"finished video")
    new.write_bytes(b"new video")
    store = ResultStore(str(tmp_path / "results"))
    _done(store, done)
    hashed = []
    monkeypatch.setattr(emotion_batch.media, "fingerprint", lambda p: hashed.append(p) or "x")
    assert not nothing_to_do([str(done), str(new)], RunContext(store, CONFIG, "m1", "c1"))
    assert hashed == []

"""Per-video claims: taken atomically, respected while their run lives, taken over after."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest

from emotion_batch.run.storage.claims import Claims, claim_path, drop_claim
from emotion_batch.run.storage.store import ResultStore


@pytest.fixture
def store(tmp_path):
    return ResultStore(str(tmp_path / "res"))


@pytest.fixture
def live_pid():
    """A live process other than this one (a claim of 'another run' on this host)."""
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield proc.pid
    proc.kill()
    proc.wait()


def _write_claim(store, vid, host, pid, started_at, run_id="other-run"):
    path = claim_path(store.root, vid)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"host": host, "pid": pid, "run_id": run_id, "started_at": started_at}, f)


def test_take_release_and_our_own_claim(store):
    c = Claims(store.fs, store.root)
    assert c.take("v1") is None and c.take("v1") is None  # ours, twice
    assert os.path.isfile(claim_path(store.root, "v1"))
    rec = json.load(open(claim_path(store.root, "v1")))
    assert rec["pid"] == os.getpid() and rec["host"] == socket.gethostname() and rec["run_id"] == c.me.run_id
    other = Claims(store.fs, store.root)  # a second run in this (live) process
    held = other.take("v1")
    assert held is not None and held.run_id == c.me.run_id and other.holder("v1") is not None
    c.release("v1")
    assert not os.path.exists(claim_path(store.root, "v1"))
    assert other.take("v1") is None
    assert [n for n in os.listdir(os.path.join(store.root, "claims")) if n.startswith(".")] == []  # no temps


def test_live_process_on_this_host_holds_its_claim(store, live_pid):
    _write_claim(store, "v1", socket.gethostname(), live_pid, time.time())
    c = Claims(store.fs, store.root)
    held = c.take("v1")
    assert held is not None and held.pid == live_pid
    assert c.live_ids() == {"v1"}
    assert json.load(open(claim_path(store.root, "v1")))["pid"] == live_pid  # untouched


def test_dead_process_claim_is_taken_over(store):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a pid that no longer runs
    _write_claim(store, "v1", socket.gethostname(), proc.pid, time.time())
    c = Claims(store.fs, store.root)
    assert c.live_ids() == set()
    assert c.take("v1") is None
    assert json.load(open(claim_path(store.root, "v1")))["run_id"] == c.me.run_id


def test_reused_pid_does_not_keep_an_old_claim(store, live_pid):
    # the claim predates the process that now has its pid: that process is not the claimant
    _write_claim(store, "v1", socket.gethostname(), live_pid, time.time() - 3600)
    assert Claims(store.fs, store.root).take("v1") is None


def test_other_host_claim_is_live_until_stale(store):
    _write_claim(store, "fresh", "some-other-host", 4242, time.time() - 60)
    _write_claim(store, "old", "some-other-host", 4242, time.time() - 2 * 24 * 3600)
    c = Claims(store.fs, store.root, stale_after_s=24 * 3600)
    assert c.take("fresh") is not None
    assert c.take("old") is None


def test_unparsable_claim_is_live_briefly(store):
    path = claim_path(store.root, "v1")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "w").close()  # being written by another run right now
    c = Claims(store.fs, store.root)
    assert c.take("v1") is not None
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert c.take("v1") is None


def test_release_leaves_a_claim_another_run_took_since(store):
    c = Claims(store.fs, store.root)
    c.take("v1")
    drop_claim(store.fs, store.root, "v1")  # the manifest row was written
    _write_claim(store, "v1", socket.gethostname(), os.getpid(), time.time(), run_id="second-run")
    c.release_all()
    assert json.load(open(claim_path(store.root, "v1")))["run_id"] == "second-run"


def test_best_effort_claims_on_a_uri_root(tmp_path):
    store = ResultStore(f"file://{tmp_path}")
    c = Claims(store.fs, store.root)
    c.local = False  # the check-then-write path used for s3://, gs://
    assert c.take("v") is None and Claims(store.fs, store.root).take("v") is not None
    c.release_all()
    assert not (tmp_path / "claims" / "v.claim").exists()

"""The driver's side of a distributed run: progress from the pipeline and the ledger (see driver.py)."""

from __future__ import annotations

import pickle
import threading
import time

import ray
from tqdm import tqdm

from emotion_batch.run.console.bar import set_progress, status_text
from emotion_batch.run.record import BatchSummary
from emotion_batch.run.storage.manifest import ManifestRow


class Progress:
    """The driver's view: one row per finished unit from the pipeline, and the ledger's
    planning tallies and messages, polled in a thread. Each poll tells the ledger which
    videos' rows arrived; `settle` gives every planned video that got none its row.
    The bar (run/console/bar.py) counts the `n_paths` files: those settled, plus the done
    fraction of each video whose segments are coming in."""

    def __init__(self, ledger, bar: tqdm, summary: BatchSummary, *, n_paths: int, echo, every_s: float = 0.5):
        self.ledger, self.bar, self.summary, self.n_paths = ledger, bar, summary, n_paths
        self.echo, self.every_s = echo, every_s
        self.lock = threading.Lock()
        self.videos = self.busy = self.retries = self.planned_paths = self.early = 0
        self.t0 = time.perf_counter()
        self.analysed_s = 0.0
        self.partial: dict[str, float] = {}  # video id -> fraction done, until its row arrives
        self._delivered: list[str] = []  # video ids whose rows arrived, not yet told to the ledger
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="progress")

    def _say(self, msg: str) -> None:
        with tqdm.external_write_mode():
            self.echo(msg)

    def _record(self, row: ManifestRow) -> None:
        self.summary.note(row, self._say)

    def unit_done(self, out: dict) -> None:
        with self.lock:
            self.analysed_s += out["seconds"] or 0.0
            if out["manifest"] is not None:
                self.partial.pop(out["video_id"], None)
                self._record(pickle.loads(out["manifest"]))
                self._delivered.append(out["video_id"])
            elif out.get("duration"):
                vid = out["video_id"]
                self.partial[vid] = min(0.99, self.partial.get(vid, 0.0) + out["seconds"] / out["duration"])
            self._postfix()

    def poll(self) -> None:
        with self.lock:
            delivered = list(self._delivered)
        snap = ray.get(self.ledger.snapshot.remote(delivered), timeout=60)
        with self.lock:
            del self._delivered[:len(delivered)]  # told; on a failed poll they go with the next one
            t = snap["tallies"]
            self.videos, self.planned_paths = t.videos, t.planned_paths
            self.busy, self.retries, self.summary.skipped = snap["busy_actors"], snap["retries"], t.skipped
            self.summary.busy = t.busy
            for msg in snap["messages"]:
                self._say(msg)
            for row in snap["rows"]:  # files that failed before analysis
                self.early += 1
                self._record(row)
            self._postfix()

    def settle(self, settle_one) -> None:
        """After the pipeline (and the last poll): the videos whose rows never arrived (their
        worker was lost after writing, or their result never came back) get one each from
        `settle_one(awaited)`: (the row on storage, True), else (a failed row, False)."""
        for awaited in ray.get(self.ledger.undelivered.remote(), timeout=60):
            row, stored = settle_one(awaited)
            if stored:
                self._say(f"{awaited.path}: its worker was lost before its result came back; "
                          "the result it had written counts")
            with self.lock:
                self._record(row)
                self._postfix()

    def _postfix(self) -> None:
        s = self.summary
        settled = s.n_ok + len(s.failed) + len(s.duplicates) + s.skipped + s.busy
        text = status_text(analysed_s=self.analysed_s, elapsed_s=time.perf_counter() - self.t0,
                           failed=len(s.failed), done_before=s.skipped, busy_workers=self.busy,
                           checked=self.planned_paths, n_files=self.n_paths)
        set_progress(self.bar, settled + sum(self.partial.values()), text)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.poll()
            except Exception:  # a slow poll is skipped; the last one at the end counts
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if exc[0] is None:
            self.poll()

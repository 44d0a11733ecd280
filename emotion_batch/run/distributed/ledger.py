"""The run's ledger: the little shared state a distributed run needs (no Ray here).

One `Ledger` lives in a small actor on the driver's node (`connect.LedgerActor`); the
planning tasks and the analysis actors call it, the driver polls it for progress. It holds
only what is in flight, never results:

* **first paths**: a video's content id is analysed once even if the input lists it twice, and
  a unit that ended is not run again should it be delivered twice;
* **attempts** of each unit that is running. An attempt that never ended means its worker
  died (killed, out of memory, node lost, or exited after a timeout). Deaths and timeouts
  count towards `max_retries`; past it the unit is failed with "worker lost N times while
  analysing ..." or "timed out after N s". A unit that died while another ran in the same
  actor is not charged (either could be to blame): it is rerun alone in its actor, and
  only deaths while it held the actor alone count (`alone`: a unit waiting for its turn
  to run alone is not charged for a neighbour's death). A unit killed because its
  neighbour timed out is not charged at all.
* **segments** of each video in flight: which are written, which failed; the worker that
  reports the last one merges the video (exactly one, again after a retry of that unit).
* **videos awaiting their row at the driver**: each video planned for analysis until the
  driver reports its manifest row received. A unit's result can be lost after its worker
  wrote it (the actor died before Ray Data took its output; the retried call finds the
  unit ended); what is still awaited when the pipeline is done is settled by the driver
  (`undelivered`): the row the worker wrote, else a failed row. Nothing is dropped.
* **tallies** for progress (planned videos and video-seconds, skipped, failed before
  analysis) and messages for the console, drained by the driver.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from emotion_batch.words import plural


@dataclass
class Attempt:
    worker: str
    alone: bool  # it held its actor alone: nothing else ran there meanwhile
    timed_out: bool = False
    forgiven: bool = False  # its actor was ended because another unit timed out


@dataclass
class UnitRecord:
    label: str  # "analysing <unit>" or "probing <path>"
    running: Attempt | None = None
    deaths: int = 0  # worker lost while the unit ran alone
    timeouts: int = 0
    suspect: bool = False  # lost while sharing its actor: run it alone from now on
    starts: int = 0


@dataclass
class Verdict:
    action: str  # run | fail | skip (its video already failed) | done (finished before: a duplicate)
    alone: bool = False
    attempt: int = 1
    error: str | None = None


@dataclass
class VideoRecord:
    n: int
    done: set[int] = field(default_factory=set)  # written, failed or skipped
    errors: dict[int, str] = field(default_factory=dict)
    merger: str | None = None  # the unit whose worker merges the video


@dataclass
class Awaited:
    """A video planned for analysis whose manifest row has not reached the driver yet."""

    video_id: str
    path: str
    size_bytes: int | None = None
    written: bool = False  # its unit ended (or its segments merged): its row is on storage


@dataclass
class Tallies:
    videos: int = 0  # planned for analysis
    seconds: float = 0.0  # video-seconds to analyse (segments already written excluded)
    resumed_s: float = 0.0  # video-seconds found already written as segments
    skipped: int = 0  # already done
    busy: int = 0  # held by a live other run into the same results
    planned_paths: int = 0
    units: int = 0  # units of work planned
    units_begun: int = 0  # of those, taken up by an actor


class Ledger:
    def __init__(self, max_retries: int, unit_timeout_s: float):
        self.max_retries, self.unit_timeout_s = max_retries, unit_timeout_s
        self.first_paths: dict[str, str] = {}  # content id -> the path analysed for it
        self.units: dict[str, UnitRecord] = {}
        self.finished: set[str] = set()  # units that ended: a unit delivered twice runs once
        self.videos: dict[str, VideoRecord] = {}
        self.tallies = Tallies()
        self.planned_set: set[str] = set()
        self.messages: deque[str] = deque(maxlen=1000)
        self.early_rows: list = []  # manifest rows of files that failed before analysis, until drained
        self.awaiting: dict[str, Awaited] = {}  # video id -> planned for analysis, row not at the driver yet
        self.retries = 0

    # planning ------------------------------------------------------------------------
    def first_path(self, video_id: str, path: str) -> str:
        """The first path seen with this content: `path` itself for the first (again when its
        planning task is retried); for another path with the same content, a duplicate, the
        path that is analysed for it."""
        return self.first_paths.setdefault(video_id, path)

    def register(self, video_id: str, n_segments: int, done: list[int]) -> None:
        v = self.videos.setdefault(video_id, VideoRecord(n_segments))
        v.done.update(done)

    def room(self, ahead: int) -> bool:
        """Whether planning may add units: fewer than `ahead` (or 4 per busy actor, if more)
        are planned and not yet taken up, so planning never runs far ahead of analysis."""
        t = self.tallies
        busy = len({r.running.worker for k, r in self.units.items() if r.running and not k.startswith("plan:")})
        return t.units - t.units_begun < max(ahead, 4 * busy)

    def planned(self, path: str, *, videos: int = 0, seconds: float = 0.0, resumed_s: float = 0.0,
                skipped: int = 0, failed_row=None, units: int = 0, busy: int = 0, message: str | None = None,
                video_id: str | None = None, size_bytes: int | None = None) -> None:
        """`path` is planned (counted once, even if its planning task is retried); with
        `video_id`, as a video to analyse whose row the driver then awaits."""
        if path in self.planned_set:
            return
        self.planned_set.add(path)
        if video_id is not None:
            self.awaiting[video_id] = Awaited(video_id, path, size_bytes)
        t = self.tallies
        t.planned_paths += 1
        t.units += units
        t.videos += videos
        t.seconds += seconds
        t.resumed_s += resumed_s
        t.skipped += skipped
        t.busy += busy
        if message:
            self.messages.append(message)
        if failed_row is not None:
            self.early_rows.append(failed_row)

    # units ---------------------------------------------------------------------------
    def begin(self, key: str, label: str, worker: str, shared: bool) -> Verdict:
        """A worker is about to run `key` (`label`: what it does, e.g. "analysing X").
        `shared`: other units may run in its actor at the same time (the verdict then says
        whether this one must run alone)."""
        if key in self.finished:
            return Verdict("done")
        waited = self.awaiting.get(key.split("/", 1)[0]) if "/" in key else None
        if waited is not None and waited.written:  # a segment of a video merged already
            return Verdict("done")
        if key not in self.units and not key.startswith("plan:"):
            self.tallies.units_begun += 1
        rec = self.units.setdefault(key, UnitRecord(label))
        prev = rec.running
        if prev is not None:  # the previous attempt never ended: its worker is gone
            if prev.forgiven or prev.timed_out:
                pass  # timeouts are counted when reported
            elif prev.alone:
                rec.deaths += 1
            else:
                rec.suspect = True
            rec.running = None
            if not prev.timed_out:
                self.messages.append(f"worker lost while {label} ({prev.worker})")
        video = self.videos.get(key.split("/", 1)[0]) if "/" in key else None
        if video is not None and video.errors:
            return Verdict("skip")
        failures = rec.deaths + rec.timeouts
        if failures > self.max_retries:
            if prev is not None and prev.timed_out:
                error = f"timed out after {self.unit_timeout_s:g} s ({plural(rec.timeouts, 'attempt')}) while {label}"
            else:
                error = f"worker lost {plural(rec.deaths, 'time')} while {label}"
            return Verdict("fail", attempt=rec.starts + 1, error=error)
        rec.starts += 1
        if rec.starts > 1:
            self.retries += 1
            why = "alone in its actor, " if rec.suspect and shared else ""
            self.messages.append(f"retrying: {label} ({why}attempt {rec.starts}; "
                                 f"{failures} of {self.max_retries + 1} allowed failures used)")
        alone = rec.suspect and shared
        rec.running = Attempt(worker, alone=not shared)  # a unit to run alone: once it holds the actor
        return Verdict("run", alone=alone, attempt=rec.starts)

    def alone(self, key: str) -> None:
        """`key` now holds its actor alone (it waited for the other units to finish): from
        now on a death of its worker is charged to it."""
        rec = self.units.get(key)
        if rec is not None and rec.running is not None:
            rec.running.alone = True

    def timed_out(self, key: str, others: list[str]) -> None:
        """`key` ran past the unit timeout; its worker exits now, ending `others` with it."""
        rec = self.units.get(key)
        if rec is not None and rec.running is not None:
            rec.timeouts += 1
            rec.running.timed_out = True
            self.messages.append(f"timed out after {self.unit_timeout_s:g} s while {rec.label}; ending its worker")
        for k in others:
            o = self.units.get(k)
            if o is not None and o.running is not None:
                o.running.forgiven = True

    def end(self, key: str) -> None:
        """`key` ended: run, failed or skipped, its outcome written."""
        self.units.pop(key, None)
        if not key.startswith("plan:"):
            self.finished.add(key)
            if key in self.awaiting:  # a whole video: its manifest row is written
                self.awaiting[key].written = True

    # segments ------------------------------------------------------------------------
    def segment_done(self, video_id: str, index: int, key: str, error: str | None = None) -> dict | None:
        """Segment `index` is written (or failed: `error`, or skipped). Returns the merge
        order, {index: error} of failed segments, to the one caller that completes the
        video (and again to that same unit if it is retried); None to the others."""
        v = self.videos.get(video_id)
        if v is None:
            return None  # already merged
        v.done.add(index)
        if error is not None:
            v.errors.setdefault(index, error)
        if len(v.done) < v.n:
            return None
        if v.merger is None:
            v.merger = key
        return dict(v.errors) if v.merger == key else None

    def merged(self, video_id: str) -> None:
        """The video's segments are merged and its manifest row written."""
        self.videos.pop(video_id, None)
        if video_id in self.awaiting:
            self.awaiting[video_id].written = True

    # driver --------------------------------------------------------------------------
    def actor_ready(self, message: str) -> None:
        self.messages.append(message)

    def snapshot(self, delivered: list[str] = ()) -> dict:
        """Progress for the driver; hands over (and forgets) messages and early failed rows.
        `delivered`: videos whose manifest rows the driver received since the last call."""
        for vid in delivered:
            self.awaiting.pop(vid, None)
        msgs, self.messages = list(self.messages), deque(maxlen=1000)
        rows, self.early_rows = self.early_rows, []
        busy = {r.running.worker for r in self.units.values() if r.running is not None}
        return {"tallies": self.tallies, "messages": msgs, "rows": rows, "busy_actors": len(busy),
                "retries": self.retries}

    def undelivered(self) -> list[Awaited]:
        """Videos planned for analysis whose rows never reached the driver (asked once the
        pipeline is done, after the last `snapshot`); forgotten here."""
        rest, self.awaiting = list(self.awaiting.values()), {}
        return rest

"""What to do with one input file: the planner both engines share.

`decide(item, ctx, ...)` gives every described input file (`discover.describe`) one verdict:

* `todo`: to analyse.
* `done`: already finished `ok` with the same model and settings (a finished video found under
  a new path, renamed or moved, has its manifest row re-pointed to that path).
* `unreadable`: failed before decoding (not a video, empty, ...): it gets a `failed` row.
* `duplicate`: the same bytes as another input path of this run, or as a finished video of an
  earlier run whose file is still there. Analysed once; the duplicate path gets a row of status
  `duplicate` naming the path with the results. Manifest files are named by video id, so a
  duplicate's row has its own id, `dup_id(path)`, which never joins timelines.
* `busy`: a live other run into the same results is analysing it (see storage/claims.py).

Every input path ends with one current manifest row: rows of content the file no longer holds
are retired (storage/current.py) before the verdict.

Which path stands for a content within this run is the executor's to say (`first_path`): the
local runner keeps a dict, the Ray layer asks its ledger, since its planning tasks run apart.
Claims (cross-run locks on a video) are taken by `take`, the one place that claims and then
checks the manifest again (another run may have finished the video meanwhile): the Ray layer
takes them while planning (`claim=True`), the local runner just before analysing each video,
so that two local runs into the same results share the work.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from emotion_batch.run.context import RunContext
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.storage.claims import Claim, Claims
from emotion_batch.run.storage.current import holds, path_index, repoint, retire_stale
from emotion_batch.run.storage.store import DoneRecord


class Verdict(str, Enum):
    TODO = "todo"
    DONE = "done"
    DUPLICATE = "duplicate"
    BUSY = "busy"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    item: WorkItem  # for a duplicate, with duplicate_of set
    holder: Claim | None = None  # busy: the other run's claim

    def line(self) -> str | None:
        """What the console says about a file that is not analysed now (None: nothing)."""
        if self.verdict is Verdict.BUSY:
            return f"skipped {self.item.path}: another run is analysing it ({self.holder.describe()})"
        return None


FirstPath = Callable[[str, str], str]  # (content id, path) -> the first path of this run with it


def dup_id(path: str) -> str:
    """The manifest id of a duplicate's row: stable per path, never a content id."""
    return "dup-" + hashlib.sha256(("dup:" + path).encode("utf-8", "surrogateescape")).hexdigest()[:28]


def decide(item: WorkItem, ctx: RunContext, *, first_path: FirstPath, index: dict, claims: Claims | None = None,
           claim: bool = False, keep: frozenset | set = frozenset()) -> Decision:
    """The verdict on one described file (module doc). `index`: the manifest rows naming each
    input path (`storage.current.path_index`); `keep`: content ids still present in this run's
    inputs (their rows are renamed, not retired). With `claims` and `claim`, a todo video is
    claimed here; with `claims` alone, it is only checked for a live holder."""
    path, vid = item.path, item.video_id
    owner, record = _owner(item, ctx, first_path)
    retire_stale(ctx.store, path, dup_id(path) if owner != path else vid, index, keep=keep)
    if owner != path:
        return Decision(Verdict.DUPLICATE, dataclasses.replace(item, duplicate_of=owner))
    if item.error:
        return Decision(Verdict.UNREADABLE, item)
    if not ctx.force and ctx.finished(record):
        if record.path != path:
            repoint(ctx.store, vid, path, ctx.model_version)  # renamed or moved
        return Decision(Verdict.DONE, item)
    if claims is None:
        return Decision(Verdict.TODO, item)
    if claim:
        return take(item, ctx, claims)
    other = claims.holder(vid)
    return Decision(Verdict.BUSY, item, other) if other is not None else Decision(Verdict.TODO, item)


def take(item: WorkItem, ctx: RunContext, claims: Claims) -> Decision:
    """Claim a todo video for this run: busy when a live other run holds it, done when another
    run finished it since it was planned (the claim is then let go), else todo (claimed)."""
    other = claims.take(item.video_id)
    if other is not None:
        return Decision(Verdict.BUSY, item, other)
    if ctx.is_done(item.video_id):
        claims.release(item.video_id)
        return Decision(Verdict.DONE, item)
    return Decision(Verdict.TODO, item)


def _owner(item: WorkItem, ctx: RunContext, first_path: FirstPath) -> tuple[str, DoneRecord | None]:
    """The path whose results stand for this content (the path an earlier run finished it under,
    if that file still holds it; else the first path of this run with it), and its manifest
    verdict."""
    if item.error:
        return item.path, None
    record = ctx.store.done_record(item.video_id)
    if (not ctx.force and ctx.finished(record) and record.path and record.path != item.path
            and holds(record.path, item.video_id)):
        return record.path, record
    return first_path(item.video_id, item.path), record


def nothing_to_do(paths: list[str], ctx: RunContext) -> bool:
    """True when every path is finished `ok` with this model and these settings (or is a
    duplicate of such a finished video, already recorded), checked before any engine starts
    (no Ray, no models), so that a run with nothing left to do says so in a second. Stops at the
    first file that is not. An input path no manifest row names is new work: that is checked
    first, from the manifest's paths alone, so resuming a batch with new files hashes nothing
    here; only a batch whose paths all have rows is hashed."""
    from emotion_batch.media import fingerprint

    if ctx.force or not paths:
        return False
    if len(path_index(ctx.store, paths)) < len(set(paths)):
        return False
    for path in paths:
        try:
            record = ctx.store.done_record(fingerprint(path))
        except OSError:
            return False
        if not ctx.finished(record):
            return False
        if record.path != path and os.path.isfile(record.path or "") and not ctx.store.exists("videos", dup_id(path)):
            return False  # a duplicate whose row is not written yet
    return True

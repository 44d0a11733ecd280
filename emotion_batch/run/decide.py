"""Plan a batch: describe every input file (content id, probe) and sort it into what to do.

* `todo`: to analyse, longest video first, so the longest video does not start last and
  hold up the end of the batch.
* `skipped`: already finished `ok` with the same model and settings.
* `unreadable`: failed before decoding (not a video, empty, ...): a `failed` manifest row.
* `duplicates`: the same bytes as another input path (or as a finished video of an earlier
  run whose file is still there). Analysed once; each such path still gets a manifest row of
  status `duplicate` whose `duplicate_of` names the path that has the results. Manifest files
  are named by video id, so a duplicate's row has its own id, `dup_id(path)` ("dup-" + sha256
  of "dup:" + path), which never joins timelines and is rewritten, not repeated, on a rerun.
* `busy`: held by a live other run writing into the same results (see claims.py).

Every input path ends with one current manifest row (current.py): rows of content the file
no longer holds are retired, and a finished video found under a new path (renamed, moved) has
its row rewritten with that path.

With `claim=True` (the default, used by the Ray layer) every `todo` video is claimed here;
the local runner passes `claim=False` and claims each video just before analysing it, so two
local runs into the same results share the work.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from emotion_batch.config import RunConfig
from emotion_batch.run.storage.claims import Claim, Claims
from emotion_batch.run.storage.current import holds, path_index, repoint, retire_stale
from emotion_batch.run.discover import WorkItem, describe
from emotion_batch.run.storage.store import ResultStore


def dup_id(path: str) -> str:
    """The manifest id of a duplicate's row: stable per path, never a content id."""
    return "dup-" + hashlib.sha256(("dup:" + path).encode("utf-8", "surrogateescape")).hexdigest()[:28]


@dataclass
class Plan:
    todo: list[WorkItem]
    skipped: list[WorkItem]  # already finished with the same model and settings
    unreadable: list[WorkItem]  # failed before decoding (not a video, empty, ...)
    duplicates: list[WorkItem] = field(default_factory=list)  # duplicate_of set
    busy: list[tuple[WorkItem, Claim]] = field(default_factory=list)  # held by a live other run
    claims: Claims | None = None


def plan(paths: list[str], store: ResultStore, config: RunConfig, model_version: str, force: bool,
         claims: Claims | None = None, claim: bool = True) -> Plan:
    """Describe every file and sort it (see the module doc)."""
    claims = claims or Claims(store.fs, store.root)
    p = Plan([], [], [], claims=claims)
    owner: dict[str, str] = {}  # content id -> the path that holds its results
    records = {}  # content id -> its manifest verdict (DoneRecord or None)
    chash = config.config_hash()
    index = path_index(store, paths)
    items = [describe(path) for path in paths]
    contents = {it.video_id for it in items}  # a row of content still here is renamed, not retired
    for item in items:
        path, vid = item.path, item.video_id
        if vid not in owner:
            rec = records[vid] = store.done_record(vid)
            earlier = (rec is not None and not force and rec.finished(model_version, chash) and rec.path
                       and rec.path != path and holds(rec.path, vid))
            owner[vid] = rec.path if earlier else path
        rec = records[vid]
        current = dup_id(path) if owner[vid] != path else vid
        retire_stale(store, path, current, index, keep=contents)
        if owner[vid] != path:
            p.duplicates.append(dataclasses.replace(item, duplicate_of=owner[vid]))
        elif item.error:
            p.unreadable.append(item)
        elif not force and rec is not None and rec.finished(model_version, chash):
            if rec.path != path:
                repoint(store, vid, path, model_version)
            p.skipped.append(item)
        else:
            _claim_or_queue(p, item, store, model_version, chash, force, claim)
    p.todo.sort(key=lambda it: -it.duration_s)
    return p


def _claim_or_queue(p: Plan, item: WorkItem, store: ResultStore, model_version: str, chash: str,
                    force: bool, claim: bool) -> None:
    other = p.claims.take(item.video_id) if claim else p.claims.holder(item.video_id)
    if other is not None:
        p.busy.append((item, other))
    elif claim and not force and store.is_done(item.video_id, model_version, chash):
        p.claims.release(item.video_id)  # another run finished it just now
        p.skipped.append(item)
    else:
        p.todo.append(item)

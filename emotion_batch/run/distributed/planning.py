"""The Ray layer's planning tasks: one input path -> its units of work.

Each task describes its file (fingerprint, probe) under the same watchdog and retry bookkeeping
as analysis, so a file that hangs or crashes the probe fails alone, then takes the shared
decision (`run/decide.py`: todo / done / duplicate / busy / unreadable, claiming todo videos
for this run) and cuts a long video into segments. The ledger says which path is the first
of this run with a given content (the tasks run apart) and holds planning back while enough
units wait for actors.
"""

from __future__ import annotations

import dataclasses
import pickle
import time
from dataclasses import dataclass

import ray

from emotion_batch.run.context import RunContext
from emotion_batch.run.decide import Verdict, decide
from emotion_batch.run.discover import WorkItem, _path_id, describe
from emotion_batch.run.distributed.watchdog import Watchdog, expire, worker_id
from emotion_batch.run.record import record_known
from emotion_batch.run.storage.claims import Claim, Claims
from emotion_batch.run.console.runlog import attach_worker_log
from emotion_batch.run.storage.segment_files import SegmentFiles
from emotion_batch.run.storage.segments import plan_segments
from emotion_batch.run.units import Unit, slim


@dataclass(frozen=True)
class PlanSpec:
    """What every planning task needs, sent once with the pipeline."""

    ctx: RunContext
    segment_s: float
    timeout_s: float  # --unit-timeout: a probe past it ends its task
    ahead: int = 256  # planned units not yet taken up by an actor, at most (see Ledger.room)
    claim_as: Claim | None = None  # the run (driver host, pid, run id) that claims videos (claims.py)
    # manifest rows naming each input path (current.path_index, read once by the driver)
    known: dict | None = dataclasses.field(default=None, hash=False, compare=False)


def plan_units(row: dict, spec: PlanSpec, ledger) -> list[dict]:
    """One input path -> its units of work (none when done, a duplicate, busy or unreadable)."""
    path = row["path"]
    attach_worker_log(spec.ctx.out)  # a file's technical failure detail goes to the run's log
    key, label = f"plan:{path}", f"probing {path}"
    verdict = ray.get(ledger.begin.remote(key, label, worker_id(), False))
    try:
        if verdict.action == "fail":
            item = WorkItem(path, _path_id(path), 0, None, verdict.error)
        else:
            with Watchdog(spec.timeout_s, lambda: expire(ledger, key, [], label=label, timeout_s=spec.timeout_s)):
                item = describe(path)
        return _units(item, spec, ledger)
    finally:
        ledger.end.remote(key)


def _units(item: WorkItem, spec: PlanSpec, ledger) -> list[dict]:
    ctx, path = spec.ctx, item.path
    claims = Claims(ctx.store.fs, ctx.store.root, claim_as=spec.claim_as) if spec.claim_as is not None else None
    d = decide(item, ctx, first_path=lambda vid, p: ray.get(ledger.first_path.remote(vid, p)),
               index=spec.known or {}, claims=claims, claim=True)
    if d.verdict in (Verdict.DUPLICATE, Verdict.UNREADABLE):  # its row, written here
        ledger.planned.remote(path, failed_row=record_known(ctx, [d.item])[0])
        return []
    if d.verdict is Verdict.DONE:
        ledger.planned.remote(path, skipped=1)
        return []
    if d.verdict is Verdict.BUSY:
        ledger.planned.remote(path, busy=1, message=d.line())
        return []
    _wait_for_room(ledger, spec.ahead)
    segments = plan_segments(item.duration_s, spec.segment_s)
    # Awaited by the driver from now on (see Ledger.awaiting): known to the ledger before
    # any of its units can reach an actor, hence ray.get.
    analyse = dict(videos=1, video_id=item.video_id, size_bytes=item.size_bytes)
    if len(segments) == 1:
        ray.get(ledger.planned.remote(path, seconds=item.duration_s, units=1, **analyse))
        return [{"unit": pickle.dumps(Unit(item))}]
    files = SegmentFiles(ctx.store)
    if ctx.force:
        files.remove(item.video_id)
    done = files.usable(item.video_id, segments, ctx.model_version, ctx.config_hash)
    ray.get(ledger.register.remote(item.video_id, len(segments), sorted(done)))
    todo = [s for s in segments if s.index not in done] or segments[-1:]  # all written: merge only
    resumed = sum(s.length(item.duration_s) for s in segments if s.index in done)
    ray.get(ledger.planned.remote(path, seconds=item.duration_s - resumed, resumed_s=resumed, units=len(todo),
                                  **analyse))
    light = slim(item)
    return [{"unit": pickle.dumps(Unit(light, s, len(segments)))} for s in todo]


def _wait_for_room(ledger, ahead: int) -> None:
    """Hold this planning task while enough planned units wait for actors: queued units
    are small rows held by the driver, so this keeps its memory flat on huge inputs."""
    while not ray.get(ledger.room.remote(ahead)):
        time.sleep(0.5)

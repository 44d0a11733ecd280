"""The step over the whole collection that both engines run once, after their last unit.

`run/core.analyse` calls `give_persons` once both engines' executors have ended every unit of
the run (units write their tracks' embeddings under `tracks/`; see
identity/collection.py). It gives person ids, rewrites the persons table and says one line.

Two runs into one results folder may end at the same time; their persons steps take turns
(a claim named `PERSONS_CLAIM`, run/storage/claims.py), or both would read the persons table, add a
new person each under the same id and the second write would win: two people, one id.
"""

from __future__ import annotations

import logging
import time

from emotion_batch.words import plural
from emotion_batch.identity.collection import IdentitySummary, assign_persons
from emotion_batch.fs import open_fs
from emotion_batch.run.context import RunContext
from emotion_batch.run.storage.claims import Claims
from emotion_batch.run.storage.output import write_failure

log = logging.getLogger(__name__)

PERSONS_CLAIM = "persons-step"  # a claim no video takes (video ids are hex digits)


def give_persons(ctx: RunContext, *, echo=print, sleep=time.sleep) -> IdentitySummary | None:
    """Persons for the tracks that have none yet (none with --identity off), once no other
    run's persons step is running on the same results. Raises OutputError when the results
    cannot be read or written."""
    out, config = ctx.out, ctx.config
    if config.identity == "off":
        return None
    claims = Claims(*open_fs(out))
    other = claims.take(PERSONS_CLAIM)
    if other is not None:
        echo(f"persons: waiting for another run's persons step ({other.describe()})")
    while other is not None:  # an abandoned claim (its process gone) is taken over by take()
        sleep(0.5)
        other = claims.take(PERSONS_CLAIM)
    try:
        s = assign_persons(out, mode=config.identity)
    except OSError as e:
        raise write_failure(e, out) from e
    finally:
        claims.release(PERSONS_CLAIM)
    if s.videos:
        where = "in the results" if config.identity == "collection" else "in those videos"
        new = f", {s.new} new" if config.identity == "collection" else ""
        echo(f"persons: {plural(s.videos, 'video')} matched; {plural(s.persons, 'person')} {where}{new}")
    log.info("identity step: %s", s)
    return s

"""The step over the whole collection that both engines run once, after their last unit.

`run/batch.run_local` and `run/distributed.run_ray` call `give_persons` when every unit of the
run has ended (units write their tracks' embeddings under `tracks/`; see
identity/collection.py). It gives person ids, rewrites the persons table and says one line.
"""

from __future__ import annotations

import logging

from emotion_batch.words import plural
from emotion_batch.config import RunConfig
from emotion_batch.identity.collection import IdentitySummary, assign_persons
from emotion_batch.run.output import write_failure

log = logging.getLogger(__name__)


def give_persons(out: str, config: RunConfig, echo=print) -> IdentitySummary | None:
    """Persons for the tracks that have none yet (none with --identity off). Raises
    OutputError when the results cannot be read or written."""
    if config.identity == "off":
        return None
    try:
        s = assign_persons(out, mode=config.identity)
    except OSError as e:
        raise write_failure(e, out) from e
    if s.videos:
        where = "in the results" if config.identity == "collection" else "in those videos"
        new = f", {s.new} new" if config.identity == "collection" else ""
        echo(f"persons: {plural(s.videos, 'video')} matched; {plural(s.persons, 'person')} {where}{new}")
    log.info("identity step: %s", s)
    return s

"""Plan a batch: describe every input file (content id, probe) and drop what is already done.

A video already finished `ok` with the same model and settings is skipped; the rest go out
longest first, so the longest video does not start last and hold up the end of the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from emotion_batch.config import RunConfig
from emotion_batch.run.discover import WorkItem, describe
from emotion_batch.run.store import ResultStore


@dataclass
class Plan:
    todo: list[WorkItem]
    skipped: list[WorkItem]  # already finished with the same model and settings
    unreadable: list[WorkItem]  # failed before decoding (not a video, empty, ...)


def plan(paths: list[str], store: ResultStore, config: RunConfig, model_version: str, force: bool) -> Plan:
    """Describe every file; drop what the store already holds; longest video first."""
    todo, skipped, bad, seen = [], [], [], set()
    for path in paths:
        item = describe(path)
        if item.video_id in seen:  # same content twice in the input: analyse once
            skipped.append(item)
            continue
        seen.add(item.video_id)
        if item.error:
            bad.append(item)
        elif not force and store.is_done(item.video_id, model_version, config.config_hash()):
            skipped.append(item)
        else:
            todo.append(item)
    todo.sort(key=lambda it: -it.duration_s)
    return Plan(todo, skipped, bad)

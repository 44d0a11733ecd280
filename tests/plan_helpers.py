"""decide() over a list of paths, as an executor calls it, for tests of the planner and of what
it writes (tests/run/test_decide.py, tests/run/storage/test_current.py)."""

from __future__ import annotations

from emotion_batch.config import RunConfig
from emotion_batch.run.context import RunContext
from emotion_batch.run.decide import Verdict, decide
from emotion_batch.run.discover import describe
from emotion_batch.run.storage.claims import Claims
from emotion_batch.run.storage.current import path_index

CONFIG = RunConfig(device="cpu")
MODEL = "m1"


def context(store, force=False, config=CONFIG, model=MODEL) -> RunContext:
    return RunContext(store, config, model, config.config_hash(), force, "cpu")


class Planned:
    """Every path's decision, sorted as the local runner sorts them."""

    def __init__(self, decisions, claims):
        self.decisions, self.claims = decisions, claims

    def _with(self, verdict):
        return [d.item for d in self.decisions if d.verdict is verdict]

    todo = property(lambda self: sorted(self._with(Verdict.TODO), key=lambda it: -it.duration_s))
    skipped = property(lambda self: self._with(Verdict.DONE))
    duplicates = property(lambda self: self._with(Verdict.DUPLICATE))
    unreadable = property(lambda self: self._with(Verdict.UNREADABLE))
    busy = property(lambda self: [(d.item, d.holder) for d in self.decisions if d.verdict is Verdict.BUSY])


def plan(paths, store, force=False, claim=True):
    """decide() on every path, as an executor calls it (claim: as the Ray layer, claiming todo videos)."""
    ctx, claims = context(store, force), Claims(store.fs, store.root)
    items, first = [describe(p) for p in paths], {}
    index, keep = path_index(store, paths), {it.video_id for it in items}
    return Planned([decide(it, ctx, first_path=first.setdefault, index=index, claims=claims, claim=claim, keep=keep)
                    for it in items], claims)



"""The local executor: plan with `decide`, analyse one video after another with a `UnitRunner`,
record with the shared recorder. No Ray; debugging, profiling, small batches.

Each video is claimed just before it is analysed (`decide.take`), so another run into the
same results skips it meanwhile and two local runs share the work.
"""

from __future__ import annotations

import logging
import time

from tqdm import tqdm

from emotion_batch.pipeline.hooks import Hooks, ProgressHook
from emotion_batch.run.console.bar import set_progress, status_text, videos_bar
from emotion_batch.run.context import RunContext
from emotion_batch.run.decide import Decision, Verdict, decide, take
from emotion_batch.run.discover import WorkItem, describe
from emotion_batch.run.engine import EngineConfig
from emotion_batch.run.record import BatchSummary, record_known
from emotion_batch.run.storage.claims import Claims
from emotion_batch.run.storage.current import path_index
from emotion_batch.run.units import Unit, UnitRunner

log = logging.getLogger(__name__)


def plan(paths: list[str], ctx: RunContext, claims: Claims) -> list[Decision]:
    """Describe every file and decide on it; the videos to analyse come first, longest first,
    so that the longest video does not start last and hold up the end of the batch."""
    items = [describe(p) for p in paths]
    index = path_index(ctx.store, paths)
    first: dict[str, str] = {}  # content id -> the first path of this run with it
    keep = {it.video_id for it in items}  # a row of content still here is renamed, not retired
    decisions = [decide(it, ctx, first_path=first.setdefault, index=index, claims=claims, keep=keep) for it in items]
    return sorted(decisions, key=lambda d: (d.verdict is not Verdict.TODO, -d.item.duration_s))


class _Bar:
    """The progress bar: files settled, plus the done fraction of the video being analysed
    (fed by a ProgressHook on each analysis: seconds done of the video)."""

    def __init__(self, bar, summary: BatchSummary):
        self.bar, self.summary, self.t0 = bar, summary, time.perf_counter()
        self.settled, self.duration, self.analysed_s = 0, 0.0, 0.0
        self.hook = ProgressHook(lambda video, completed, total: self.show(completed))

    def show(self, completed: float = 0.0) -> None:
        part = min(1.0, completed / self.duration) if self.duration > 0 else 0.0
        s = self.summary
        text = status_text(analysed_s=self.analysed_s + completed, elapsed_s=time.perf_counter() - self.t0,
                           failed=len(s.failed), done_before=s.skipped)
        set_progress(self.bar, self.settled + part, text)

    def video(self, item: WorkItem | None, seconds_done: float = 0.0) -> None:
        """A video starts (`item`) or ended (None, with its seconds if it was analysed)."""
        if item is None:
            self.settled += 1
            self.analysed_s += seconds_done
        self.duration = item.duration_s if item is not None else 0.0
        self.show()


def run_local(paths: list[str], ctx: RunContext, engine: EngineConfig, *, echo=print, hook=None) -> BatchSummary:
    """Analyse `paths` one after another in this process; `hook` watches every analysis."""
    from emotion_batch.pipeline import VideoAnalyzer  # torch and the models: only where analysis runs

    bar = videos_bar(len(paths), enabled=engine.progress)

    def say(msg: str) -> None:
        with tqdm.external_write_mode():
            echo(msg)

    runner = UnitRunner(VideoAnalyzer(ctx.config), ctx, echo=say)
    claims = Claims(ctx.store.fs, ctx.store.root)
    summary = BatchSummary()
    progress = _Bar(bar, summary)
    watch = Hooks(progress.hook, hook)
    try:
        with bar:
            decisions = plan(paths, ctx, claims)
            todo = _settle_planned(decisions, runner.ctx, summary, say)
            progress.settled = len(paths) - len(todo)
            progress.show()
            for item in todo:
                progress.video(item)
                row = _analyse_one(item, runner, claims=claims, summary=summary, say=say, hook=watch)
                progress.video(None, (row.duration_s or 0.0) if row is not None and row.ok else 0.0)
    finally:
        claims.release_all()
    return summary


def _settle_planned(decisions: list[Decision], ctx: RunContext, summary: BatchSummary, say) -> list[WorkItem]:
    """Rows for the unreadable files and duplicates, a line for each busy one; the items to analyse."""
    known = [d.item for d in decisions if d.verdict in (Verdict.UNREADABLE, Verdict.DUPLICATE)]
    for row in record_known(ctx, known):
        summary.note(row, say)
    for d in decisions:
        if d.verdict is Verdict.BUSY:
            say(d.line())
    summary.skipped += sum(d.verdict is Verdict.DONE for d in decisions)
    summary.busy += sum(d.verdict is Verdict.BUSY for d in decisions)
    return [d.item for d in decisions if d.verdict is Verdict.TODO]


def _analyse_one(item: WorkItem, runner: UnitRunner, *, claims: Claims, summary: BatchSummary, say, hook):
    """Claim, analyse and record one video; its manifest row, None when it was not analysed."""
    d = take(item, runner.ctx, claims)
    if d.verdict is Verdict.BUSY:
        say(d.line())
        summary.busy += 1
        return None
    if d.verdict is Verdict.DONE:  # another run finished it meanwhile
        summary.skipped += 1
        return None
    row = runner.run_video(Unit(item), hook=hook)
    claims.held.discard(item.video_id)  # recording the row dropped the claim
    summary.note(row, say)
    return row


"""The local executor: longest video first, a video another run finished meanwhile is skipped,
one claimed by a live other run is left to it, and every file gets its row."""

from __future__ import annotations

import shutil

import pytest

from emotion_batch.config import RunConfig
from emotion_batch.run.context import RunContext
from emotion_batch.run.decide import Verdict
from emotion_batch.run.local import runner
from emotion_batch.run.storage.claims import Claims
from videogen import make_video


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("in")
    make_video(d / "short.mp4", seconds=1.0)
    make_video(d / "long.mp4", seconds=2.0, face=False)
    shutil.copyfile(d / "short.mp4", d / "copy.mp4")
    (d / "junk.mp4").write_bytes(b"not a video" * 50)
    return d


def test_plan_puts_the_videos_to_analyse_first_longest_first(inputs, tmp_path):
    ctx = RunContext.build(str(tmp_path / "out"), RunConfig(device="cpu"))
    paths = sorted(str(p) for p in inputs.iterdir())
    decisions = runner.plan(paths, ctx, Claims(ctx.store.fs, ctx.store.root))
    got = [(d.verdict, d.item.path.rsplit("/", 1)[1]) for d in decisions]
    assert got[:2] == [(Verdict.TODO, "long.mp4"), (Verdict.TODO, "copy.mp4")]
    assert sorted(got[2:]) == [(Verdict.DUPLICATE, "short.mp4"), (Verdict.UNREADABLE, "junk.mp4")]


class Analyzer:
    """Counts analyses; finishes nothing (each call fails fast with a plain reason)."""

    device, model_version = "cpu", None

    def __init__(self, config):
        self.config, self.calls = config, []

    def __call__(self, path, video_id, **kw):
        from emotion_batch.pipeline.result import VideoResult

        self.calls.append(path)
        return VideoResult(video_id, path, "failed", "no frames here")


def test_every_file_gets_one_row_and_a_video_taken_meanwhile_is_left(inputs, tmp_path, monkeypatch):
    import emotion_batch.pipeline as pipeline
    from emotion_batch.run.engine import EngineConfig

    made = []
    monkeypatch.setattr(pipeline, "VideoAnalyzer", lambda config: made.append(Analyzer(config)) or made[-1])
    ctx = RunContext.build(str(tmp_path / "out"), RunConfig(device="cpu"))
    take = runner.take

    def other_run_took_long(item, ctx_, claims):  # another run claims long.mp4 between plan and analysis
        if item.path.endswith("long.mp4"):
            from emotion_batch.run.decide import Decision
            return Decision(Verdict.BUSY, item, claims.me)
        return take(item, ctx_, claims)

    monkeypatch.setattr(runner, "take", other_run_took_long)
    lines: list[str] = []
    paths = sorted(str(p) for p in inputs.iterdir())
    summary = runner.run_local(paths, ctx, EngineConfig(engine="local", progress=False), echo=lines.append)
    assert [p.rsplit("/", 1)[1] for p in made[0].calls] == ["copy.mp4"]  # long.mp4 left to the other run
    assert summary.busy == 1 and any(line.startswith("skipped ") and "long.mp4" in line for line in lines)
    statuses = sorted((r.path.rsplit("/", 1)[1], r.status) for r in summary.rows)
    assert statuses == [("copy.mp4", "failed"), ("junk.mp4", "failed"), ("short.mp4", "duplicate")]
    assert sum(line.startswith("FAILED ") for line in lines) == 2

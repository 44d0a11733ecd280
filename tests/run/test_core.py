"""run/core.analyse: either executor, then the collection step once, in one place."""

import pytest

from emotion_batch.config import RunConfig
from emotion_batch.run import core
from emotion_batch.run.context import RunContext
from emotion_batch.run.engine import EngineConfig
from emotion_batch.run.record import BatchSummary


@pytest.mark.parametrize("engine,module", [("local", "emotion_batch.run.local.runner"),
                                           ("ray", "emotion_batch.run.distributed.driver")])
def test_each_engine_runs_its_executor_then_the_persons_step_once(engine, module, tmp_path, monkeypatch):
    import importlib

    calls = []
    executor = importlib.import_module(module)
    name = "run_local" if engine == "local" else "run_ray"

    def fake_executor(paths, ctx, eng, *, echo, hook):
        calls.append(("units", eng.engine, tuple(paths)))
        return BatchSummary()

    monkeypatch.setattr(executor, name, fake_executor)
    monkeypatch.setattr(core, "give_persons", lambda ctx, echo: calls.append(("persons", ctx.out)))
    ctx = RunContext.build(str(tmp_path), RunConfig(device="cpu"))
    summary = core.analyse(["/a.mp4"], ctx, EngineConfig(engine=engine), echo=lambda m: None)
    assert calls == [("units", engine, ("/a.mp4",)), ("persons", str(tmp_path))]
    assert summary.wall_s > 0


def test_an_interrupted_executor_skips_the_persons_step(tmp_path, monkeypatch):
    from emotion_batch.run.local import runner

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "run_local", interrupted)
    monkeypatch.setattr(core, "give_persons", lambda ctx, echo: pytest.fail("persons after an interrupt"))
    with pytest.raises(KeyboardInterrupt):
        core.analyse(["/a.mp4"], RunContext.build(str(tmp_path), RunConfig(device="cpu")), EngineConfig(engine="local"))

"""RunContext: built once per run, the hash computed once, and it travels to Ray's workers."""

import pickle

from emotion_batch.config import RunConfig
from emotion_batch.models.fusion_params import load_fusion_params
from emotion_batch.pipeline import model_version
from emotion_batch.run.context import RunContext


def test_build_gives_the_hash_and_the_model_version_the_analyzer_would(tmp_path):
    config = RunConfig(device="cpu", fps=2.0)
    ctx = RunContext.build(str(tmp_path / "out"), config, force=True)
    assert ctx.config_hash == config.config_hash() and ctx.force and ctx.device == "none"
    assert ctx.model_version == model_version(load_fusion_params(config.fusion_params))
    assert ctx.out == str(tmp_path / "out") and (tmp_path / "out" / "videos").is_dir()
    assert ctx.on("cuda:0").device == "cuda:0" and ctx.device == "none"  # a copy, not a change


def test_it_pickles_for_the_ray_workers(tmp_path):
    ctx = RunContext.build(str(tmp_path / "out"), RunConfig(device="cpu"))
    back = pickle.loads(pickle.dumps(ctx))
    assert (back.out, back.config, back.config_hash, back.model_version) == (ctx.out, ctx.config, ctx.config_hash,
                                                                             ctx.model_version)
    assert back.store.exists("videos", "nothing") is False


def test_finished_means_ok_with_this_model_and_these_settings(tmp_path):
    from emotion_batch.run.storage.store import DoneRecord

    ctx = RunContext.build(str(tmp_path / "out"), RunConfig(device="cpu"))
    assert ctx.finished(DoneRecord("ok", ctx.model_version, ctx.config_hash))
    assert not ctx.finished(DoneRecord("failed", ctx.model_version, ctx.config_hash))
    assert not ctx.finished(DoneRecord("ok", "another model", ctx.config_hash))
    assert not ctx.finished(DoneRecord("ok", ctx.model_version, "other settings"))
    assert not ctx.finished(None)

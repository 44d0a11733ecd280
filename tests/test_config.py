import pytest

from emotion_batch.config import ConfigError, RunConfig


def test_hash_ignores_device_and_chunking_but_not_fps():
    base = RunConfig()
    assert base.config_hash() == RunConfig(device="cpu", chunk_frames=8).config_hash()
    assert base.config_hash() != RunConfig(fps=2).config_hash()


@pytest.mark.parametrize("kw", [dict(fps=0), dict(device="tpu"), dict(explain="some"), dict(audio_window_s=0), dict(chunk_frames=0)])
def test_invalid_settings_are_refused(kw):
    with pytest.raises(ConfigError):
        RunConfig(**kw)


def test_cuda_index_accepted():
    assert RunConfig(device="cuda:1").device == "cuda:1"


def test_a_fusion_gate_file_is_checked_and_enters_the_model_version_not_the_hash(tmp_path):
    from emotion_batch.models.fusion import FusionParams
    from emotion_batch.pipeline import model_version

    gate = tmp_path / "gate.json"
    FusionParams(a_v=-1.0).save(gate)
    c = RunConfig(fusion_params=str(gate))
    # the gate's values, not its file name, identify the results (a refit under the same
    # name redoes finished videos; a moved file does not)
    assert c.config_hash() == RunConfig().config_hash()
    assert model_version(FusionParams(a_v=-1.0)) != model_version()
    assert model_version(FusionParams.load(gate)) == model_version(FusionParams(a_v=-1.0))
    (tmp_path / "bad.json").write_text('{"a_v": 1}')
    for path in (tmp_path / "missing.json", tmp_path / "bad.json"):
        with pytest.raises(ConfigError, match="train fusion"):
            RunConfig(fusion_params=str(path))

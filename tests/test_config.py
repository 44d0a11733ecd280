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

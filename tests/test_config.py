import json

import pytest

from emotion_batch.config import ConfigError, ExplainConfig, RunConfig, SyncConfig


def test_hash_ignores_device_and_chunking_but_not_fps():
    base = RunConfig()
    assert base.config_hash() == RunConfig(device="cpu", chunk_frames=8).config_hash()
    assert base.config_hash() != RunConfig(fps=2).config_hash()


@pytest.mark.parametrize("kw", [dict(fps=0), dict(device="tpu"), dict(explain="some"), dict(audio_window_s=0),
                                dict(chunk_frames=0), dict(explain_every=0)])
def test_invalid_settings_are_refused(kw):
    with pytest.raises(ConfigError):
        RunConfig.from_flat(**kw)


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


# config_hash() of main before the sync/explain sub-configs (issue 23): results finished then
# must keep their hash, or an upgrade would analyse every finished video again.
HASHES_BEFORE_SUBCONFIGS = [
    (dict(), "4214fe644181281b"),
    (dict(explain="all"), "8836f63f8fa5fa9a"),
    (dict(fps=1.0), "95923ae671146546"),  # as the CLI passes it (a float)
    (dict(fps=1), "b743e11b3e501ca3"),  # as analyze(fps=1) passes it: the hash has always told 1 from 1.0
    (dict(explain="all", fps=1.0), "c1330b281c8fa6de"),
    (dict(max_av_shift_s=0.5), "bb81c057e00ca54d"),
    (dict(explain="sample", explain_every=2), "2680ec7ce688d4f0"),
]


@pytest.mark.parametrize("flat, expected", HASHES_BEFORE_SUBCONFIGS)
def test_the_hash_of_every_earlier_config_is_unchanged(flat, expected):
    assert RunConfig.from_flat(**flat).config_hash() == expected
    # a new setting given at its default value is the same config
    assert RunConfig.from_flat(**flat, sync_window_s=20.0, sync_max_windows=8).config_hash() == expected


def test_each_sync_setting_changes_the_hash():
    base = RunConfig().config_hash()
    changed = [dict(sync_window_s=10.0), dict(sync_max_windows=0), dict(sync_max_windows=4), dict(sync_segment_s=5.0),
               dict(sync_min_confidence=0.5), dict(max_av_shift_s=2.0)]
    hashes = {RunConfig.from_flat(**kw).config_hash() for kw in changed}
    assert base not in hashes and len(hashes) == len(changed)
    # set through the typed sub-config, the same hash as through the flat name
    assert RunConfig(sync=SyncConfig(window_s=10.0)).config_hash() == RunConfig.from_flat(sync_window_s=10).config_hash()


def test_from_flat_round_trip_and_nested_dict():
    c = RunConfig.from_flat(fps=2.0, explain="all", explain_every=3, max_av_shift_s=0.5, sync_window_s=10.0,
                            sync_max_windows=0, sync_segment_s=5.0, sync_min_confidence=0.5, identity="video")
    assert c.sync == SyncConfig(max_av_shift_s=0.5, window_s=10.0, max_windows=0, segment_s=5.0, min_confidence=0.5)
    assert c.explain == ExplainConfig(mode="all", every=3)
    assert RunConfig.from_flat(**c.to_flat()) == c
    assert set(c.to_flat()) == set(RunConfig.flat_names())
    d = json.loads(json.dumps(c.to_dict()))  # what the run log shows
    assert d["sync"]["window_s"] == 10.0 and d["explain"] == {"mode": "all", "every": 3} and d["fps"] == 2.0
    with pytest.raises(TypeError, match="sync_windw_s"):
        RunConfig.from_flat(sync_windw_s=10)


@pytest.mark.parametrize("kw, option", [
    (dict(max_av_shift_s=-1.0), "--max-av-shift"), (dict(max_av_shift_s=float("nan")), "--max-av-shift"),
    (dict(window_s=0.5), "--sync-window"), (dict(max_windows=-1), "--sync-windows"),
    (dict(max_windows=2.5), "--sync-windows"), (dict(segment_s=0.0), "--sync-segment"),
    (dict(min_confidence=1.5), "--sync-min-confidence"), (dict(window_s="20"), "--sync-window"),
])
def test_sync_settings_out_of_range_are_refused_by_name(kw, option):
    with pytest.raises(ConfigError, match=option):
        SyncConfig(**kw)


def test_explain_settings_are_checked_and_a_flat_string_is_refused_in_plain_words():
    with pytest.raises(ConfigError, match="--explain"):
        ExplainConfig(mode="some")
    with pytest.raises(ConfigError, match="explain_every"):
        ExplainConfig(every=0)
    with pytest.raises(ConfigError, match="from_flat"):
        RunConfig(explain="none")

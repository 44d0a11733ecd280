"""EngineConfig: how the work is spread, one validated value."""

import pytest

from emotion_batch.config import ConfigError
from emotion_batch.run.engine import EngineConfig


def test_defaults_are_the_documented_ones():
    e = EngineConfig()
    assert (e.engine, e.actors, e.min_actors, e.gpus_per_actor, e.max_retries, e.unit_timeout_s,
            e.actor_concurrency, e.resources) == ("ray", None, 1, 1.0, 2, 3600.0, 2, {})


@pytest.mark.parametrize("kw,words", [
    ({"engine": "spark"}, "--engine must be one of ray, local"),
    ({"segment_s": 0.5}, "--segment-s must be >= 1"),
    ({"max_retries": -1}, "--max-retries must be >= 0"),
    ({"actor_concurrency": 0}, "--actor-concurrency must be >= 1"),
    ({"min_actors": 3, "actors": 2}, r"--min-actors \(3\) is more than --actors \(2\)"),
    ({"unit_timeout_s": 0}, "--unit-timeout must be > 0 s"),
    ({"resources": {"gpu_slot": 0}}, "--resources must map resource names to positive amounts"),
])
def test_out_of_range_settings_are_refused_in_plain_words(kw, words):
    with pytest.raises(ConfigError, match=words):
        EngineConfig(**kw)


def test_resources_are_normalised_and_none_means_none():
    assert EngineConfig(resources=None).resources == {}
    assert EngineConfig(resources={"emotion_worker": 1}).resources == {"emotion_worker": 1.0}

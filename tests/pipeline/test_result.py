"""VideoResult (pipeline/result.py): frozen once built, with a str-valued status."""

import dataclasses

import pyarrow as pa
import pytest

from emotion_batch.pipeline import Status, VideoResult


def test_a_result_cannot_be_changed_after_it_is_built():
    res = VideoResult("v", "/v.mp4", Status.OK, timings={"detect": 1.0})
    for name, value in (("error", "late"), ("warning", "late"), ("status", Status.FAILED), ("tracks", None)):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(res, name, value)
    later = dataclasses.replace(res, timings={**res.timings, "write": 0.5})
    assert res.timings == {"detect": 1.0} and later.timings == {"detect": 1.0, "write": 0.5}


def test_status_is_a_string_where_results_are_written():
    assert [s.value for s in Status] == ["ok", "failed", "duplicate"]
    res = VideoResult("v", "/v.mp4", "duplicate")  # a plain string reads as the enum
    assert res.status is Status.DUPLICATE and res.status == "duplicate" and f"{res.status}" == "duplicate"
    assert not res.ok and VideoResult("v", "/v.mp4", "ok").ok
    assert pa.array([res.status]).to_pylist() == ["duplicate"]
    with pytest.raises(ValueError):
        VideoResult("v", "/v.mp4", "fine")


def test_the_analyzer_builds_a_finished_result(analyzer, made_videos):
    res = analyzer(made_videos["face"][0])
    assert res.status is Status.OK and res.warning is None and "total" in res.timings
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.error = "changed"

"""The typed manifest row: exactly the declared schema, built from a result."""

import json
from dataclasses import fields

from emotion_batch.run.record import manifest_row
from emotion_batch.config import RunConfig
from emotion_batch.media import MediaInfo
from emotion_batch.pipeline import VideoResult
from emotion_batch.run.discover import WorkItem
from emotion_batch.run.storage.manifest import ManifestRow
from emotion_batch.schemas import MANIFEST_SCHEMA


def test_fields_are_the_schema_columns_in_order():
    assert [f.name for f in fields(ManifestRow)] == MANIFEST_SCHEMA.names


def _ctx(tmp_path, device):
    from emotion_batch.run.context import RunContext
    from emotion_batch.run.storage.store import ResultStore

    return RunContext(ResultStore(str(tmp_path)), RunConfig(), "m1", RunConfig().config_hash(), device=device)


def _info():
    return MediaInfo("/v.mp4", 10, 3.5, 25.0, 87, 320, 240, True, 0.0, 3.5)


def test_ok_row_from_result_round_trips_through_arrow(tmp_path):
    res = VideoResult("vid", "/v.mp4", "ok", None, _info(), faces_found=2, face_seconds=5,
                      av_offset_s=0.04, av_confidence=0.8, av_method="dtw", timings={"decode": 1.5, "total": 3.0})
    row = manifest_row(res, item=WorkItem("/v.mp4", "vid", 10, None), ctx=_ctx(tmp_path, "cpu"),
                                  started_at="2026-01-01T00:00:00+00:00")
    assert row.ok and row.width == 320 and row.faces_found == 2 and row.t_decode == 1.5 and row.t_detect is None
    assert row.config_hash == RunConfig().config_hash() and row.stage_seconds()["decode"] == 1.5
    settings = json.loads(row.config_json)  # by the option names, flat: the keys earlier rows have keep their meaning
    assert settings == RunConfig().to_flat() and settings["explain"] == "sample" and settings["sync_window_s"] == 20.0
    back = row.to_arrow()
    assert back.schema.equals(MANIFEST_SCHEMA) and back.to_pylist()[0]["t_total"] == 3.0


def test_failed_row_has_no_face_counts_and_uses_the_plans_probe(tmp_path):
    res = VideoResult("vid", "/nowhere.mp4", "failed", "video stream is truncated")
    row = manifest_row(res, item=WorkItem("/nowhere.mp4", "vid", None, _info()), ctx=_ctx(tmp_path, "none"),
                                  started_at="t")
    assert not row.ok and row.faces_found is None and row.duration_s == 3.5 and row.size_bytes is None
    assert row.error == "video stream is truncated"

import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from emotion_batch.schemas import MANIFEST_SCHEMA, SCHEMA_VERSION, TIMELINE_SCHEMA
from emotion_batch.run.storage.store import ResultStore


def _manifest(vid, status="ok", mv="m1", ch="c1"):
    row = {n: None for n in MANIFEST_SCHEMA.names}
    row.update(video_id=vid, path=f"/x/{vid}.mp4", status=status, model_version=mv, config_hash=ch, schema_version="1")
    return pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA)


def test_write_read_roundtrip_with_metadata(tmp_path):
    s = ResultStore(str(tmp_path))
    s.write("videos", "abc", _manifest("abc"), "m1")
    f = tmp_path / "videos" / "abc.parquet"
    meta = pq.read_schema(f).metadata
    assert meta[b"emotion_batch.model_version"] == b"m1" and meta[b"emotion_batch.schema_version"] == SCHEMA_VERSION.encode()
    assert s.read("videos", "abc").to_pylist()[0]["status"] == "ok"
    assert s.video_ids() == ["abc"]
    assert [p for p in os.listdir(tmp_path / "videos")] == ["abc.parquet"]  # no temp left


def test_is_done_requires_same_model_config_and_ok(tmp_path):
    s = ResultStore(str(tmp_path))
    s.write("videos", "a", _manifest("a"), "m1")
    s.write("videos", "b", _manifest("b", status="failed"), "m1")
    assert s.is_done("a", "m1", "c1")
    assert not s.is_done("a", "m2", "c1") and not s.is_done("a", "m1", "c2")
    assert not s.is_done("b", "m1", "c1") and not s.is_done("zzz", "m1", "c1")


def test_failed_write_leaves_no_file(tmp_path):
    s = ResultStore(str(tmp_path))
    bad = pa.table({"video_id": ["x"]})  # missing columns: select() fails before anything is written
    with pytest.raises(KeyError):
        s.write("timelines", "x", bad, "m1")
    assert os.listdir(tmp_path / "timelines") == []


def test_interrupted_write_keeps_old_file_and_temps_are_cleaned(tmp_path, monkeypatch):
    s = ResultStore(str(tmp_path))
    s.write("videos", "a", _manifest("a"), "m1")

    import emotion_batch.run.storage.store as store_mod

    def killed_midway(table, sink, **kw):
        sink.write(b"PAR1 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(store_mod.pq, "write_table", killed_midway)
    with pytest.raises(KeyboardInterrupt):
        s.write("videos", "a", _manifest("a", status="failed"), "m1")
    monkeypatch.undo()
    assert s.read("videos", "a").to_pylist()[0]["status"] == "ok"
    assert os.listdir(tmp_path / "videos") == ["a.parquet"]
    (tmp_path / "videos" / ".a.dead.tmp").write_bytes(b"partial")
    assert s.remove_stale_temps() == 1 and s.video_ids() == ["a"]


def test_uri_root(tmp_path):
    s = ResultStore(f"file://{tmp_path}")
    t = pa.Table.from_pylist([], schema=TIMELINE_SCHEMA)
    s.write("timelines", "v", t, "m")
    assert (tmp_path / "timelines" / "v.parquet").exists()

"""One current manifest row per input path: a file changed in place retires its old rows, a
renamed file's row follows it (local planner; the Ray planner: tests/run/test_current_ray.py)."""

from __future__ import annotations

import shutil

import pyarrow as pa
import pytest

from emotion_batch.config import RunConfig
from emotion_batch.pipeline import VideoResult
from emotion_batch.query import open_results, run_sql
from emotion_batch.run.decide import dup_id
from emotion_batch.run.record import record, record_known
from emotion_batch.run.storage.current import RETIRED, path_index
from plan_helpers import context, plan
from emotion_batch.run.storage.store import ResultStore
from emotion_batch.schemas import TIMELINE_SCHEMA
from videogen import make_video

CONFIG = RunConfig(device="cpu")
MODEL = "m1"


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    d = tmp_path_factory.mktemp("sources")
    make_video(d / "one.mp4", seconds=1.0)
    make_video(d / "two.mp4", seconds=2.0, face=False)
    return d


def _timeline(video_id: str, seconds: int) -> pa.Table:
    def value(f):
        return None if f.nullable else (0 if pa.types.is_integer(f.type) else 0.0 if pa.types.is_floating(f.type)
                                        else "x")
    rows = [{f.name: value(f) for f in TIMELINE_SCHEMA} | {"video_id": video_id, "face_id": -1, "second": s}
            for s in range(seconds)]
    return pa.Table.from_pylist(rows, schema=TIMELINE_SCHEMA)


def _finish(store, item, seconds=1):
    """What a finished analysis writes: its timeline rows, then its ok manifest row."""
    res = VideoResult(item.video_id, item.path, "ok", None, item.info, timeline=_timeline(item.video_id, seconds))
    record(context(store), res, item, started_at="t0")


def _plan(store, paths):
    p = plan([str(x) for x in paths], store)
    p.claims.release_all()
    return p


def _rows_for(root, path):
    sql = f"SELECT video_id, status FROM videos WHERE path = '{path}'"
    return run_sql(str(root), sql).to_pylist()


def test_file_changed_in_place_has_one_current_row(sources, tmp_path):
    root = tmp_path / "res"
    store = ResultStore(str(root))
    f = tmp_path / "in" / "clip.mp4"
    f.parent.mkdir()
    shutil.copyfile(sources / "one.mp4", f)
    old = _plan(store, [f]).todo[0]
    _finish(store, old, seconds=1)
    (root / "tracks").mkdir()
    (root / "tracks" / f"{old.video_id}.parquet").write_bytes(b"identity's tracks of the old content")
    shutil.copyfile(sources / "two.mp4", f)  # new content under the same name
    p = _plan(store, [f])
    new = p.todo[0]
    assert new.video_id != old.video_id
    # retired before anything new is written: never two current rows, even if this run stops here
    assert store.video_ids("videos") == [] and store.video_ids("timelines") == []
    assert (root / RETIRED / "videos" / f"{old.video_id}.parquet").is_file()
    assert (root / RETIRED / "timelines" / f"{old.video_id}.parquet").is_file()
    assert (root / RETIRED / "tracks" / f"{old.video_id}.parquet").is_file()  # its faces leave the persons too
    _finish(store, new, seconds=2)
    assert _rows_for(root, f) == [{"video_id": new.video_id, "status": "ok"}]
    counted = run_sql(str(root), "SELECT count(*) AS n FROM timelines").column("n")[0].as_py()
    assert counted == 2  # the new content's two seconds, not 1 + 2
    res = open_results(str(root))
    assert list(res.videos.video_id) == [new.video_id] and set(res.timelines.video_id) == {new.video_id}
    assert path_index(store, [str(f)]) == {str(f): (new.video_id,)}
    assert _plan(store, [f]).skipped[0].video_id == new.video_id  # settled: nothing more to do


def test_changed_file_that_failed_and_its_duplicate_row_are_retired(sources, tmp_path):
    root = tmp_path / "res"
    store = ResultStore(str(root))
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    shutil.copyfile(sources / "one.mp4", a)
    shutil.copyfile(sources / "one.mp4", b)
    p = _plan(store, [a, b])
    _finish(store, p.todo[0])
    record_known(context(store), p.duplicates)
    assert {r["status"] for r in _rows_for(root, b)} == {"duplicate"}
    b.write_bytes(b"not a video any more" * 10)  # b changed in place into junk
    p = _plan(store, [a, b])
    record_known(context(store), p.unreadable)
    assert [r["status"] for r in _rows_for(root, b)] == ["failed"]
    assert not store.exists("videos", dup_id(str(b)))
    assert [r["status"] for r in _rows_for(root, a)] == ["ok"]


def test_renamed_file_keeps_its_results_under_the_new_path(sources, tmp_path):
    root = tmp_path / "res"
    store = ResultStore(str(root))
    old, new = tmp_path / "before.mp4", tmp_path / "after.mp4"
    shutil.copyfile(sources / "one.mp4", old)
    item = _plan(store, [old]).todo[0]
    _finish(store, item)
    old.rename(new)
    p = _plan(store, [new])
    assert [it.path for it in p.skipped] == [str(new)] and not p.todo and not p.duplicates
    assert _rows_for(root, new) == [{"video_id": item.video_id, "status": "ok"}]
    assert _rows_for(root, old) == []


def test_copy_of_a_file_changed_in_place_is_not_its_duplicate(sources, tmp_path):
    """The manifest says content X lives at a.mp4, but a.mp4 now holds other content: a copy
    of X elsewhere owns X's results (renamed), a.mp4's old row is not a current row of a."""
    root = tmp_path / "res"
    store = ResultStore(str(root))
    a, keep = tmp_path / "a.mp4", tmp_path / "keep.mp4"
    shutil.copyfile(sources / "one.mp4", a)
    x = _plan(store, [a]).todo[0]
    _finish(store, x)
    shutil.copyfile(a, keep)
    shutil.copyfile(sources / "two.mp4", a)
    p = _plan(store, [a, keep])
    assert [it.path for it in p.skipped] == [str(keep)] and not p.duplicates
    assert [it.path for it in p.todo] == [str(a)]
    assert _rows_for(root, keep) == [{"video_id": x.video_id, "status": "ok"}]
    assert _rows_for(root, a) == []


def test_two_runs_retiring_the_same_row_both_go_on(sources, tmp_path):
    """Two runs into one results folder plan the same changed file: the second finds the
    files gone under its hands and goes on (no 'cannot write results')."""
    from emotion_batch.run.storage import current

    root = tmp_path / "res"
    store = ResultStore(str(root))
    f = tmp_path / "clip.mp4"
    shutil.copyfile(sources / "one.mp4", f)
    old = _plan(store, [f]).todo[0]
    _finish(store, old)
    index = path_index(store, [str(f)])
    moved = []

    class Racing:  # the other run moves each file first
        def __init__(self, fs):
            self._fs = fs

        def __getattr__(self, name):
            return getattr(self._fs, name)

        def move(self, src, dst):
            self._fs.move(src, dst)
            moved.append(src)
            raise FileNotFoundError(src)

    store.fs = Racing(store.fs)
    assert current.retire_stale(store, str(f), "new-content", index) == 1
    assert len(moved) == 2 and store.video_ids("videos") == []

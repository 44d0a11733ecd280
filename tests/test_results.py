"""Results over synthetic results folders: persons, person_id pass-through, file columns."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import results_factory as F
from emotion_batch.query import QueryError
from emotion_batch.results import PERSONS_COLUMNS, Results
from emotion_batch.run.storage.store import ResultStore


@pytest.fixture()
def root(tmp_path):
    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "id_a", "/data/a/interview.mp4", seconds=4, faces=(0, 1), seed=1)
    F.add_video(store, "id_b", "/data/b/lecture.mp4", seconds=3, faces=(0,), audio=False, explain=False, seed=2)
    return tmp_path / "r"


def test_tables_carry_the_file_name(root):
    res = Results(root)
    assert repr(res) == f"Results({str(root)!r}: 2 videos: 2 ok)"
    for df in (res.videos(), res.timelines(), res.attributions()):
        assert list(df.columns[:2]) == ["video_id", "file"]
        assert set(zip(df.video_id, df.file)) <= {("id_a", "interview.mp4"), ("id_b", "lecture.mp4")}
    assert set(res.attributions().file) == {"interview.mp4"}
    one = res.video("lecture.mp4")
    assert repr(one).endswith("1 video: 1 ok)") and set(one.timelines().video_id) == {"id_b"}
    assert list(res.timelines(video="id_a", face_ids=1, seconds=(1, 2)).second) == [1, 2]
    assert list(res.timelines(columns=["video_id", "second"]).columns) == ["video_id", "file", "second"]


def test_persons_empty_with_its_schema_until_the_identity_step_writes_it(root):
    res = Results(root)
    empty = res.persons()
    assert empty.empty and list(empty.columns) == PERSONS_COLUMNS.names
    (root / "persons").mkdir()
    rows = pa.table({"person_id": pa.array([0, 1], pa.int64()), "n_videos": pa.array([2, 1], pa.int32())})
    pq.write_table(rows, root / "persons" / "part-0.parquet")
    pq.write_table(rows.slice(0, 0), root / "persons" / ".tmp-half.parquet")  # a writer's temporary: ignored
    got = res.persons()
    assert got.person_id.tolist() == [0, 1] and got.n_videos.tolist() == [2, 1]


def test_person_id_passes_through_and_draws_a_lane_per_person(root):
    # a timeline file written with person_id (faces 0 and 1 of id_a are the same person 5)
    path = root / "timelines" / "id_a.parquet"
    tl = pq.read_table(path)
    pid = pc.if_else(pc.greater_equal(tl["face_id"], 0), pa.scalar(5, pa.int64()), pa.scalar(None, pa.int64()))
    pq.write_table(tl.append_column("person_id", pid), path)
    res = Results(root)
    got = res.timelines(video="interview.mp4")
    assert "person_id" in got.columns and set(got.person_id.dropna()) == {5}
    every = res.timelines()  # lecture.mp4's file has no person_id: null there
    assert every[every.file == "lecture.mp4"].person_id.isna().all() and every.person_id.notna().any()
    lanes = {y for t in res.plot(video="interview.mp4").data for y in t.y}
    assert lanes == {"person 5", "voice"}


def test_a_missing_folder_is_a_plain_error(tmp_path):
    with pytest.raises(QueryError, match="results folder not found"):
        Results(tmp_path / "absent")


def test_plot_a_stretch(root):
    fig = Results(root).plot(video="interview.mp4", seconds=(1, 3))
    assert fig.layout.xaxis.range == (1, 3)
    starts = {b for t in fig.data for b in t.base}
    assert starts == {1, 2}


def test_a_notebook_shows_the_summary_with_names_escaped(tmp_path):
    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "id_x", "/data/<img src=x onerror=alert(1)>.mp4", seconds=3, explain=False)
    page = Results(tmp_path / "r")._repr_html_()
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in page and "<img" not in page and "av_sync" in page

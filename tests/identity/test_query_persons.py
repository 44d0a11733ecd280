"""`query` reaches persons: the persons and tracks views, and person_id on timelines."""

import pytest

import numpy as np
import pyarrow as pa

from emotion_batch.fs import open_fs
from emotion_batch.identity.collection import assign_persons, write_tracks
from emotion_batch.query import QueryError, run_sql
from emotion_batch.schemas import EMBEDDING_DIM, TRACK_SCHEMA

PEOPLE = {k: np.eye(EMBEDDING_DIM, dtype=np.float32)[i] for i, k in enumerate("AB")}


def _write(out, video_id, people):
    rows = [{"video_id": video_id, "face_id": i, "t_first": 2.0 * i, "t_last": 2.0 * i + 1, "seconds": 2,
             "n_crops": 3, "embedding": PEOPLE[who].tolist()} for i, who in enumerate(people)]
    write_tracks(*open_fs(str(out)), video_id, pa.Table.from_pylist(rows, schema=TRACK_SCHEMA))

pytest.importorskip("duckdb")


@pytest.fixture()
def results(tmp_path):
    from results_factory import add_video
    from emotion_batch.run.storage.store import ResultStore

    store = ResultStore(str(tmp_path))
    add_video(store, "v1", "/videos/one.mp4", seconds=4, faces=(0, 1, -1), seed=1)
    add_video(store, "v2", "/videos/two.mp4", seconds=3, faces=(0, -1), seed=2)
    return tmp_path


def test_timelines_carry_person_id_and_group_by_person(results):
    before = run_sql(str(results), "SELECT count(*) AS n, count(person_id) AS k FROM timelines", output="pandas")
    assert before.n[0] > 0 and before.k[0] == 0  # no identity data: the column is there, null
    _write(results, "v1", ["A", "B"])
    _write(results, "v2", ["B"])
    assign_persons(str(results), mode="collection")
    t = run_sql(str(results), "SELECT person_id, count(DISTINCT video_id) AS videos, count(*) AS rows "
                              "FROM timelines WHERE face_id >= 0 GROUP BY person_id ORDER BY person_id", output="pandas")
    assert t.person_id.tolist() == [0, 1] and t.videos.tolist() == [1, 2]
    rows = run_sql(str(results), "SELECT count(*) AS n FROM timelines", output="pandas").n[0]
    assert rows == before.n[0]  # the join adds a column, never rows
    p = run_sql(str(results), "SELECT person_id, n_videos FROM persons ORDER BY person_id", output="pandas")
    assert p.values.tolist() == [[0, 1], [1, 2]]
    k = run_sql(str(results), "SELECT count(*) AS n FROM tracks WHERE embedding IS NOT NULL", output="pandas")
    assert k.n[0] == 3


def test_persons_views_are_read_only(results):
    with pytest.raises(QueryError, match="persons, tracks"):
        run_sql(str(results), "DELETE FROM persons")


def test_open_results_and_results_carry_person_id_in_row_order(results):
    """Every face row gets its person_id in Python too (open_results, Results), not only in SQL:
    joined from tracks/ with the rows in their file order; null for the no-face row and before
    identity ran."""
    from emotion_batch import Results
    from emotion_batch.query import open_results

    assert open_results(str(results)).timelines.person_id.isna().all()
    _write(results, "v1", ["A", "B"])
    _write(results, "v2", ["B"])
    assign_persons(str(results), mode="collection")
    plain = open_results(str(results), columns={"timelines": ["video_id", "face_id", "second"]}).timelines
    tl = open_results(str(results)).timelines
    assert tl[["video_id", "face_id", "second"]].equals(plain)  # same rows, same order
    want = {("v1", 0): 0, ("v1", 1): 1, ("v2", 0): 1}
    for (vid, fid), pid in zip(zip(tl.video_id, tl.face_id), tl.person_id):
        assert (pid == want[(vid, fid)]) if fid >= 0 else pid is None or np.isnan(pid)
    only = open_results(str(results), video_ids=["two.mp4"], columns={"timelines": ["second", "person_id"]}).timelines
    assert list(only.columns) == ["second", "person_id"] and set(only.person_id.dropna()) == {1}
    assert set(Results(str(results)).timelines(video="one.mp4", face_ids=[1]).person_id) == {1}

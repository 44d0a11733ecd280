"""open_results filters and the read-only DuckDB views of run_sql."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from emotion_batch.query import QueryError, open_results, run_sql
from emotion_batch.schemas import ATTRIBUTION_SCHEMA, MANIFEST_SCHEMA, TIMELINE_SCHEMA
from emotion_batch.run.storage.store import ResultStore

_F = Path(__file__).resolve().parent / "report" / "results_factory.py"


def _factory():
    spec = importlib.util.spec_from_file_location("results_factory", _F)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


F = _factory()


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("q")
    F.build(tmp / "results", tmp, long=False)
    return tmp / "results"


def test_open_results_all_tables_typed(results):
    r = open_results(str(results))
    assert set(r.videos.video_id) == {"vid_a", "vid_b", "vid_xss", "vid_fail"}
    assert set(r.timelines.video_id) == {"vid_a", "vid_b", "vid_xss"}
    assert set(r.attributions.video_id) == {"vid_a", "vid_b"}
    assert list(r.timelines.columns) == TIMELINE_SCHEMA.names + ["person_id"]  # from tracks/ (identity)
    assert list(r.attributions.columns) == ATTRIBUTION_SCHEMA.names
    assert list(r.videos.columns) == MANIFEST_SCHEMA.names
    # the audio expert is null for the video without audio, the failed video has its error
    assert r.timelines.loc[r.timelines.video_id == "vid_xss", "a_happy"].isna().all()
    assert r.videos.set_index("video_id").loc["vid_fail", "error"] == F.FAIL_ERROR


def test_open_results_filters(results):
    r = open_results(results, video_ids=["vid_b"], seconds=(10, 20), face_ids=[0])
    tl = r.timelines
    assert len(tl) > 0 and set(tl.video_id) == {"vid_b"} and set(tl.face_id) == {0}
    assert tl.second.min() >= 10 and tl.second.max() <= 20
    assert set(r.videos.video_id) == {"vid_b"}
    assert set(r.attributions.video_id) == {"vid_b"} and r.attributions.second.max() <= 20

    full = open_results(results).timelines
    want = full[(full.video_id == "vid_b") & full.second.between(10, 20) & (full.face_id == 0)]
    assert len(tl) == len(want)

    happy = open_results(results, emotions="happy", seconds=(None, 5))
    assert len(happy.timelines) > 0 and set(happy.timelines.emotion) == {"happy"}
    assert happy.timelines.second.max() <= 5
    assert set(happy.attributions.label) <= {"happy"}

    none = open_results(results, face_ids=-1)
    assert set(none.timelines.face_id) == {-1} and none.timelines.face_score.isna().all()

    cols = open_results(results, video_ids="vid_a", columns={"timelines": ["second", "emotion"]})
    assert list(cols.timelines.columns) == ["second", "emotion"]


def test_open_results_unknown_video_and_missing_attributions(tmp_path):
    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "only", "/x.mp4", seconds=5, explain=False)
    os.rmdir(tmp_path / "r" / "attributions")  # folder may be missing entirely
    for ids in (["nope"], ["../videos/only"], ["/etc/passwd"], [".only"], ["only", "y.mp4"]):
        with pytest.raises(QueryError, match="no video named .*x.mp4.*give a file name") as e:
            open_results(tmp_path / "r", video_ids=ids)
        assert "\n" not in str(e.value)
    r = open_results(tmp_path / "r")
    assert len(r.timelines) == 5 and r.attributions.empty
    assert list(r.attributions.columns) == ATTRIBUTION_SCHEMA.names


def _named(tmp_path):
    """Results of four files: a/interview.mp4, b/interview.mp4, b/talk.mp4 and its copy."""
    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "id_a", "/data/a/interview.mp4", seconds=3, explain=False, seed=1)
    F.add_video(store, "id_b", "/data/b/interview.mp4", seconds=4, explain=False, seed=2)
    F.add_video(store, "id_t", "/data/b/talk.mp4", seconds=5, explain=False, seed=3)
    store.write("videos", "dup-1", F.manifest_row("dup-1", "/data/c/talk copy.mp4", status="duplicate",
                                                  duplicate_of="/data/b/talk.mp4"), F.MODEL)
    return tmp_path / "r"


def test_open_results_takes_file_names_and_paths(tmp_path):
    root = _named(tmp_path)
    for name in ("talk.mp4", "b/talk.mp4", "/data/b/talk.mp4", "id_t", "data\\b\\talk.mp4"):
        r = open_results(root, video_ids=name)
        assert set(r.timelines.video_id) == {"id_t"} and len(r.timelines) == 5, name
        assert list(r.videos.path) == ["/data/b/talk.mp4"]
    r = open_results(root, video_ids=["a/interview.mp4", "id_b"])
    assert set(r.videos.video_id) == {"id_a", "id_b"} and len(r.timelines) == 7
    # a duplicate's name brings its own row and the results of the file it duplicates
    r = open_results(root, video_ids="talk copy.mp4")
    assert set(r.videos.video_id) == {"dup-1", "id_t"} and set(r.timelines.video_id) == {"id_t"}


def test_open_results_refuses_a_name_of_two_files(tmp_path):
    with pytest.raises(QueryError, match="'interview.mp4' names 2 files .*give more of the path"):
        open_results(_named(tmp_path), video_ids="interview.mp4")
    with pytest.raises(QueryError, match="no video named 'view.mp4'"):  # whole names only
        open_results(_named(tmp_path), video_ids="view.mp4")


def _old_timelines(root, video_id="old"):
    """A timeline file as schema 2 wrote it: no v_emotion / a_emotion columns."""
    import pyarrow.parquet as pq

    store = ResultStore(str(root))
    tl = F.add_video(store, video_id, f"/v/{video_id}.mp4", seconds=15, faces=(0, -1), explain=False, seed=5)
    old = tl.drop_columns(["v_emotion", "a_emotion"])
    pq.write_table(old, root / "timelines" / f"{video_id}.parquet")
    return tl


def test_old_timelines_get_expert_labels_at_read_time(tmp_path):
    want = _old_timelines(tmp_path / "r").to_pandas()
    assert want.v_emotion.notna().any() and want.v_emotion.isna().any() and want.a_emotion.notna().all()
    got = open_results(tmp_path / "r").timelines
    assert got.v_emotion.tolist() == want.v_emotion.tolist()
    assert got.a_emotion.tolist() == want.a_emotion.tolist()
    only = open_results(tmp_path / "r", columns={"timelines": ["second", "v_emotion"]}).timelines
    assert list(only.columns) == ["second", "v_emotion"] and only.v_emotion.tolist() == want.v_emotion.tolist()
    sql = run_sql(tmp_path / "r", "SELECT face_id, second, v_emotion, a_emotion FROM timelines "
                  "ORDER BY second, face_id", output="pandas")
    want = want.sort_values(["second", "face_id"])
    assert sql.v_emotion.tolist() == want.v_emotion.tolist() and sql.a_emotion.tolist() == want.a_emotion.tolist()


def test_sql_views_carry_the_file_name(results):
    disagree = run_sql(results, "SELECT file, count(*) n FROM timelines WHERE v_emotion <> a_emotion "
                       "GROUP BY file ORDER BY file", output="pandas")
    full = open_results(results).timelines
    n_a = ((full.video_id == "vid_a") & (full.v_emotion != full.a_emotion) & full.a_emotion.notna()
           & full.v_emotion.notna()).sum()
    assert disagree.set_index("file").loc["clip.mp4", "n"] == n_a > 0
    v = run_sql(results, "SELECT video_id, file FROM videos ORDER BY video_id").to_pylist()
    assert v[0] == {"video_id": "vid_a", "file": "clip.mp4"} and v[1]["file"] == F.XSS_FILE
    a = run_sql(results, "SELECT DISTINCT file FROM attributions ORDER BY file").column("file").to_pylist()
    assert a == sorted(["clip.mp4", F.XSS_FILE])


def test_open_results_missing_root(tmp_path):
    with pytest.raises(QueryError, match="results folder not found"):
        open_results(tmp_path / "absent")


def test_package_exports_open_results_lazily():
    import emotion_batch

    assert emotion_batch.open_results is open_results


def test_sql_views_and_join(results):
    t = run_sql(results, "SELECT video_id, status FROM videos ORDER BY video_id")
    assert isinstance(t, pa.Table)
    assert t.to_pylist()[0] == {"video_id": "vid_a", "status": "ok"}
    df = run_sql(
        results,
        "SELECT t.video_id, count(*) n, avg(a.shap_visual + a.shap_audio + a.shap_base "
        "- a.p_label) resid FROM timelines t JOIN attributions a "
        "USING (video_id, face_id, second) GROUP BY 1 ORDER BY 1",
        output="pandas",
    )
    assert isinstance(df, pd.DataFrame)
    assert list(df.video_id) == ["vid_a", "vid_b"]
    assert (df.resid.abs() < 1e-5).all()
    full = open_results(results)
    n_b = ((full.timelines.video_id == "vid_b") & (full.timelines.face_id != -1)).sum()
    assert int(df.set_index("video_id").loc["vid_b", "n"]) == n_b
    e = run_sql(results, "EXPLAIN SELECT * FROM timelines WHERE second > 3")
    assert e.num_rows >= 1


def test_sql_empty_table_has_declared_schema(tmp_path):
    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "v", "/v.mp4", seconds=3, explain=False)
    t = run_sql(tmp_path / "r", "SELECT * FROM attributions")
    assert t.num_rows == 0 and t.schema.names == ["video_id", "file"] + ATTRIBUTION_SCHEMA.names[1:]
    assert run_sql(tmp_path / "r", "SELECT count(*) c FROM timelines").to_pylist() == [{"c": 3}]


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_parquet('/etc/*.parquet')",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM '{root}/timelines/vid_a.parquet'",
        "SELECT * FROM 'https://example.com/x.parquet'",
        "COPY (SELECT 1) TO '{root}/videos/evil.parquet'",
        "COPY videos TO '/tmp/evil.csv'",
        "ATTACH '{root}/x.duckdb' AS x",
        "INSTALL httpfs",
        "LOAD httpfs",
        "CREATE TABLE x AS SELECT 1",
        "CREATE OR REPLACE VIEW videos AS SELECT 1",
        "DROP VIEW timelines",
        "INSERT INTO videos SELECT * FROM videos",
        "DELETE FROM videos",
        "SET enable_external_access = true",
        "EXPORT DATABASE '{root}/dump'",
        "SELECT 1; DROP VIEW videos",
    ],
)
def test_sql_refuses_writes_and_outside_files(results, sql):
    before = sorted(p.relative_to(results) for p in results.rglob("*"))
    with pytest.raises(QueryError) as err:
        run_sql(results, sql.format(root=results))
    assert "\n" not in str(err.value)
    assert sorted(p.relative_to(results) for p in results.rglob("*")) == before
    assert not Path("/tmp/evil.csv").exists()


def test_sql_engine_blocks_files_even_inside_select(results):
    # a SELECT passes the statement check; the engine itself must refuse the file access
    with pytest.raises(QueryError, match="refused"):
        run_sql(results, "SELECT * FROM read_csv('/etc/passwd')")


def test_sql_errors_are_one_line(results, tmp_path):
    with pytest.raises(QueryError, match="bad SQL") as e:
        run_sql(results, "SELEC * FROM videos")
    assert "\n" not in str(e.value)
    with pytest.raises(QueryError, match="bad SQL"):
        run_sql(results, "SELECT nope FROM videos")
    with pytest.raises(QueryError, match="empty SQL"):
        run_sql(results, "   ")
    with pytest.raises(QueryError, match="results folder not found"):
        run_sql(tmp_path / "absent", "SELECT 1")
    (tmp_path / "empty").mkdir()
    with pytest.raises(QueryError, match="no results in"):
        run_sql(tmp_path / "empty", "SELECT 1")


# A query that cannot finish in any reasonable time (10^12 rows to test), on any machine.
ENDLESS = "SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE (a.range * b.range) % 7 = 3"


def test_sql_stops_at_the_time_limit(results):
    with pytest.raises(QueryError) as e:
        run_sql(results, ENDLESS, timeout_s=0.5)
    assert str(e.value) == ("query stopped after 0.5 s (--timeout); narrow it with WHERE/LIMIT "
                            "or give a longer --timeout")
    assert run_sql(results, "SELECT count(*) n FROM videos", timeout_s=0.5).to_pylist() == [{"n": 4}]


def test_sql_stops_at_the_memory_limit(results):
    # aggregating 10^8 integers into one list needs ~800 MB; the limit is 20 MB. No time
    # limit here, so only the memory limit can end it.
    with pytest.raises(QueryError) as e:
        run_sql(results, "SELECT list(range) FROM range(100000000)", timeout_s=None, memory_limit="20MB")
    assert str(e.value).startswith("query needs more than 20MB of memory (--memory-limit); narrow it")
    with pytest.raises(QueryError, match="bad --memory-limit 'lots'"):
        run_sql(results, "SELECT 1", memory_limit="lots")
    # a query cannot change the limit (only a SELECT runs, and the configuration is locked)
    with pytest.raises(QueryError):
        run_sql(results, "SET memory_limit = '100GB'")


def test_duplicate_rows_are_plain_manifest_rows(tmp_path):
    from emotion_batch.run.decide import dup_id

    store = ResultStore(str(tmp_path / "r"))
    F.add_video(store, "v", "/in/a.mp4", seconds=3, explain=False)
    did = dup_id("/in/b.mp4")
    store.write("videos", did, F.manifest_row(did, "/in/b.mp4", status="duplicate", duplicate_of="/in/a.mp4",
                                             faces_found=None, face_seconds=None), F.MODEL)
    rows = run_sql(tmp_path / "r", "SELECT v.path, v.status, d.path AS dup FROM videos v "
                   "LEFT JOIN videos d ON d.duplicate_of = v.path WHERE v.status = 'ok'").to_pylist()
    assert rows == [{"path": "/in/a.mp4", "status": "ok", "dup": "/in/b.mp4"}]
    # a duplicate's id joins no timeline rows: counts per video are not doubled
    n = run_sql(tmp_path / "r", "SELECT count(*) n FROM videos JOIN timelines USING (video_id)").to_pylist()
    assert n == [{"n": 3}]


@pytest.mark.parametrize("sql,word", [("INSTALL httpfs", "INSTALL"), ("  force install httpfs", "INSTALL"),
                                      ("/* x */ LOAD httpfs", "LOAD"), ("ATTACH 'x.db'", "ATTACH")])
def test_refusal_names_the_statement_as_written(results, sql, word):
    with pytest.raises(QueryError, match=rf"only SELECT queries are allowed, not {word} "):
        run_sql(results, sql)


def test_no_timer_thread_outlives_a_query(results, monkeypatch):
    """The --timeout timer holds the DuckDB connection's interrupt; a timer thread still alive at
    interpreter exit made duckdb's nanobind print dozens of "leaked instances" lines after the
    result (seen in about 1 run in 6 of `query`). run_sql returns only once its timer thread has
    ended: here a timer that lingers after it is cancelled (as a busy machine makes it) must still
    be gone when run_sql returns."""
    import threading
    import time

    class SlowTimer(threading.Timer):
        def run(self):
            super().run()
            time.sleep(0.3)  # the thread ends late, after cancel() returned

    monkeypatch.setattr(threading, "Timer", SlowTimer)
    for sql in ("SELECT count(*) FROM timelines", "SELECT nope FROM timelines"):
        try:
            run_sql(results, sql, timeout_s=60)
        except QueryError:
            pass
        assert not [t for t in threading.enumerate() if isinstance(t, SlowTimer)]

"""Persons across a collection on the local engine: one man in three recordings, one woman;
a later run adds a video and keeps every id (issue 24, items 3-4)."""

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE_VIDEOS
from emotion_batch.config import RunConfig
from emotion_batch.query import run_sql
from emotion_batch.run.batch import run_local
from emotion_batch.run.store import ResultStore


def _persons_by_video(out) -> dict[str, set]:
    t = run_sql(str(out), "SELECT v.path, t.person_id FROM timelines t JOIN videos v USING (video_id) "
                          "WHERE t.face_id >= 0 GROUP BY ALL", output="pandas")
    return {p.rsplit("/", 1)[-1]: set(g.person_id) for p, g in t.groupby("path")}


@pytest.mark.shared
@pytest.mark.slow
def test_same_man_in_three_videos_is_one_person_and_ids_stay(tmp_path):
    cfg = RunConfig(fps=1.0, explain="none", device="cpu")
    out = str(tmp_path / "out")
    first = [str(SAMPLE_VIDEOS / n) for n in ("single_face.mp4", "face_noface.mov")]
    lines = []
    run_local(first, ResultStore(out), cfg, progress=False, echo=lines.append)
    assert any(line.startswith("persons: 2 videos matched; 1 person") for line in lines)
    before = _persons_by_video(out)
    assert before == {"single_face.mp4": {0}, "face_noface.mov": {0}}

    more = first + [str(SAMPLE_VIDEOS / n) for n in ("noface_face.mov", "WolfgangLanger_Pexels.mp4")]
    run_local(more, ResultStore(out), cfg, progress=False, echo=lines.append)
    after = _persons_by_video(out)
    assert after["single_face.mp4"] == {0} and after["face_noface.mov"] == {0}  # never renumbered
    assert after["noface_face.mov"] == {0}  # the same man, another recording
    assert after["WolfgangLanger_Pexels.mp4"] == {1}  # a new person appended
    persons = pq.read_table(tmp_path / "out" / "persons" / "persons.parquet").to_pylist()
    assert [(p["person_id"], p["n_videos"]) for p in persons] == [(0, 3), (1, 1)]
    assert persons[1]["seconds"] == 20 and persons[1]["crop_video_id"] is not None


@pytest.mark.shared
def test_identity_off_writes_no_tracks_and_drops_earlier_ones(tmp_path):
    out = tmp_path / "out"
    video = [str(SAMPLE_VIDEOS / "single_face.mp4")]
    cfg = RunConfig(fps=1.0, explain="none", device="cpu", identity="off")
    run_local(video, ResultStore(str(out)), cfg, progress=False, echo=lambda s: None)
    assert not (out / "tracks").exists() and not (out / "persons").exists()
    run_local(video, ResultStore(str(out)), RunConfig(fps=1.0, explain="none", device="cpu", identity="video"),
              progress=False, echo=lambda s: None)
    assert len(list((out / "tracks").glob("*.parquet"))) == 1 and not (out / "persons").exists()
    run_local(video, ResultStore(str(out)), cfg, progress=False, echo=lambda s: None)  # off again: hash differs
    assert not list((out / "tracks").glob("*.parquet"))
    t = run_sql(str(out), "SELECT count(*) n, count(person_id) k FROM timelines WHERE face_id >= 0")
    assert t["n"][0].as_py() > 0 and t["k"][0].as_py() == 0

"""Persons across a collection on the local engine: one man in three recordings, one woman;
a later run adds a video and keeps every id (issue 24, items 3-4)."""

import pyarrow.parquet as pq
import pytest

from conftest import SAMPLE_VIDEOS, analyse_into
from emotion_batch.config import RunConfig
from emotion_batch.query import run_sql


def _persons_by_video(out) -> dict[str, set]:
    t = run_sql(str(out), "SELECT v.path, t.person_id FROM timelines t JOIN videos v USING (video_id) "
                          "WHERE t.face_id >= 0 GROUP BY ALL", output="pandas")
    return {p.rsplit("/", 1)[-1]: set(g.person_id) for p, g in t.groupby("path")}


@pytest.mark.shared
@pytest.mark.slow
def test_same_man_in_three_videos_is_one_person_and_ids_stay(tmp_path):
    cfg = RunConfig.from_flat(fps=1.0, explain="none", device="cpu")
    out = str(tmp_path / "out")
    first = [str(SAMPLE_VIDEOS / n) for n in ("single_face.mp4", "face_noface.mov")]
    lines = []
    analyse_into(out, first, cfg, echo=lines.append)
    assert any(line.startswith("persons: 2 videos matched; 1 person") for line in lines)
    before = _persons_by_video(out)
    assert before == {"single_face.mp4": {0}, "face_noface.mov": {0}}

    more = first + [str(SAMPLE_VIDEOS / n) for n in ("noface_face.mov", "WolfgangLanger_Pexels.mp4")]
    analyse_into(out, more, cfg, echo=lines.append)
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
    cfg = RunConfig.from_flat(fps=1.0, explain="none", device="cpu", identity="off")
    analyse_into(str(out), video, cfg, echo=lambda s: None)
    assert not (out / "tracks").exists() and not (out / "persons").exists()
    analyse_into(str(out), video, RunConfig.from_flat(fps=1.0, explain="none", device="cpu", identity="video"),
              echo=lambda s: None)
    assert len(list((out / "tracks").glob("*.parquet"))) == 1 and not (out / "persons").exists()
    analyse_into(str(out), video, cfg, echo=lambda s: None)  # off again: hash differs
    assert not list((out / "tracks").glob("*.parquet"))
    t = run_sql(str(out), "SELECT count(*) n, count(person_id) k FROM timelines WHERE face_id >= 0")
    assert t["n"][0].as_py() > 0 and t["k"][0].as_py() == 0


def test_persons_steps_of_two_runs_take_turns(tmp_path):
    """Two runs ending together must not both add a person under the same new id: a run whose
    persons step finds another run's step under way waits for it (here the other run lets go
    at the first wait), then assigns; the claim is gone afterwards."""
    import numpy as np
    import pyarrow as pa

    from emotion_batch.fs import open_fs
    from emotion_batch.identity.collection import write_tracks
    from emotion_batch.run.storage.claims import Claims
    from emotion_batch.run.persons import PERSONS_CLAIM, give_persons
    from emotion_batch.schemas import EMBEDDING_DIM, TRACK_SCHEMA

    out = tmp_path / "out"
    row = {"video_id": "v1", "face_id": 0, "t_first": 0.0, "t_last": 1.0, "seconds": 2, "n_crops": 3,
           "embedding": np.eye(EMBEDDING_DIM, dtype=np.float32)[0].tolist()}
    write_tracks(*open_fs(str(out)), "v1", pa.Table.from_pylist([row], schema=TRACK_SCHEMA))
    other = Claims(*open_fs(str(out)), run_id="the other run")
    assert other.take(PERSONS_CLAIM) is None
    waits, lines = [], []

    def sleep(s):
        waits.append(pq.read_table(out / "tracks" / "v1.parquet")["person_id"].to_pylist())
        other.release(PERSONS_CLAIM)

    from emotion_batch.run.context import RunContext

    s = give_persons(RunContext.build(str(out), RunConfig()), echo=lines.append, sleep=sleep)
    assert waits == [[None]]  # nothing was assigned while the other step held the claim
    assert lines[0].startswith("persons: waiting for another run's persons step")
    assert s.new == 1 and pq.read_table(out / "tracks" / "v1.parquet")["person_id"].to_pylist() == [0]
    assert not (out / "claims" / f"{PERSONS_CLAIM}.claim").exists()

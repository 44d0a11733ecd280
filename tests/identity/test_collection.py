"""The persons step over a results folder: ids per video and across videos, stable across runs."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emotion_batch.identity.collection import assign_persons, load_persons, write_tracks
from emotion_batch.fs import open_fs
from emotion_batch.schemas import EMBEDDING_DIM, TRACK_SCHEMA

RNG = np.random.default_rng(7)
PEOPLE = {k: RNG.normal(size=EMBEDDING_DIM) for k in "ABCD"}


def _vec(who: str) -> list[float]:
    v = PEOPLE[who] + 0.05 * RNG.normal(size=EMBEDDING_DIM)
    return (v / np.linalg.norm(v)).astype(np.float32).tolist()


def _tracks(video_id: str, people: list[str | None]) -> pa.Table:
    """One track per entry, one after another in time; None: a face with no usable view."""
    rows = []
    for i, who in enumerate(people):
        rows.append({"video_id": video_id, "face_id": i, "t_first": 2.0 * i, "t_last": 2.0 * i + 1, "seconds": 2,
                     "n_crops": 0 if who is None else 3, "quality": None if who is None else 0.9,
                     "crop_t": None if who is None else 2.0 * i, "crop_box": None if who is None else [0, 0, 50, 50],
                     "embedding": None if who is None else _vec(who),
                     "reason": "too small" if who is None else None})
    return pa.Table.from_pylist(rows, schema=TRACK_SCHEMA)


def _write(out, video_id, people):
    fs, root = open_fs(str(out))
    write_tracks(fs, root, video_id, _tracks(video_id, people))


def _ids(out, video_id):
    return pq.read_table(out / "tracks" / f"{video_id}.parquet")["person_id"].to_pylist()


def test_collection_ids_match_across_videos_and_never_change(tmp_path):
    _write(tmp_path, "v1", ["A", "B", "A", None])  # A | B | A cut, and a face too small
    _write(tmp_path, "v2", ["B"])
    s = assign_persons(str(tmp_path), mode="collection", now="T1")
    assert (s.videos, s.persons, s.new) == (2, 2, 2)
    assert _ids(tmp_path, "v1") == [0, 1, 0, None]
    assert _ids(tmp_path, "v2") == [1]
    persons = load_persons(*open_fs(str(tmp_path))).to_pylist()
    assert [(p["person_id"], p["videos"], p["n_tracks"], p["seconds"]) for p in persons] == [
        (0, ["v1"], 2, 4), (1, ["v1", "v2"], 2, 4)]
    assert all(p["first_seen"] == "T1" for p in persons)

    # a later run adds videos: known faces keep their ids, new people are appended
    _write(tmp_path, "v3", ["C", "A"])
    s = assign_persons(str(tmp_path), mode="collection", now="T2")
    assert (s.videos, s.persons, s.new) == (1, 3, 1)
    assert _ids(tmp_path, "v3") == [2, 0]
    assert _ids(tmp_path, "v1") == [0, 1, 0, None] and _ids(tmp_path, "v2") == [1]
    persons = {p["person_id"]: p for p in load_persons(*open_fs(str(tmp_path))).to_pylist()}
    assert persons[0]["videos"] == ["v1", "v3"] and persons[0]["last_seen"] == "T2"
    assert persons[0]["first_seen"] == "T1" and persons[2]["first_seen"] == "T2"
    assert persons[1]["last_seen"] == "T1"

    # nothing pending: nothing changes
    assert assign_persons(str(tmp_path), mode="collection", now="T3").videos == 0


def test_video_mode_counts_persons_per_video_and_writes_no_persons_table(tmp_path):
    _write(tmp_path, "v1", ["A", "B", "A"])
    _write(tmp_path, "v2", ["B", "D"])
    s = assign_persons(str(tmp_path), mode="video")
    assert s.videos == 2
    assert _ids(tmp_path, "v1") == [0, 1, 0] and _ids(tmp_path, "v2") == [0, 1]
    assert not (tmp_path / "persons").exists()


def test_off_does_nothing_and_no_embedding_is_no_person(tmp_path):
    _write(tmp_path, "v1", [None, None])
    assert assign_persons(str(tmp_path), mode="off").videos == 0
    s = assign_persons(str(tmp_path), mode="collection")
    assert s.videos == 0 and _ids(tmp_path, "v1") == [None, None]
    assert load_persons(*open_fs(str(tmp_path))).num_rows == 0


def test_persons_statistics_follow_a_retired_tracks_file(tmp_path):
    """A video retired since the last step (its file changed in place: run/storage/current.py moves its
    tracks file to retired/) no longer counts in the persons table; the ids stay."""
    _write(tmp_path, "v1", ["A"])
    _write(tmp_path, "v2", ["A", "B"])
    assign_persons(str(tmp_path), mode="collection", now="T1")
    (tmp_path / "retired" / "tracks").mkdir(parents=True)
    (tmp_path / "tracks" / "v2.parquet").rename(tmp_path / "retired" / "tracks" / "v2.parquet")
    assert assign_persons(str(tmp_path), mode="collection", now="T2").videos == 0  # nothing new to assign
    persons = {p["person_id"]: p for p in load_persons(*open_fs(str(tmp_path))).to_pylist()}
    assert persons[0]["videos"] == ["v1"] and persons[0]["n_tracks"] == 1
    assert 1 not in persons or persons[1]["n_tracks"] == 0

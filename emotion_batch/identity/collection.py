"""The identity step over a results folder: after every unit of a run, on either engine.

Units write `tracks/<video_id>.parquet` (TRACK_SCHEMA: one row per face track with its
embedding, person columns null) next to their other tables (`write_tracks`, called from
`run/record.record`). `assign_persons` then runs once, in the driver, after the last
unit (`run/core.analyse`, on both engines):

* every tracks file with an embedded track and no person yet is taken in video-id order;
* its tracks are grouped into the video's persons (`group.group_video`: `video_person`);
* `--identity video`: person_id = video_person (ids count per video);
* `--identity collection`: each of the video's persons joins the most similar person of
  `persons/persons.parquet` within the threshold (one video person per person), or becomes a
  new person with the next id; ids once given never change, and a later run only appends;
* the tracks file is rewritten with its ids, then the persons table (its statistics
  recomputed from all tracks files; centroids and first-seen kept).

A run stopped before the step leaves tracks without persons: the next run's step takes them.
Faces with no embedding (too small, too blurred) keep person_id null. Two runs into one
folder never run this step at once: run/persons.py makes them take turns. Nothing here
imports Ray.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.fs import open_fs
from emotion_batch.identity.group import SAME_PERSON_SIM, centroids, group_video, nearest
from emotion_batch.schemas import EMBEDDING_DIM, PERSON_SCHEMA, SCHEMA_VERSION, TRACK_SCHEMA

TRACKS, PERSONS = "tracks", "persons"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IdentitySummary:
    videos: int  # videos given persons by this step
    persons: int  # persons in the folder after it (collection) or found in those videos (video)
    new: int  # persons added by this step (collection)


TRACK_FILES = b"emotion_batch.track_files"  # persons.parquet: how many tracks files its statistics cover


def _put(fs: pafs.FileSystem, path: str, table: pa.Table, **meta: str) -> None:
    from emotion_batch.fs import write_atomic

    meta = {b"emotion_batch.schema_version": SCHEMA_VERSION.encode(),
            **{f"emotion_batch.{k}".encode(): v.encode() for k, v in meta.items()}}
    write_atomic(fs, path, table.replace_schema_metadata(meta))


def _persons_cover(fs: pafs.FileSystem, root: str, n_files: int) -> bool:
    """Whether persons.parquet exists and its statistics cover exactly `n_files` tracks files
    (a video retired since (run/storage/current.py) took its tracks file away: they must be redone)."""
    try:
        meta = pq.read_schema(f"{root}/{PERSONS}/{PERSONS}.parquet", filesystem=fs).metadata or {}
    except (FileNotFoundError, OSError):
        return False
    return meta.get(TRACK_FILES) == str(n_files).encode()


def write_tracks(fs: pafs.FileSystem, root: str, video_id: str, tracks: pa.Table) -> None:
    """A unit's tracks (person columns null until the step), atomically."""
    fs.create_dir(f"{root}/{TRACKS}", recursive=True)
    _put(fs, f"{root}/{TRACKS}/{video_id}.parquet", tracks.select(TRACK_SCHEMA.names).cast(TRACK_SCHEMA))


def drop_tracks(fs: pafs.FileSystem, root: str, video_id: str) -> None:
    """Remove a video's tracks file if there is one (its video was analysed again without identity)."""
    try:
        fs.delete_file(f"{root}/{TRACKS}/{video_id}.parquet")
    except FileNotFoundError:
        pass


def _files(fs: pafs.FileSystem, root: str) -> list[str]:
    sel = pafs.FileSelector(f"{root}/{TRACKS}", allow_not_found=True)
    return sorted(i.path for i in fs.get_file_info(sel)
                  if i.base_name.endswith(".parquet") and not i.base_name.startswith((".", "_")))


def _read(fs: pafs.FileSystem, path: str, columns: list[str] | None = None) -> pa.Table:
    with fs.open_input_file(path) as f:
        return pq.read_table(f, columns=columns)


def _pending(t: pa.Table) -> bool:
    """Has a track with an embedding and no person."""
    if not t.num_rows:
        return False
    waiting = pc.and_(pc.fill_null(pc.greater(t["n_crops"], 0), False), pc.is_null(t["person_id"]))
    return bool(pc.any(waiting).as_py())


def load_persons(fs: pafs.FileSystem, root: str) -> pa.Table:
    try:
        return _read(fs, f"{root}/{PERSONS}/{PERSONS}.parquet").cast(PERSON_SCHEMA)
    except FileNotFoundError:
        return PERSON_SCHEMA.empty_table()


def _embeddings(t: pa.Table, column: str = "embedding") -> np.ndarray:
    col = t[column].combine_chunks()
    return np.array(col.flatten().to_numpy(zero_copy_only=False), np.float32).reshape(len(t), EMBEDDING_DIM)


class _Persons:
    """The collection's persons in memory while the step runs: centroids and bookkeeping."""

    def __init__(self, table: pa.Table):
        n = table.num_rows
        cap = max(1024, 2 * n)  # grown by doubling: appending a person is amortised O(1)
        self._ids = np.zeros(cap, np.int64)
        self._cent = np.zeros((cap, EMBEDDING_DIM), np.float32)
        self._count = np.zeros(cap, np.int64)
        self.n = n
        if n:
            self._ids[:n] = table["person_id"].to_numpy(zero_copy_only=False)
            self._cent[:n] = _embeddings(table, "centroid")
            self._count[:n] = table["n_embeddings"].to_numpy(zero_copy_only=False)
        self.next_id = int(self._ids[:n].max()) + 1 if n else 0
        self.first = dict(zip(table["person_id"].to_pylist(), table["first_seen"].to_pylist()))
        self.last = dict(zip(table["person_id"].to_pylist(), table["last_seen"].to_pylist()))
        self.new = 0

    @property
    def ids(self) -> np.ndarray:
        return self._ids[: self.n]

    @property
    def cent(self) -> np.ndarray:
        return self._cent[: self.n]

    @property
    def count(self) -> np.ndarray:
        return self._count[: self.n]

    def _append(self, pid: int, centroid: np.ndarray, weight: int) -> None:
        if self.n == len(self._ids):
            self._ids = np.concatenate([self._ids, np.zeros_like(self._ids)])
            self._cent = np.concatenate([self._cent, np.zeros_like(self._cent)])
            self._count = np.concatenate([self._count, np.zeros_like(self._count)])
        self._ids[self.n], self._cent[self.n], self._count[self.n] = pid, centroid, weight
        self.n += 1

    def match(self, video_cent: np.ndarray, weights: np.ndarray, threshold: float, now: str) -> np.ndarray:
        """Person ids for one video's persons (centroids (K, D)): best match within the
        threshold, one video person per person, best similarity first; else a new id."""
        best, sim = nearest(video_cent, self.cent)
        out = np.full(len(video_cent), -1, np.int64)
        taken: set[int] = set()
        for k in np.argsort(-sim):
            if sim[k] >= threshold and int(best[k]) not in taken:
                i = int(best[k])
                taken.add(i)
                total = self.count[i] + weights[k]
                c = (self.cent[i] * self.count[i] + video_cent[k] * weights[k]) / total
                self.cent[i], self.count[i] = c / max(float(np.linalg.norm(c)), 1e-9), total
                out[k] = self.ids[i]
                self.last[int(self.ids[i])] = now
        for k in np.flatnonzero(out < 0):
            pid = self.next_id
            self.next_id += 1
            self._append(pid, video_cent[k], int(weights[k]))
            self.first[pid] = self.last[pid] = now
            self.new += 1
            out[k] = pid
        return out


def _assign_video(t: pa.Table, persons: _Persons | None, threshold: float, now: str) -> pa.Table:
    """The video's tracks with video_person and person_id filled where there is an embedding."""
    has = np.asarray(pc.fill_null(pc.greater(t["n_crops"], 0), False).to_numpy(zero_copy_only=False), bool)
    rows = np.flatnonzero(has)
    vp = np.full(len(t), -1, np.int64)
    pid = np.full(len(t), -1, np.int64)
    if len(rows):
        sub = t.take(pa.array(rows))
        emb = _embeddings(sub)
        spans = np.stack([sub["t_first"].to_numpy(), sub["t_last"].to_numpy()], 1)
        labels = group_video(emb, spans, threshold=threshold)
        vp[rows] = labels
        if persons is None:
            pid[rows] = labels
        else:
            weights = np.bincount(labels).astype(np.int64)
            pid[rows] = persons.match(centroids(emb, labels), weights, threshold, now)[labels]
    t = t.set_column(t.schema.get_field_index("video_person"), TRACK_SCHEMA.field("video_person"),
                     pa.array(vp, pa.int32(), mask=vp < 0))
    return t.set_column(t.schema.get_field_index("person_id"), TRACK_SCHEMA.field("person_id"),
                        pa.array(pid, pa.int64(), mask=pid < 0))


def assign_persons(out: str, *, mode: str = "collection", threshold: float = SAME_PERSON_SIM,
                   now: str | None = None) -> IdentitySummary:
    """Give persons to every track that has an embedding and none yet (see the module doc).
    Raises OSError when the results cannot be read or written."""
    if mode == "off":
        return IdentitySummary(0, 0, 0)
    fs, root = open_fs(out)
    now = now or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    files = _files(fs, root)
    pending = [p for p in files if _pending(_read(fs, p, ["n_crops", "person_id"]))]
    persons = _Persons(load_persons(fs, root)) if mode == "collection" else None
    found = 0
    for path in pending:
        t = _assign_video(_read(fs, path).cast(TRACK_SCHEMA), persons, threshold, now)
        found += len(set(pc.drop_null(t["person_id"]).to_pylist()))
        _put(fs, path, t)
    if persons is None:
        return IdentitySummary(len(pending), found, 0)
    if pending or not _persons_cover(fs, root, len(files)):
        fs.create_dir(f"{root}/{PERSONS}", recursive=True)
        _put(fs, f"{root}/{PERSONS}/{PERSONS}.parquet", _persons_table(fs, files, persons),
             track_files=str(len(files)))
    return IdentitySummary(len(pending), len(persons.ids), persons.new)


_STAT_COLUMNS = ["video_id", "face_id", "person_id", "seconds", "quality", "crop_t", "crop_box"]


def _persons_table(fs: pafs.FileSystem, files: list[str], persons: _Persons) -> pa.Table:
    """One row per person: statistics from every tracks file (small columns only, aggregated
    in Arrow), the centroid and the first/last seen times from the step's state."""
    parts = [_read(fs, p, _STAT_COLUMNS) for p in files]
    t = pa.concat_tables(parts) if parts else TRACK_SCHEMA.empty_table().select(_STAT_COLUMNS)
    t = t.filter(pc.is_valid(t["person_id"]))
    # best crop first within each person, then Arrow's ordered "first" per group
    t = t.sort_by([("person_id", "ascending"), ("quality", "descending")])
    t = t.append_column("row", pa.array(np.arange(t.num_rows), pa.int64()))
    agg = t.group_by("person_id", use_threads=False).aggregate([
        ("video_id", "distinct"), ("face_id", "count"), ("seconds", "sum"), ("row", "first")])
    best = t.take(agg["row_first"])
    stats = {pid: i for i, pid in enumerate(agg["person_id"].to_pylist())}
    cols = {c: agg[c].to_pylist() for c in agg.column_names}
    cols.update({f"{c}_first": best[c].to_pylist() for c in ("video_id", "face_id", "crop_t", "crop_box")})
    rows = []
    for i, pid in enumerate(persons.ids.tolist()):
        k = stats.get(pid)
        get = (lambda c, default=None: default if k is None else cols[c][k])  # noqa: E731
        videos = sorted(get("video_id_distinct", []))
        rows.append({"person_id": pid, "n_videos": len(videos), "videos": videos,
                     "n_tracks": get("face_id_count", 0), "seconds": get("seconds_sum", 0) or 0,
                     "first_seen": persons.first.get(pid), "last_seen": persons.last.get(pid),
                     "crop_video_id": get("video_id_first"), "crop_face_id": get("face_id_first"),
                     "crop_t": get("crop_t_first"), "crop_box": get("crop_box_first"),
                     "centroid": persons.cent[i].tolist(), "n_embeddings": int(persons.count[i])})
    return pa.Table.from_pylist(rows, schema=PERSON_SCHEMA)

"""Read the result tables back as filtered Arrow tables / DataFrames (`open_results`,
`read_table`); read-only SQL over them is `sql.py` (`run_sql`, also importable from here).

Both read the per-video Parquet files under a results root (see `store.py`) through
`pyarrow.dataset`, so filters and column choices are pushed down to the files. A table
whose folder is empty or missing reads as an empty table with its declared schema.

Videos can be named by file name, path or video id (`resolve.py`); a name that is not in the
manifest is a QueryError, never an empty answer. Every read of the manifest goes through
`manifest_table`. Timeline files written before schema 3 lack `v_emotion` / `a_emotion`:
both readers compute them from v_* / a_* (`with_expert_labels`, and the same argmax in SQL).
Timelines get each face row's `person_id` from the identity step's tracks table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.errors import first_line
from emotion_batch.fs import open_fs
from emotion_batch.resolve import UnknownVideo, resolve_videos
from emotion_batch.schemas import TABLES, prob_columns, top_labels




class QueryError(ValueError):
    """A bad query or an unusable results folder; the message is one line."""


EXPERT_LABELS = {"v_emotion": "v", "a_emotion": "a"}  # label column -> its expert's prefix
BASE_TABLES = ("timelines", "attributions", "videos")


@dataclass
class Tables:
    """The three tables of a results root, as pandas DataFrames (what `open_results` returns;
    `emotion_batch.Results` is the richer object of `analyze`)."""

    timelines: "pandas.DataFrame"  # noqa: F821
    attributions: "pandas.DataFrame"  # noqa: F821
    videos: "pandas.DataFrame"  # noqa: F821


def _open_fs(root) -> tuple[pafs.FileSystem, str]:
    try:
        return open_fs(root)
    except (pa.ArrowInvalid, OSError) as e:
        raise QueryError(f"cannot open results {root}: {first_line(e)}") from None


def _check_root(fs: pafs.FileSystem, root: str, shown: str) -> None:
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        raise QueryError(f"results folder not found: {shown}")


def _table_files(
    fs: pafs.FileSystem, root: str, table: str, video_ids: list[str] | None = None
) -> list[str]:
    """The finished Parquet files of one table (hidden temporaries excluded)."""
    if video_ids is not None:  # files are named after the video id: open only those
        safe = [v for v in video_ids if v and "/" not in v and "\\" not in v and v[0] != "."]
        paths = [f"{root}/{table}/{v}.parquet" for v in safe]
        return [i.path for i in fs.get_file_info(paths) if i.type == pafs.FileType.File]
    sel = pafs.FileSelector(f"{root}/{table}", allow_not_found=True)
    return sorted(
        i.path
        for i in fs.get_file_info(sel)
        if i.type == pafs.FileType.File
        and i.path.endswith(".parquet")
        and not os.path.basename(i.path).startswith((".", "_"))
    )


def table_dataset(
    results_root: str, table: str, video_ids: Iterable[str] | None = None
) -> ds.Dataset:
    """A lazy dataset over one table with its declared schema (empty if no files), plus the
    columns the first file has beyond it (a newer writer's, e.g. `person_id`): they pass
    through, null in files without them."""
    if table not in TABLES:
        raise QueryError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
    fs, root = _open_fs(results_root)
    _check_root(fs, root, os.fspath(results_root))
    vids = None if video_ids is None else _as_list(video_ids)
    files = _table_files(fs, root, table, vids)
    return ds.dataset(files, schema=_read_schema(fs, files, TABLES[table]), format="parquet", filesystem=fs)


def _read_schema(fs: pafs.FileSystem, files: list[str], declared: pa.Schema) -> pa.Schema:
    if not files:
        return declared
    try:
        with fs.open_input_file(files[0]) as f:
            found = pq.read_schema(f)
    except (OSError, pa.ArrowInvalid):
        return declared  # the scan itself reports an unreadable file
    extra = [found.field(n) for n in found.names if n not in declared.names]
    return pa.schema(list(declared) + extra, metadata=declared.metadata) if extra else declared


def _as_list(values) -> list:
    if isinstance(values, (str, int)):
        return [values]
    return list(values)


def manifest_table(
    results_root: str, video_ids: Iterable[str] | None = None, *, columns: list[str] | None = None
) -> pa.Table:
    """The manifest rows (`videos/`) as one Arrow table: every reader of the manifest (open_results,
    name resolution, the `videos` view, `Results`) goes through here, so a rule about which rows
    count applies everywhere at once."""
    dset = table_dataset(results_root, "videos", video_ids)
    return dset.to_table(columns=columns)


def video_ids_for(results_root: str, names: Iterable[str] | str) -> list[str]:
    """The video ids that file names, paths or ids name (resolve.py); QueryError with one
    line for a name that names no video or several files."""
    names = [str(n) for n in _as_list(names)]
    fs, root = _open_fs(results_root)
    ids = [n for n in names if _table_files(fs, root, "videos", [n]) or _table_files(fs, root, "timelines", [n])]
    if len(ids) == len(names):  # all ids (what a narrowed Results holds): no manifest scan
        return list(dict.fromkeys(ids))
    manifest = manifest_table(results_root, columns=["video_id", "path", "status", "duplicate_of"])
    files = [n for n in ids if n not in set(manifest.column("video_id").to_pylist())]
    try:
        return resolve_videos(manifest, names, known_ids=files)
    except UnknownVideo as e:
        raise QueryError(str(e)) from None


def with_expert_labels(table: pa.Table) -> pa.Table:
    """Fill `v_emotion` / `a_emotion` where they are null but the expert's probabilities are
    there (timeline files written before these columns existed): their argmax, as the builder
    computes them. Columns not in `table` are left alone."""
    for col, pfx in EXPERT_LABELS.items():
        probs = prob_columns(pfx)
        names = table.column_names
        if col not in names or not set(probs) <= set(names) or table[col].null_count == 0:
            continue
        p = np.column_stack([table[c].to_numpy() for c in probs]) if len(table) else np.zeros((0, len(probs)))
        i = names.index(col)
        table = table.set_column(i, table.schema.field(i), pc.coalesce(table[col], top_labels(p)))
    return table


def _filters(
    table: str,
    video_ids: list[str] | None,
    seconds: tuple[float | None, float | None] | None,
    emotions: list[str] | None,
    face_ids: list[int] | None,
) -> ds.Expression | None:
    conds = []
    if video_ids is not None:
        conds.append(ds.field("video_id").isin(video_ids))
    if table != "videos":
        if seconds is not None:
            lo, hi = seconds
            if lo is not None:
                conds.append(ds.field("second") >= lo)
            if hi is not None:
                conds.append(ds.field("second") <= hi)
        if face_ids is not None:
            conds.append(ds.field("face_id").isin([int(f) for f in face_ids]))
        if emotions is not None:
            col = "emotion" if table == "timelines" else "label"
            conds.append(ds.field(col).isin(emotions))
    if not conds:
        return None
    expr = conds[0]
    for c in conds[1:]:
        expr = expr & c
    return expr


def open_results(
    path: str,
    *,
    video_ids: Iterable[str] | str | None = None,
    seconds: tuple[float | None, float | None] | None = None,
    emotions: Iterable[str] | str | None = None,
    face_ids: Iterable[int] | int | None = None,
    columns: dict[str, list[str]] | None = None,
) -> Tables:
    """Load the result tables of `path`, filtered at the Parquet level.

    video_ids   keep these videos (all three tables): video ids, file names or paths, resolved
                through the manifest ("x.mp4", "week1/x.mp4"); QueryError for a name that is
                not there or names two files
    seconds     (lo, hi): keep timeline/attribution rows with lo <= second <= hi; either end
                may be None for an open range
    emotions    keep timeline rows whose `emotion` is one of these, and attribution rows whose
                explained `label` is one of these
    face_ids    keep these face ids (-1 is the no-face row) in timelines and attributions
    columns     optional {table: [column, ...]} to read only some columns of a table
    """
    vids = None if video_ids is None else video_ids_for(path, video_ids)
    emo = None if emotions is None else [str(e) for e in _as_list(emotions)]
    faces = None if face_ids is None else _as_list(face_ids)
    if seconds is not None and (not isinstance(seconds, (tuple, list)) or len(seconds) != 2):
        raise QueryError("seconds must be a (lo, hi) pair; use None for an open end")
    out = {t: read_table(path, t, video_ids=vids, seconds=seconds, emotions=emo, face_ids=faces,
                         columns=(columns or {}).get(t)).to_pandas() for t in BASE_TABLES}
    return Tables(**out)


def read_table(
    path: str, table: str, *, video_ids: list[str] | None = None,
    seconds: tuple[float | None, float | None] | None = None, emotions: list[str] | None = None,
    face_ids: list[int] | None = None, columns: list[str] | None = None,
) -> pa.Table:
    """One table of `path` as Arrow, filtered at the Parquet level (`video_ids` already
    resolved: ids only); timelines with the expert labels of old files filled in."""
    dset = table_dataset(path, table, video_ids)
    want_person = table == "timelines" and (columns is None or "person_id" in columns)
    read = _with_prob_columns(columns) if table == "timelines" else columns
    if read is not None and "person_id" in read and "person_id" not in dset.schema.names:
        read = [c for c in read if c != "person_id"] + [c for c in ("video_id", "face_id") if c not in read]
    data = dset.to_table(columns=read, filter=_filters(table, video_ids, seconds, emotions, face_ids))
    if table == "timelines":
        data = with_expert_labels(data)
        if want_person and "person_id" not in data.column_names:
            data = with_person_ids(path, data, video_ids)
        data = data.select(columns or data.column_names)
    return data


def with_person_ids(path: str, timelines: pa.Table, video_ids: list[str] | None = None) -> pa.Table:
    """`timelines` with each row's `person_id` from the identity step's tracks table (null: no
    face, no usable view of the face, or identity off), rows in their order."""
    fs, root = _open_fs(path)
    tracks = _identity_datasets(fs, root)["tracks"]
    flt = None if video_ids is None else pc.field("video_id").isin(list(video_ids))
    keys = tracks.to_table(columns=["video_id", "face_id", "person_id"], filter=flt) if tracks.files else None
    if keys is None or keys.num_rows == 0 or timelines.num_rows == 0:
        return timelines.append_column("person_id", pa.nulls(timelines.num_rows, pa.int64()))
    keys = keys.group_by(["video_id", "face_id"]).aggregate([("person_id", "min")])
    keys = keys.select(["video_id", "face_id", "person_id_min"]).rename_columns(["video_id", "face_id", "person_id"])
    rows = timelines.append_column("_row", pa.array(np.arange(timelines.num_rows)))
    joined = rows.join(keys, keys=["video_id", "face_id"], join_type="left outer").sort_by("_row")
    return joined.drop_columns(["_row"])


def _with_prob_columns(cols: list[str] | None) -> list[str] | None:
    """`cols` plus the probabilities an asked-for expert label may have to be computed from."""
    if cols is None:
        return None
    extra = [c for col, pfx in EXPERT_LABELS.items() if col in cols for c in prob_columns(pfx)]
    return list(cols) + [c for c in extra if c not in cols]


def _identity_datasets(fs: pafs.FileSystem, root: str) -> dict[str, ds.Dataset]:
    """The identity tables (identity/collection.py): `tracks` (a person_id per face track) and
    `persons`, empty with their schema when identity is off or never ran."""
    from emotion_batch.identity.collection import PERSONS, TRACKS
    from emotion_batch.schemas import PERSON_SCHEMA, TRACK_SCHEMA

    return {name: ds.dataset(_table_files(fs, root, folder), schema=schema, format="parquet", filesystem=fs)
            for name, folder, schema in (("tracks", TRACKS, TRACK_SCHEMA), ("persons", PERSONS, PERSON_SCHEMA))}


def __getattr__(name: str):
    """`run_sql` and its limits live in sql.py; `from emotion_batch.query import run_sql` works
    without importing DuckDB's side for readers that never run SQL."""
    if name in ("run_sql", "DEFAULT_TIMEOUT_S", "DEFAULT_MEMORY_LIMIT"):
        from emotion_batch import sql

        return getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Read the result tables back: filtered DataFrames (`open_results`) or read-only SQL (`run_sql`).

Both read the per-video Parquet files under a results root (see `store.py`) through
`pyarrow.dataset`, so filters and column choices are pushed down to the files. A table
whose folder is empty or missing reads as an empty table with its declared schema.

Videos can be named by file name, path or video id (`resolve.py`); a name that is not in the
manifest is a QueryError, never an empty answer. Every read of the manifest goes through
`manifest_table`. Timeline files written before schema 3 lack `v_emotion` / `a_emotion`:
both readers compute them from v_* / a_* (`with_expert_labels`, and the same argmax in SQL).

`run_sql` exposes the tables to DuckDB as views named `timelines`, `attributions`, `videos`,
`persons` and `tracks` (identity: docs/identity.md); those keyed by video have a `file` column
(the file name from the manifest's path) after `video_id`, and `timelines` has each face row's
`person_id` (null: no person, or identity off). DuckDB itself never touches the file system:
the views are Arrow datasets
scanned by pyarrow, and the connection starts with external access disabled and its
configuration locked. On top of that only a single SELECT (or EXPLAIN) statement is
accepted, so a query can neither change the results nor read or write other files.

Every query is bounded: DuckDB's `memory_limit` (default 2GB; nothing spills to disk, as
file access is off) and a time limit (default 60 s). DuckDB has no statement timeout, so a
timer thread calls `interrupt()` on the connection when the time is up. Either limit ends
the query with a one-line QueryError that names the option to change.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.errors import first_line
from emotion_batch.fs import open_fs
from emotion_batch.labels import LABELS
from emotion_batch.resolve import UnknownVideo, resolve_videos
from emotion_batch.schemas import TABLES, prob_columns, top_labels


DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_LIMIT = "2GB"


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


def _expert_sql(col: str) -> str:
    """SQL for `col` of a timeline view: the stored label, else the argmax of its expert's
    probabilities in label order (the first on a tie, as numpy's argmax), null without them."""
    probs = prob_columns(EXPERT_LABELS[col])
    labels = "[" + ", ".join(f"'{lab}'" for lab in LABELS) + "]"
    absent = " OR ".join(f"{c} IS NULL" for c in probs)
    top = f"{labels}[list_position([{', '.join(probs)}], greatest({', '.join(probs)}))]"
    return f"coalesce({col}, CASE WHEN {absent} THEN NULL ELSE {top} END) AS {col}"


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
    video_ids: Iterable[str] | str | None = None,
    seconds: tuple[float | None, float | None] | None = None,
    emotions: Iterable[str] | str | None = None,
    face_ids: Iterable[int] | int | None = None,
    columns: dict[str, list[str]] | None = None,
) -> Results:
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


def _connect(results_root: str, memory_limit: str = DEFAULT_MEMORY_LIMIT):
    import duckdb

    fs, root = _open_fs(results_root)
    _check_root(fs, root, os.fspath(results_root))
    datasets = {t: table_dataset(results_root, t) for t in TABLES}
    if not any(d.files for d in datasets.values()):
        raise QueryError(
            f"no results in {results_root}: expected Parquet files under "
            f"{', '.join(t + '/' for t in TABLES)}"
        )
    try:
        con = duckdb.connect(
            ":memory:",
            config={
                "enable_external_access": False,  # no file, network or extension access at all
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": str(memory_limit),
                "lock_configuration": True,  # a query cannot SET any of it back
            },
        )
    except duckdb.Error as e:
        raise QueryError(f"bad --memory-limit {memory_limit!r} (examples: 500MB, 2GB): {first_line(e)}") from None
    # the manifest's rows as manifest_table gives them (two columns: cheap to read); the
    # full rows are scanned lazily, only by a query on `videos`, and follow the same rows
    con.register("_paths", manifest_table(results_root, columns=["video_id", "path"]))
    datasets.update(_identity_datasets(fs, root))
    for name, dset in datasets.items():
        con.register(f"_{name}", dset)  # read by pyarrow, not by DuckDB's file system
    for name, sql in _views(list(datasets), person_ids=bool(datasets["tracks"].files)).items():
        con.execute(f"CREATE VIEW {name} AS {sql}")
    return con


def _identity_datasets(fs: pafs.FileSystem, root: str) -> dict[str, ds.Dataset]:
    """The identity tables (identity/collection.py): `tracks` (a person_id per face track) and
    `persons`, empty with their schema when identity is off or never ran."""
    from emotion_batch.identity.collection import PERSONS, TRACKS
    from emotion_batch.schemas import PERSON_SCHEMA, TRACK_SCHEMA

    return {name: ds.dataset(_table_files(fs, root, folder), schema=schema, format="parquet", filesystem=fs)
            for name, folder, schema in (("tracks", TRACKS, TRACK_SCHEMA), ("persons", PERSONS, PERSON_SCHEMA))}


def _views(tables: list[str], *, person_ids: bool) -> dict[str, str]:
    """The SQL of each view: the table with `file` (the file name from the manifest's path)
    after video_id; `videos` keeps the rows of manifest_table, the others keep all their rows
    (file null without a manifest row); timelines get the expert labels of old files computed
    (`_expert_sql`) and each face row's person_id from the tracks table (null without tracks)."""
    views = {"_files": r"SELECT video_id, regexp_extract(path, '[^/\\]*$') AS file FROM _paths"}
    for name in tables:
        if name not in ("timelines", "attributions", "videos", "tracks"):
            views[name] = f"SELECT * FROM _{name}"
            continue
        replace, person, by_face = "", "", ""
        if name == "timelines":
            replace = f" REPLACE ({', '.join(_expert_sql(c) for c in EXPERT_LABELS)})"
            person = ", k.person_id" if person_ids else ", CAST(NULL AS BIGINT) AS person_id"
            by_face = (" LEFT JOIN (SELECT video_id, face_id, person_id FROM _tracks) k "
                       "ON k.video_id = t.video_id AND k.face_id = t.face_id") if person_ids else ""
        join = "JOIN" if name == "videos" else "LEFT JOIN"
        views[name] = (f"SELECT t.video_id, m.file, t.* EXCLUDE (video_id){replace}{person} FROM _{name} t "
                       f"{join} _files m ON m.video_id = t.video_id{by_face}")
    return views


def _check_statement(con, sql: str) -> None:
    import duckdb

    allowed = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as e:
        raise QueryError(f"bad SQL: {first_line(e)}") from None
    if len(statements) != 1:
        raise QueryError(f"expected exactly one SQL statement, got {len(statements)}")
    kind = statements[0].type
    if kind not in allowed:
        raise QueryError(
            f"read-only: only SELECT queries are allowed, not {_statement_name(sql, kind.name)} "
            "(the views are timelines, attributions, videos, persons, tracks)"
        )


_LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)*(\w+)", re.S)


def _statement_name(sql: str, kind: str) -> str:
    """The statement as the user wrote it: DuckDB files INSTALL under LOAD."""
    m = _LEADING.match(sql)
    word = m.group(1).upper() if m else kind
    return "INSTALL" if kind == "LOAD" and word in ("INSTALL", "FORCE") else kind


def run_sql(
    results_root: str, sql: str, output: Literal["arrow", "pandas"] = "arrow",
    timeout_s: float | None = DEFAULT_TIMEOUT_S, memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> pa.Table | "pandas.DataFrame":  # noqa: F821
    """Run one read-only SELECT over the views `timelines`, `attributions`, `videos`.

    Returns a pyarrow Table (or a pandas DataFrame with output="pandas"). Raises
    QueryError with a one-line message for bad SQL, a statement that is not a SELECT,
    access outside the results (files, network, extensions), a missing or empty root, and a
    query that runs longer than `timeout_s` (None or 0: no limit) or needs more memory than
    `memory_limit` (a DuckDB size such as "500MB" or "2GB").
    """
    if not sql or not sql.strip():
        raise QueryError("empty SQL query")
    con = _connect(results_root, memory_limit)
    try:
        _check_statement(con, sql)
        table = _execute(con, sql, timeout_s, memory_limit)
    finally:
        con.close()
    return table.to_pandas() if output == "pandas" else table


def _execute(con, sql: str, timeout_s: float | None, memory_limit: str) -> pa.Table:
    import duckdb

    timer = threading.Timer(timeout_s, con.interrupt) if timeout_s else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        rel = con.sql(sql)
        return rel.to_arrow_table() if rel is not None else pa.table({})
    except duckdb.InterruptException:
        raise QueryError(f"query stopped after {timeout_s:g} s (--timeout); narrow it with WHERE/LIMIT "
                         "or give a longer --timeout") from None
    except duckdb.OutOfMemoryException:
        raise QueryError(f"query needs more than {memory_limit} of memory (--memory-limit); narrow it with "
                         "WHERE/LIMIT or give a larger --memory-limit") from None
    except duckdb.PermissionException as e:
        raise QueryError(f"refused (read-only, results only): {first_line(e)}") from None
    except duckdb.Error as e:
        raise QueryError(f"bad SQL: {first_line(e)}") from None
    finally:
        if timer is not None:
            # joined, not only cancelled: a timer thread still alive at interpreter exit holds
            # `con.interrupt`, and duckdb's nanobind then prints "leaked instances" lines
            timer.cancel()
            timer.join()

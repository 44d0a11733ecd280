"""Read the result tables back: filtered DataFrames (`open_results`) or read-only SQL (`run_sql`).

Both read the per-video Parquet files under a results root (see `store.py`) through
`pyarrow.dataset`, so filters and column choices are pushed down to the files. A table
whose folder is empty or missing reads as an empty table with its declared schema.

`run_sql` exposes the tables to DuckDB as views named `timelines` (with `person_id`),
`attributions`, `videos`, `persons` and `tracks` (identity: docs/identity.md). DuckDB itself never touches the file system: the views are Arrow datasets
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
import threading
from dataclasses import dataclass
from typing import Iterable, Literal

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from emotion_batch.errors import first_line
from emotion_batch.fs import open_fs
from emotion_batch.schemas import TABLES


DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_LIMIT = "2GB"


class QueryError(ValueError):
    """A bad query or an unusable results folder; the message is one line."""


@dataclass
class Results:
    """The three tables of a results root, as pandas DataFrames."""

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
    """A lazy dataset over one table with its declared schema (empty if no files)."""
    if table not in TABLES:
        raise QueryError(f"unknown table {table!r}; tables are {', '.join(TABLES)}")
    fs, root = _open_fs(results_root)
    _check_root(fs, root, os.fspath(results_root))
    vids = None if video_ids is None else _as_list(video_ids)
    files = _table_files(fs, root, table, vids)
    return ds.dataset(files, schema=TABLES[table], format="parquet", filesystem=fs)


def _as_list(values) -> list:
    if isinstance(values, (str, int)):
        return [values]
    return list(values)


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

    video_ids   keep these videos (all three tables)
    seconds     (lo, hi): keep timeline/attribution rows with lo <= second <= hi; either end
                may be None for an open range
    emotions    keep timeline rows whose `emotion` is one of these, and attribution rows whose
                explained `label` is one of these
    face_ids    keep these face ids (-1 is the no-face row) in timelines and attributions
    columns     optional {table: [column, ...]} to read only some columns of a table
    """
    vids = None if video_ids is None else [str(v) for v in _as_list(video_ids)]
    emo = None if emotions is None else [str(e) for e in _as_list(emotions)]
    faces = None if face_ids is None else _as_list(face_ids)
    if seconds is not None and (not isinstance(seconds, (tuple, list)) or len(seconds) != 2):
        raise QueryError("seconds must be a (lo, hi) pair; use None for an open end")
    out = {}
    for table in TABLES:
        dset = table_dataset(path, table, vids)
        cols = (columns or {}).get(table)
        data = dset.to_table(columns=cols, filter=_filters(table, vids, seconds, emo, faces))
        out[table] = data.to_pandas()
    return Results(**out)


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
    for name, dset in datasets.items():
        con.register(name, dset)  # read by pyarrow, not by DuckDB's file system
    _identity_views(con, fs, root, datasets["timelines"])
    return con


def _identity_views(con, fs: pafs.FileSystem, root: str, timelines: ds.Dataset) -> None:
    """Issue 24: views `persons` and `tracks` (identity/collection.py), and `timelines` with each
    face row's `person_id` (null: no person, or identity off)."""
    from emotion_batch.identity.collection import PERSONS, TRACKS
    from emotion_batch.schemas import PERSON_SCHEMA, TRACK_SCHEMA

    tracks = ds.dataset(_table_files(fs, root, TRACKS), schema=TRACK_SCHEMA, format="parquet", filesystem=fs)
    persons = ds.dataset(_table_files(fs, root, PERSONS), schema=PERSON_SCHEMA, format="parquet", filesystem=fs)
    con.register("tracks", tracks)
    con.register("persons", persons)
    con.unregister("timelines")
    con.register("_timelines_rows", timelines)
    if tracks.files:
        con.execute("CREATE VIEW timelines AS SELECT t.*, k.person_id FROM _timelines_rows t LEFT JOIN "
                    "(SELECT video_id, face_id, person_id FROM tracks) k USING (video_id, face_id)")
    else:  # the same columns, in the files' row order
        con.execute("CREATE VIEW timelines AS SELECT *, CAST(NULL AS BIGINT) AS person_id FROM _timelines_rows")


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
            f"read-only: only SELECT queries are allowed, not {kind.name} "
            "(the views are timelines, attributions, videos, persons, tracks)"
        )


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
            timer.cancel()

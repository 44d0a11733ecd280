"""Read-only SQL over a results folder (`run_sql`): the tables as DuckDB views.

`run_sql` exposes the tables to DuckDB as views named `timelines`, `attributions`, `videos`,
`persons` and `tracks` (identity: docs/identity.md); those keyed by video have a `file` column
(the file name from the manifest's path) after `video_id`, and `timelines` has each face row's
`person_id` (null: no person, or identity off). DuckDB itself never touches the file system:
the views are Arrow datasets scanned by pyarrow (query.py), and the connection starts with
external access disabled and its configuration locked. On top of that only a single SELECT
(or EXPLAIN) statement is accepted, so a query can neither change the results nor read or
write other files.

Every query is bounded: DuckDB's `memory_limit` (default 2GB; nothing spills to disk, as
file access is off) and a time limit (default 60 s). DuckDB has no statement timeout, so a
timer thread calls `interrupt()` on the connection when the time is up. Either limit ends
the query with a one-line QueryError that names the option to change.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Literal

import pyarrow as pa

from emotion_batch.errors import first_line
from emotion_batch.labels import LABELS
from emotion_batch.query import (EXPERT_LABELS, QueryError, _check_root, _identity_datasets, _open_fs,
                                 manifest_table, table_dataset)
from emotion_batch.schemas import TABLES, prob_columns

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_LIMIT = "2GB"


def _expert_sql(col: str) -> str:
    """SQL for `col` of a timeline view: the stored label, else the argmax of its expert's
    probabilities in label order (the first on a tie, as numpy's argmax), null without them."""
    probs = prob_columns(EXPERT_LABELS[col])
    labels = "[" + ", ".join(f"'{lab}'" for lab in LABELS) + "]"
    absent = " OR ".join(f"{c} IS NULL" for c in probs)
    top = f"{labels}[list_position([{', '.join(probs)}], greatest({', '.join(probs)}))]"
    return f"coalesce({col}, CASE WHEN {absent} THEN NULL ELSE {top} END) AS {col}"


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

"""`emotion-batch query RESULTS SQL`: read-only SQL over the result tables.

Prints the result as an aligned text table (cells and overall width truncated to the
terminal), or writes it whole to a CSV, JSON (records) or Parquet file.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import click

MAX_CELL = 40


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NULL"
    if isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = str(value)
    text = text.replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def format_table(table, limit: int | None = None, width: int | None = None) -> str:
    """An aligned text rendering of a pyarrow Table: header, rule, rows, footer."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    names = table.column_names
    shown = table if limit is None else table.slice(0, limit)
    rows = [[_cell(v) for v in r.values()] for r in shown.to_pylist()]
    numeric = [
        str(t).startswith(("int", "uint", "float", "double", "decimal")) for t in table.schema.types
    ]
    widths = [max([len(n)] + [len(r[i]) for r in rows]) for i, n in enumerate(names)]
    keep, used = 0, 0
    for w in widths:  # drop trailing columns that do not fit the terminal
        if keep and used + w > width:
            break
        used += w + 2
        keep += 1

    def line(cells):
        out = [
            c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i])
            for i, c in enumerate(cells[:keep])
        ]
        return "  ".join(out).rstrip()

    lines = [line(names), line(["-" * w for w in widths])] + [line(r) for r in rows]
    foot = f"({table.num_rows} row{'s' if table.num_rows != 1 else ''}"
    if len(rows) < table.num_rows:
        foot += f", {len(rows)} shown"
    if keep < len(names):
        hidden = names[keep:]
        listed = ", ".join(hidden[:6]) + (", ..." if len(hidden) > 6 else "")
        foot += f"; {len(hidden)} more column(s) not shown: {listed}"
    return "\n".join(lines + [foot + ")"])


def write_result(table, fmt: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif fmt == "csv":
        table.to_pandas().to_csv(path, index=False)
    else:
        table.to_pandas().to_json(path, orient="records", indent=1, date_format="iso")


@click.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path))
@click.argument("sql")
@click.option("--csv", "csv_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the whole result to this CSV file.")
@click.option("--json", "json_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the whole result to this JSON file (a list of records).")
@click.option("--parquet", "parquet_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the whole result to this Parquet file.")
@click.option("--limit", type=click.IntRange(min=0), default=None,
              help="Print at most this many rows (files always get every row).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0), default=60.0, show_default=True,
              help="Stop the query after this many seconds (0 = no limit).")
@click.option("--memory-limit", default="2GB", show_default=True,
              help="Most memory the query may use, e.g. 500MB, 2GB, 8GB (nothing spills to disk).")
def query(*, results, sql, csv_file, json_file, parquet_file, limit, timeout_s, memory_limit):
    """Run one read-only SQL SELECT over RESULTS.

    The views are `timelines`, `attributions` and `videos`; they join
    USING (video_id, face_id, second). Manifest rows (`videos`) of status
    `duplicate` name in `duplicate_of` the path that holds the results of the
    same content. Example:

    \b
      emotion-batch query results "SELECT emotion, count(*) FROM timelines GROUP BY 1"
    """
    from emotion_batch.query import QueryError
    from emotion_batch.sql import run_sql

    outputs = [(f, p) for f, p in (("csv", csv_file), ("json", json_file),
                                   ("parquet", parquet_file)) if p is not None]
    if len(outputs) > 1:
        raise click.UsageError("give at most one of --csv, --json, --parquet")
    try:
        table = run_sql(str(results), sql, timeout_s=timeout_s or None, memory_limit=memory_limit)
    except QueryError as e:
        raise click.ClickException(str(e)) from None
    if outputs:
        fmt, path = outputs[0]
        try:
            write_result(table, fmt, path)
        except (OSError, ValueError) as e:
            msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
            raise click.ClickException(f"cannot write {path}: {msg}") from None
        click.echo(f"wrote {table.num_rows} rows x {table.num_columns} columns to {path}")
    else:
        click.echo(format_table(table, limit=limit))

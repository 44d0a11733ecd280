"""`emotion-batch report RESULTS`: write the static offline HTML report of a results folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of the site (default: RESULTS/report).")
@click.option("--max-points", type=click.IntRange(min=10), default=1500, show_default=True,
              help="At most this many points per drawn series (seconds are binned).")
@click.option("--max-faces", type=click.IntRange(min=1), default=12, show_default=True,
              help="Face tracks drawn per video, longest first.")
@click.option("--no-thumbnails", is_flag=True,
              help="Do not decode face thumbnails from the original videos.")
def report(results, out_dir, max_points, max_faces, no_thumbnails):
    """Write an HTML report of RESULTS that works offline; prints the index.html path last."""
    from emotion_batch.errors import first_line
    from emotion_batch.query import QueryError
    from emotion_batch.report import build_report

    try:
        index = build_report(results, out_dir, max_points=max_points, max_faces=max_faces,
                             thumbnails=not no_thumbnails)
    except (QueryError, OSError) as e:
        raise click.ClickException(first_line(e)) from None
    click.echo(str(index.resolve()))

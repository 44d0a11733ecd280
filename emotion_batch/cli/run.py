"""`emotion-batch run INPUT --out DIR`: analyse a video file or a folder of videos."""

from __future__ import annotations

import json
import sys

import click

from emotion_batch.words import plural
from emotion_batch.config import (EXPLAIN_MODES, IDENTITY_MODES, RUNTIMES, ConfigError, ExplainConfig, RunConfig,
                                  SyncConfig)
from emotion_batch.run.engine import EngineConfig

# Exit statuses of `run` (documented in its --help and the README).
EXIT_OK, EXIT_FAILED, EXIT_ABORTED, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143


class RunAborted(click.ClickException):
    """The run could not proceed (bad output location, no input, actors cannot start): exit 2."""

    exit_code = EXIT_ABORTED


def config_options(f):
    """Options that change results; shared with `jobs/analyze.py`."""
    opts = [
        click.option("--fps", type=float, default=RunConfig.fps, show_default=True, help="Analysed frames per video-second."),
        click.option("--device", default=RunConfig.device, show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--detect-max-side", type=int, default=RunConfig.detect_max_side, show_default=True,
                     help="0 = auto (lossless for faces >= 20 px). A smaller side is faster but misses small faces."),
        click.option("--detect-interval", "detect_interval_s", type=float, default=RunConfig.detect_interval_s,
                     show_default=True, help="Once faces and tracks agree, seconds between full face detections (also one per "
                     "second); tracked faces are re-found near their last position in between, and any new or "
                     "lost face brings full detection back to every frame. 0 = full detection on every analysed frame."),
        click.option("--min-face-score", type=float, default=RunConfig.min_face_score, show_default=True),
        click.option("--audio-window", "audio_window_s", type=float, default=RunConfig.audio_window_s, show_default=True,
                     help="Seconds of audio context around each second."),
        click.option("--max-av-shift", "max_av_shift_s", type=float, default=SyncConfig.max_av_shift_s, show_default=True,
                     help="Largest audio/video offset searched by DTW, seconds."),
        click.option("--sync-window", "sync_window_s", type=float, default=SyncConfig.window_s, show_default=True,
                     help="Seconds of video decoded at full frame rate per stretch to measure the audio/video offset "
                     "(at least 1). Changes results: the offset and who speaks."),
        click.option("--sync-windows", "sync_max_windows", type=int, default=SyncConfig.max_windows, show_default=True,
                     help="At most this many such stretches, spread over a long video; 0 = the whole video (slower "
                     "on long files). Changes results: the offset and who speaks."),
        click.option("--sync-segment", "sync_segment_s", type=float, default=SyncConfig.segment_s, show_default=True,
                     help="The offset is measured in pieces of this many seconds (at least 1); how it changes over "
                     "them is the drift. Changes results: the offset and who speaks."),
        click.option("--sync-min-confidence", "sync_min_confidence", type=float, default=SyncConfig.min_confidence,
                     show_default=True, help="An offset whose mouth motion and audio agree less than this (correlation, "
                     "0-1) is not used: the container's clock (offset 0) is. Changes results: the offset and who speaks."),
        click.option("--explain", type=click.Choice(list(EXPLAIN_MODES)), default=ExplainConfig.mode, show_default=True),
        click.option("--chunk-frames", type=int, default=RunConfig.chunk_frames, show_default=True,
                     help="Frames decoded and analysed together (bounds memory)."),
        click.option("--runtime", type=click.Choice(list(RUNTIMES)), default=RunConfig.runtime, show_default=True,
                     help="Inference runtime of the face detector and the experts: auto = onnx (onnxruntime) "
                     "on the CPU, torch on a GPU. Results agree to ~1e-6."),
        click.option("--fusion", "fusion_params", default=RunConfig.fusion_params,
                     help="A fusion gate fitted on your own labelled clips (`train fusion --out FILE`); "
                     "default: the shipped gate. It must be readable from every node."),
        click.option("--identity", type=click.Choice(list(IDENTITY_MODES)), default=RunConfig.identity, show_default=True,
                     help="Face-recognition embeddings (biometric data, kept under --out) give each face a person_id: "
                     "the same across all videos of --out (collection), within each video (video), or none (off)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def build_config(**kw) -> RunConfig:
    """The RunConfig (with its sync and explain sub-configs) from `config_options`' flat names."""
    try:
        return RunConfig.from_flat(**kw)
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def print_summary(summary, out: str, echo=click.echo, log_path: str | None = None) -> None:
    ok = [r for r in summary.rows if r.ok]
    n_ok = summary.n_ok  # the summary keeps only the first ok rows
    echo("")
    others = [plural(len(summary.duplicates), "duplicate")] if summary.duplicates else []
    others += [f"{summary.busy} left to another run"] if summary.busy else []
    others = "".join(f", {o}" for o in others)
    echo(f"Analysed {plural(n_ok, 'video')}, {summary.video_seconds:.1f} video-seconds in {summary.wall_s:.1f} s"
         f" ({summary.video_seconds / max(summary.wall_s, 1e-9):.2f}x real time); "
         f"{summary.skipped} already done, {len(summary.failed)} failed{others}.")
    totals = summary.stage_totals()
    if any(totals.values()):
        echo("Stage seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in totals.items() if v))
    for r in ok[:20]:
        echo(f"  ok      {r.path}  ({r.duration_s:.1f} s, {plural(r.faces_found, 'face track')})")
    if n_ok > 20:
        echo(f"  ... and {n_ok - 20} more")
    for r in summary.failed:
        echo(f"  FAILED  {r.path}: {r.error}")
    echo(f"Results: {out}  (query: emotion-batch query {out} \"SELECT ...\"; report: emotion-batch report {out})")
    if summary.failed:
        echo("Failed videos are listed in the manifest (videos/); fix or remove them and run again: "
             "finished videos are skipped.")
        if log_path:
            echo(f"details: {log_path}")


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


# The options `ray_options` adds, all EngineConfig fields (built by `engine_config`).
ENGINE_OPTIONS = ("engine", "address", "actors", "min_actors", "cpus_per_actor", "gpus_per_actor", "segment_s",
                  "max_retries", "unit_timeout_s", "resources", "actor_concurrency")


def ray_options(f):
    """How the work is spread over Ray; shared with `jobs/analyze.py`."""
    opts = [
        click.option("--engine", type=click.Choice(["ray", "local"]), default="ray", show_default=True,
                     help="ray: actors on an embedded or existing Ray cluster; local: one process, "
                     "one video after another (debugging, profiling)."),
        click.option("--address", default=None, help="Ray cluster to join (default: RAY_ADDRESS, else an "
                     "embedded local Ray)."),
        click.option("--actors", "--max-actors", "actors", type=click.IntRange(min=1), default=None,
                     help="Most analysis actors (default: as many as fit, one per GPU or CPU actors; the pool "
                     "grows when nodes join and shrinks at the end)."),
        click.option("--min-actors", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Fewest analysis actors the pool keeps."),
        click.option("--cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="CPUs reserved per actor; CPU actors also use this many torch threads "
                     "(default: 1 with GPUs, else min(4, CPUs of a node))."),
        click.option("--gpus-per-actor", type=click.FloatRange(min=0), default=1.0, show_default=True,
                     help="GPUs per actor; a fraction packs several actors on one GPU."),
        click.option("--segment-s", type=click.FloatRange(min=1), default=None,
                     help="Videos longer than this are split into segments of this many seconds, "
                     "analysed in parallel and merged (default: 300, or 60 when there are fewer files "
                     "than analysis slots, so that every slot has work)."),
        click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
                     help="Times a unit of work is retried after its actor died or it timed out."),
        click.option("--unit-timeout", "unit_timeout_s", type=click.FloatRange(min=0, min_open=True), default=3600.0,
                     show_default=True, help="Seconds one unit (a video or segment) may take; past it, its actor "
                     "is restarted and the unit retried, then recorded failed."),
        click.option("--resources", callback=_resources, default=None,
                     help="JSON custom resources each actor requires, e.g. '{\"emotion_worker\": 1}'."),
        click.option("--actor-concurrency", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Units analysed at once per actor (2 overlaps decoding with compute)."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def ctrl_c_interrupts():
    """While the run lasts, SIGINT (Ctrl-C, `kill -INT`) and SIGTERM raise in the main thread
    (KeyboardInterrupt, run.interrupts.Terminated), whatever this process inherited: Python
    installs SIGINT's handler only when SIGINT is not ignored at start-up, and a process
    started in the background by a shell without job control (`cmd &` in a script) inherits
    it ignored; the run then could not be stopped and finished with exit 0."""
    from emotion_batch.run.console.interrupts import interrupts

    return interrupts()


def _with_log(message: str, log_path: str | None) -> str:
    """A stop's one line, and where its details are."""
    return f"{message}\ndetails: {log_path}" if log_path else message


def engine_config(**kw) -> EngineConfig:
    """The engine settings from `ray_options` (and --no-progress), built once."""
    try:
        return EngineConfig(**{**kw, "resources": kw.get("resources") or {}})
    except ConfigError as e:
        raise click.BadParameter(str(e)) from None


def execute(inputs: str | list[str], *, out: str, config: RunConfig, engine: EngineConfig, force: bool = False) -> int:
    """Discover (one input or several), check --out, analyse and summarise; returns the exit
    status (EXIT_FAILED when a video failed, EXIT_INTERRUPTED when interrupted). Raises
    RunAborted (exit EXIT_ABORTED) when the run cannot proceed."""
    summary, log_path = run_batch(inputs, out=out, config=config, engine=engine, force=force)
    if isinstance(summary, int):  # interrupted (Ctrl-C or SIGTERM)
        return summary
    if summary is NOTHING_TO_DO:
        return EXIT_OK
    print_summary(summary, out, log_path=log_path)
    return EXIT_FAILED if summary.failed else EXIT_OK


def run_batch(inputs: str | list[str], *, out: str, config: RunConfig, engine: EngineConfig, force: bool = False,
              echo=None, hook=None):
    """The run without its summary, shared by `run`, `jobs/analyze.py` and `emotion_batch.analyze`:
    discover, check --out, analyse under a run log. Returns (BatchSummary, or NOTHING_TO_DO when
    every input was already finished, or the exit status when interrupted; the log's path).
    Raises RunAborted when the run cannot proceed. `echo` gets the run's one-line messages
    (default: stderr); `hook` watches every video's analysis."""
    from emotion_batch.run.console.native import native_output_to
    from emotion_batch.run.console.runlog import RunLog
    from emotion_batch.run.discover import discover
    from emotion_batch.run.storage.output import OutputError, check_output

    echo = echo or (lambda m: click.echo(m, err=True))
    inputs = [inputs] if isinstance(inputs, str) else list(inputs)
    try:
        paths = sorted({p for inp in inputs for p in discover(inp)})
    except OSError as e:
        raise RunAborted(str(e)) from None
    label = ", ".join(inputs)
    if not paths:
        raise RunAborted(f"no video files found under {label} (looked for .mp4, .mov, .mkv, ...)")
    try:
        check_output(out)  # before anything is analysed or written
        with RunLog(out) as run_log, native_output_to(run_log.path), ctrl_c_interrupts():
            from emotion_batch.cli.supervise import note

            note(log=run_log.path)
            try:
                summary = _analyse(paths, label, out=out, config=config, engine=engine, force=force, echo=echo,
                                   hook=hook)
            except OutputError as e:
                run_log.logger.error("run stopped: %s (%s)", e, e.detail)
                raise RunAborted(_with_log(str(e), run_log.path)) from None
            except click.ClickException:
                raise
            except Exception as e:  # Ray lost, a bug: one plain line on the console, the traceback in the log
                from emotion_batch.errors import one_line_error

                run_log.logger.error("run stopped by an unexpected error", exc_info=True)
                raise RunAborted(_with_log(f"the run stopped: {one_line_error(e)}", run_log.path)) from None
    except OutputError as e:
        raise RunAborted(str(e)) from None
    return summary, run_log.path


def _analyse(paths: list[str], label: str, *, out: str, config: RunConfig, engine: EngineConfig, force: bool,
             echo, hook):
    """The analysis under an open run log: the summary, NOTHING_TO_DO, or the exit status when
    interrupted."""
    import logging

    from emotion_batch.run.console.interrupts import Terminated
    from emotion_batch.run.decide import nothing_to_do

    log = logging.getLogger("emotion_batch.run")
    ctx = _context(out, config, force)
    echo(f"Found {plural(len(paths), 'video')} under {label}")
    log.info("run: %d video(s) under %s -> %s, engine %s, config %s", len(paths), label, out, engine,
             config.to_dict())
    if nothing_to_do(paths, ctx):
        echo(f"Nothing to do: {'it is' if len(paths) == 1 else f'all {len(paths)} are'} already analysed in "
             f"{out} with this model and these settings (--force analyses again).")
        log.info("nothing to do: every input is finished in %s", out)
        return NOTHING_TO_DO
    from emotion_batch.run.core import analyse
    from emotion_batch.run.engine import ActorStartupError

    try:
        return analyse(paths, ctx, engine, echo=echo, hook=hook)
    except ActorStartupError as e:
        log.error("actors could not start: %s", e)
        raise RunAborted(str(e)) from None
    except ConfigError as e:
        raise RunAborted(str(e)) from None
    except KeyboardInterrupt as e:
        what = "Stopped by SIGTERM" if isinstance(e, Terminated) else "Interrupted"
        echo(f"\n{what}. Finished videos are kept; run the same command again to resume.")
        return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED


def _context(out: str, config: RunConfig, force: bool):
    """The run's context; temporary files a killed run left are removed (not a live run's)."""
    from emotion_batch.run.context import RunContext
    from emotion_batch.run.storage.claims import Claims
    from emotion_batch.run.storage.output import write_failure

    try:
        ctx = RunContext.build(out, config, force=force)
        ctx.store.remove_stale_temps(keep=Claims(ctx.store.fs, ctx.store.root).live_ids())
    except OSError as e:
        raise write_failure(e, out) from None
    return ctx


NOTHING_TO_DO = object()  # _analyse's answer when every input was already finished


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(exists=True))
@click.option("--out", "out", default="results", show_default=True, help="Results folder or pyarrow filesystem URI.")
@click.option("--force", is_flag=True, help="Redo videos that are already finished.")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@ray_options
@config_options
def run(*, input_path: str, out: str, force: bool, no_progress: bool, **kw) -> None:
    """Analyse INPUT (a video file or a folder, searched recursively) into per-second
    emotion timelines under --out, on Ray (embedded, or the cluster at --address /
    RAY_ADDRESS). An interrupted run resumes when run again; a second run into the same
    --out skips the videos the first one is analysing. Failures get one plain line each;
    the details go to --out/logs/run-<time>.log.

    \b
    Exit status:
      0    every video analysed (or already done)
      1    the run finished, but some videos failed (see the manifest, videos/)
      2    the run could not proceed: bad option, no videos found, --out not a
           folder, not writable or full (checked before any analysis, or when a
           write fails midway), Ray or the analysis actors cannot start
      130  interrupted (Ctrl-C, SIGINT); finished videos are kept
      143  stopped by SIGTERM (Slurm, Kubernetes): the same clean stop as
           Ctrl-C (claims released, no half files, Ray processes ended)
    A Ray run whose own Ray node is lost (its process ended from outside)
    also stops with one line, the log path and status 2."""
    from emotion_batch.cli import supervise

    engine = engine_config(progress=not no_progress, **{k: kw.pop(k) for k in ENGINE_OPTIONS})
    config = build_config(**kw)
    if supervise.wanted(engine.engine):  # the driver's Ray node may end its process: watched from here
        sys.exit(supervise.run_child(out, click.get_current_context().meta["argv"]))
    try:
        code = execute(input_path, out=out, config=config, engine=engine, force=force)
    except click.ClickException as e:
        supervise.note(status=e.exit_code)
        raise
    supervise.note(status=code)
    sys.exit(code)

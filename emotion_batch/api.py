"""`emotion_batch.analyze`: the `run` command as one call from Python (a notebook, a script).

    import emotion_batch
    res = emotion_batch.analyze("videos/", fps=2)    # a file or a folder
    res.timelines(video="interview.mp4")

It runs exactly what `emotion-batch run` runs (`cli/run.py: run_batch`: discovery, the
output checks, the run log, the local or Ray engine, resuming) and returns a `Results` over
the folder. Settings are keyword-only and named as RunConfig.flat_names() (what changes results:
fps, device, explain, ...) or as the Ray engine's options (actors, address, ...; used with
engine="ray"). There is no progress bar unless progress=True; the run's one-line messages
(files found, each failed file) are printed.

Where results go when `out` is not given: `<cache>/results/<name>-<key>`, where <cache> is
$EMOTION_BATCH_CACHE, else $XDG_CACHE_HOME/emotion-batch, else ~/.cache/emotion-batch,
<name> is the input's base name and <key> a hash of the input's absolute path(s). The same
input therefore reuses its folder: a second call analyses only new or changed files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from typing import Iterable

from emotion_batch.config import RunConfig
from emotion_batch.run.engine import EngineConfig

# The Ray engine's options (EngineConfig's fields but engine and progress, set by their own arguments).
ENGINE_OPTIONS = tuple(f.name for f in dataclasses.fields(EngineConfig) if f.name not in ("engine", "progress"))
ENGINES = ("local", "ray")


class AnalyzeError(RuntimeError):
    """The run could not proceed (no videos found, results folder not writable, Ray could not
    start); the message is one plain line."""


def default_out(inputs: Iterable[str | os.PathLike]) -> str:
    """The results folder `analyze` uses when no `out` is given (module doc)."""
    paths = sorted(os.path.abspath(os.path.expanduser(os.fspath(p))) for p in inputs)
    cache = os.environ.get("EMOTION_BATCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "emotion-batch")
    key = hashlib.sha256("\n".join(paths).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(paths[0].rstrip(os.sep)) or "input")[:40]
    return os.path.join(cache, "results", f"{name}-{key}")


def split_settings(settings: dict) -> tuple[RunConfig, dict]:
    """(RunConfig, EngineConfig fields) from analyze's keyword settings; TypeError naming the
    settings there are for an unknown one, ConfigError for a value out of range."""
    fields = set(RunConfig.flat_names())
    unknown = sorted(set(settings) - fields - set(ENGINE_OPTIONS))
    if unknown:
        raise TypeError(f"analyze() got unknown setting(s) {', '.join(unknown)}; settings are "
                        f"{', '.join(sorted(fields))} and, for engine='ray', {', '.join(ENGINE_OPTIONS)}")
    config = RunConfig.from_flat(**{k: v for k, v in settings.items() if k in fields})
    return config, {k: v for k, v in settings.items() if k in ENGINE_OPTIONS}


def analyze(path_or_folder: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike | None = None,
            *, engine: str = "local", force: bool = False, progress: bool = False, echo=print, **settings):
    """Analyse a video file, a folder (searched recursively) or a list of them into `out`
    (default: a cache folder, module doc) and return its `Results`. Files already finished
    there with the same model and settings are not analysed again (force=True redoes them).

    engine      "local" (this process, one file after another) or "ray" (actors on an embedded
                or existing Ray cluster, as `emotion-batch run`)
    progress    show the progress bar (off by default)
    echo        where the run's one-line messages go (print; None to keep them quiet)
    settings    RunConfig settings by their flat names (fps=2, device="cpu", explain="none",
                sync_window_s=10, ...: RunConfig.flat_names()) and, with engine="ray", its
                options (actors, address, cpus_per_actor, segment_s, ...: EngineConfig's fields)

    A file that cannot be analysed does not stop the others: it is a `failed` row of
    `Results.videos()` with a one-line error. Raises AnalyzeError when the run cannot
    proceed at all, TypeError / ValueError for a bad setting, KeyboardInterrupt when
    interrupted (finished files are kept; the same call resumes)."""
    from emotion_batch.cli.run import RunAborted, run_batch
    from emotion_batch.results import Results

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    config, options = split_settings(settings)
    single = isinstance(path_or_folder, (str, os.PathLike))
    inputs = [os.fspath(path_or_folder)] if single else [os.fspath(p) for p in path_or_folder]
    missing = [p for p in inputs if not os.path.exists(p)]
    if missing or not inputs:
        raise AnalyzeError(f"not found: {', '.join(missing)}" if missing else "no input given")
    out = os.fspath(out) if out is not None else default_out(inputs)
    try:
        engine_config = EngineConfig(engine=engine, progress=progress, **options)
        summary, _ = run_batch(inputs, out=out, config=config, engine=engine_config, force=force,
                               echo=echo or (lambda m: None))
    except RunAborted as e:
        raise AnalyzeError(e.message) from None
    if isinstance(summary, int):  # the run was interrupted (Ctrl-C or SIGTERM)
        raise KeyboardInterrupt("interrupted; finished files are kept: the same call resumes")
    return Results(out)

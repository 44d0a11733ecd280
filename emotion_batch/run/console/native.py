"""What a run prints, and what it does not.

* `native_output_to(path)`: for the length of a run, whatever native code writes straight
  to the process's standard error (file descriptor 2) goes to the run log instead: Ray's
  C++ core worker logs its warnings and errors there, e.g. for every Ray Data actor pool
  "Actor ... has constructor arguments in the object store and max_restarts > 0" (Ray Data
  always passes its context and transform to its actors as object refs, and its actors are
  restartable), and so can onnxruntime, FFmpeg or a C library. Python's own `sys.stderr`
  (our lines and the progress bar) keeps writing to the console.
* `nothing_to_do(...)`: whether every input is already finished, checked before any engine
  starts, so that a run with nothing left to do says so in a second instead of starting Ray.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager

from emotion_batch.media import fingerprint
from emotion_batch.run.decide import dup_id
from emotion_batch.run.storage.store import ResultStore


def _fd_of(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


@contextmanager
def native_output_to(path: str | None):
    """Native writes to fd 2 go to `path` (appended) while the block runs; `sys.stderr`, if
    it wrote to fd 2, is replaced by a stream on the original console for that time. A
    `path` of None, or one that cannot be opened, changes nothing."""
    if path is None:
        yield
        return
    try:
        log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    except OSError:
        yield
        return
    old_stderr = sys.stderr
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    console_fd = os.dup(2)
    console = None
    if _fd_of(old_stderr) == 2:
        console = open(os.dup(console_fd), "w", encoding=getattr(old_stderr, "encoding", None) or "utf-8",
                       errors="backslashreplace", buffering=1)
        sys.stderr = console
    os.dup2(log_fd, 2)
    os.close(log_fd)
    try:
        yield
    finally:
        if console is not None:
            console.flush()
        os.dup2(console_fd, 2)
        os.close(console_fd)
        if console is not None:
            sys.stderr = old_stderr
            console.close()


def nothing_to_do(paths: list[str], store: ResultStore, *, config_hash: str, model_version: str,
                  force: bool) -> bool:
    """True when every path is finished `ok` with this model and these settings (or is a
    duplicate of such a finished video, already recorded). Stops at the first file that is
    not. An input path no manifest row names is new work: that is checked first, from the
    manifest's paths alone, so resuming a batch with new files hashes nothing here (the
    planner hashes every file anyway); only a batch whose paths all have rows is hashed."""
    if force or not paths:
        return False
    from emotion_batch.run.storage.current import path_index

    if len(path_index(store, paths)) < len(set(paths)):
        return False
    for path in paths:
        try:
            rec = store.done_record(fingerprint(path))
        except OSError:
            return False
        if rec is None or not rec.finished(model_version, config_hash):
            return False
        if rec.path != path and os.path.isfile(rec.path or "") and not store.exists("videos", dup_id(path)):
            return False  # a duplicate whose row is not written yet
    return True

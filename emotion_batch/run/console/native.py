"""What a run prints, and what it does not.

* `native_output_to(path)`: for the length of a run, whatever native code writes straight
  to the process's standard error (file descriptor 2) goes to the run log instead: Ray's
  C++ core worker logs its warnings and errors there, e.g. for every Ray Data actor pool
  "Actor ... has constructor arguments in the object store and max_restarts > 0" (Ray Data
  always passes its context and transform to its actors as object refs, and its actors are
  restartable), and so can onnxruntime, FFmpeg or a C library. Python's own `sys.stderr`
  (our lines and the progress bar) keeps writing to the console.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager



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

"""The run's log file.

`RunLog` sends the `emotion_batch` logger to `<out>/logs/run-<timestamp>.log` for one run
(for a URI `--out`, to the system temp folder): full tracebacks and the technical detail of
every failure go there, the console and the manifest get one plain line. Ray actors call
`attach_worker_log`: with an embedded Ray they append to the same file (its path is in the
environment they inherit), on a cluster to `<out>/logs/worker-<host>-<pid>.log`.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time


class _QuietFileHandler(logging.FileHandler):
    """A log that fails (disk full) goes quiet instead of printing tracebacks to the console."""

    def handleError(self, record):  # noqa: N802 (logging's name)
        logger = logging.getLogger("emotion_batch")
        logger.removeHandler(self)
        if not logger.handlers:  # else logging's last resort prints every later record to the console
            logger.addHandler(logging.NullHandler())
        try:
            self.close()  # flushes what is buffered: fails again on a full disk
        except OSError:
            self.stream = None  # let it go: nothing more is written here


LOG_ENV = "EMOTION_BATCH_RUN_LOG"  # the run's log file, for worker processes started by the run
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_folder(out: str) -> str:
    if "://" in out and not out.startswith("file://"):
        return os.path.join(tempfile.gettempdir(), "emotion-batch-logs")
    return os.path.join(os.path.abspath(os.path.expanduser(out.removeprefix("file://"))), "logs")


def attach_worker_log(out: str) -> str | None:
    """In a worker process (a Ray actor): send the `emotion_batch` logger to the run's log
    file (LOG_ENV, inherited by an embedded Ray's workers) or else to
    `<out>/logs/worker-<host>-<pid>.log`, and not to the console, where Ray would forward
    tracebacks to the user. Returns the file, or None when no log file can be opened."""
    logger = logging.getLogger("emotion_batch")
    path = os.environ.get(LOG_ENV)
    if not path or not os.path.isdir(os.path.dirname(path)):
        path = os.path.join(log_folder(out), f"worker-{socket.gethostname()}-{os.getpid()}.log")
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handler = _QuietFileHandler(path, encoding="utf-8", delay=True)
    except OSError:
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
        return None
    handler.setFormatter(logging.Formatter(_FORMAT.replace("%(name)s", f"%(name)s [pid {os.getpid()}]")))
    for old in [h for h in logger.handlers if isinstance(h, _QuietFileHandler)]:  # a reused worker
        logger.removeHandler(old)
        old.close()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return path


class RunLog:
    """The `emotion_batch` logger to a file for the length of a `with` block."""

    def __init__(self, out: str):
        stamp = time.strftime("%Y%m%d-%H%M%S")
        self.path = os.path.join(log_folder(out), f"run-{stamp}-{os.getpid()}.log")
        self.handler: logging.Handler | None = None
        self.logger = logging.getLogger("emotion_batch")

    def __enter__(self) -> "RunLog":
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            self.handler = _QuietFileHandler(self.path, encoding="utf-8", delay=True)
        except OSError:
            self.path = None  # checked writable just before; nothing sensible left to do
            return self
        self.handler.setFormatter(logging.Formatter(_FORMAT))
        self.handler.setLevel(logging.INFO)
        self.logger.addHandler(self.handler)
        self._old_env = os.environ.get(LOG_ENV)
        os.environ[LOG_ENV] = self.path
        if self.logger.level == logging.NOTSET or self.logger.level > logging.INFO:
            self._old_level = self.logger.level
            self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        if self.handler is not None:
            self.logger.removeHandler(self.handler)
            self.handler.close()
            if self._old_env is None:
                os.environ.pop(LOG_ENV, None)
            else:
                os.environ[LOG_ENV] = self._old_env
        if hasattr(self, "_old_level"):
            self.logger.setLevel(self._old_level)

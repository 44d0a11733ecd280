"""What reaches the console when a run stops: one plain line, never a library's traceback.

Ray Data logs an error that stops a dataset ("An exception was raised from a task of operator
...") with the whole chained traceback on its console handler; the run then stops with one
line of ours anyway. `library_logs_to_run_log(names)` moves the console handlers of those
loggers aside for the length of a run and sends their records to the run's log file (through
the `emotion_batch` logger), where the details belong. Their file handlers stay.

`user_error(e, kind)` finds our own exception (an OutputError a worker raised) inside the
wrappers Ray puts around it, so the driver can stop with its one line instead of Ray's text.
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager

RAY_CONSOLE_LOGGERS = ("ray.data", "ray")


class _ToRunLog(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.target = logging.getLogger("emotion_batch.library")

    def emit(self, record: logging.LogRecord) -> None:
        if self.target.isEnabledFor(record.levelno):
            record.msg = f"[{record.name}] {record.msg}"
            try:
                self.target.handle(record)
            except Exception:  # a log that cannot be written (disk full) must not stop the library
                pass


def _is_console(h: logging.Handler) -> bool:
    stream = getattr(h, "stream", None)
    return (isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
            and stream in (sys.stderr, sys.stdout, sys.__stderr__, sys.__stdout__))


@contextmanager
def library_logs_to_run_log(names: tuple[str, ...] = RAY_CONSOLE_LOGGERS):
    """Console handlers of the `names` loggers moved aside (records to the run's log) while
    the block lasts."""
    moved: list[tuple[logging.Logger, logging.Handler]] = []
    added: list[tuple[logging.Logger, logging.Handler]] = []
    for name in names:
        logger = logging.getLogger(name)
        consoles = [h for h in logger.handlers if _is_console(h)]
        for h in consoles:
            logger.removeHandler(h)
            moved.append((logger, h))
        if consoles:
            h = _ToRunLog()
            logger.addHandler(h)
            added.append((logger, h))
    try:
        yield
    finally:
        for logger, h in added:
            logger.removeHandler(h)
        for logger, h in moved:
            logger.addHandler(h)


def user_error(e: BaseException | None, kind: type[BaseException]) -> BaseException | None:
    """The `kind` exception inside Ray's wrappers of `e` (RayTaskError.cause, __cause__,
    __context__), or None."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        cause = getattr(e, "cause", None)
        if isinstance(e, kind) and not isinstance(cause, BaseException):
            return e
        e = cause if isinstance(cause, BaseException) else (e.__cause__ or e.__context__)
    return None

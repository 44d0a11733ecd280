"""Library console handlers go to the run's log during a run; our error found in Ray's wrappers."""

from __future__ import annotations

import io
import logging
import pickle
import sys

from emotion_batch.run.storage.output import OutputError
from emotion_batch.run.console.quiet import library_logs_to_run_log, user_error


def test_console_handlers_are_moved_to_the_run_log_and_back(monkeypatch):
    console = io.StringIO()
    monkeypatch.setattr(sys, "stderr", console)
    lib = logging.getLogger("some.library")
    handler = logging.StreamHandler(sys.stderr)
    lib.addHandler(handler)
    seen = []
    target = logging.getLogger("emotion_batch.library")

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    keep = Keep()
    target.addHandler(keep)
    try:
        with library_logs_to_run_log(("some.library",)):
            lib.error("An exception was raised from a task", exc_info=ValueError("x"))
        assert console.getvalue() == "" and seen == ["[some.library] An exception was raised from a task"]
        lib.error("after")
        assert "after" in console.getvalue()  # restored
    finally:
        lib.removeHandler(handler)
        target.removeHandler(keep)


def test_our_error_inside_wrappers_and_its_pickled_line():
    ours = OutputError("cannot write results to /r: no space left on the device", detail="errno 28")
    ours.args = (ours.args[0] + "\nFailed to apply UDF transform after 1/1 attempts",)  # what Ray Data does
    back = pickle.loads(pickle.dumps(ours))
    assert str(back) == "cannot write results to /r: no space left on the device" and back.detail == "errno 28"

    class Wrapper(OutputError):  # RayTaskError(OutputError) is both the wrapper and the type
        def __init__(self, cause):
            super().__init__("ray::MapWorker.submit() (pid=1)")
            self.cause = cause

    try:
        try:
            raise Wrapper(back)
        except Wrapper as w:
            raise RuntimeError("execution aborted") from w
    except RuntimeError as e:
        assert user_error(e, OutputError) is back
    assert user_error(ValueError("x"), OutputError) is None

"""The run's log file: the emotion_batch logger goes there, workers' too, never to the console."""

import os

from emotion_batch.run.console import runlog
from emotion_batch.run.console.runlog import LOG_ENV, RunLog, attach_worker_log


def test_run_log_collects_the_emotion_batch_logger(tmp_path):
    import logging

    with RunLog(str(tmp_path)) as log:
        logging.getLogger("emotion_batch.pipeline.analyzer").error("boom", exc_info=ValueError("deep detail"))
        logging.getLogger("other").error("not ours")
    text = open(log.path).read()
    assert os.path.dirname(log.path) == str(tmp_path / "logs")
    assert "boom" in text and "ValueError: deep detail" in text and "not ours" not in text
    assert not logging.getLogger("emotion_batch").handlers  # removed after the run


def test_worker_log_goes_to_the_run_log_not_the_console(tmp_path, monkeypatch, capsys):
    import logging

    logger = logging.getLogger("emotion_batch")
    monkeypatch.setattr(logger, "handlers", [])
    monkeypatch.setattr(logger, "propagate", True)
    monkeypatch.setattr(logger, "level", logger.level)
    with RunLog(str(tmp_path)) as run_log:
        assert os.environ[LOG_ENV] == run_log.path  # inherited by an embedded Ray's workers
        worker_env = dict(os.environ)
    assert LOG_ENV not in os.environ
    monkeypatch.setenv(LOG_ENV, worker_env[LOG_ENV])
    assert attach_worker_log(str(tmp_path)) == run_log.path
    assert attach_worker_log(str(tmp_path)) == run_log.path  # twice (a reused worker): one handler
    logging.getLogger("emotion_batch.pipeline.analyzer").error("x.mp4: unexpected error", exc_info=ValueError("tb"))
    for h in logger.handlers:
        h.flush()
    text = open(run_log.path).read()
    assert text.count("x.mp4: unexpected error") == 1 and "ValueError: tb" in text
    assert "unexpected error" not in capsys.readouterr().err
    monkeypatch.delenv(LOG_ENV)  # an actor on a cluster node: its own file under <out>/logs
    path = attach_worker_log(str(tmp_path))
    assert os.path.dirname(path) == str(tmp_path / "logs") and os.path.basename(path).startswith("worker-")
    for h in list(logger.handlers):
        h.close()


def test_a_run_log_on_a_full_disk_goes_quiet_without_raising(tmp_path, capsys):
    """Found with a real full disk under Ray: closing the failed log flushed it again, and the
    OSError came out of Ray Data's logger call, ending the run with the wrong reason."""
    import errno
    import logging

    class Full:
        def write(self, s):
            raise OSError(errno.ENOSPC, "No space left on device")

        flush = close = lambda self: Full.write(self, "")

    handler = runlog._QuietFileHandler(str(tmp_path / "run.log"), delay=True)
    logger = logging.getLogger("emotion_batch")
    logger.addHandler(handler)
    handler.stream = Full()
    propagate, logger.propagate = logger.propagate, False  # as in a worker (pytest's handlers sit on root)
    try:
        logging.getLogger("emotion_batch.x").error("an error while the disk is full")  # must not raise
        assert handler not in logger.handlers
        logging.getLogger("emotion_batch.x").error("run stopped: ...")  # not to the console either
        assert "run stopped" not in capsys.readouterr().err
    finally:
        logger.propagate = propagate
        logger.removeHandler(handler)
        for h in [h for h in logger.handlers if isinstance(h, logging.NullHandler)]:
            logger.removeHandler(h)

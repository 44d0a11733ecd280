"""SIGINT and SIGTERM raise in the main thread during a run; the handlers before come back."""

from __future__ import annotations

import os
import signal
import time

import pytest

from emotion_batch.run.console import interrupts
from emotion_batch.run.console.interrupts import Terminated


def _wait_for_signal():
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        time.sleep(0.01)
    raise AssertionError("no signal arrived")


@pytest.mark.parametrize("sig,exc", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_signal_raises_and_handlers_come_back(sig, exc):
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with pytest.raises(exc) as err:
        with interrupts.interrupts():
            os.kill(os.getpid(), sig)
            _wait_for_signal()
    assert isinstance(err.value, KeyboardInterrupt)  # every `except KeyboardInterrupt` cleanup runs
    assert (sig == signal.SIGTERM) == isinstance(err.value, Terminated)
    assert {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)} == before


def test_repeats_while_stopping_are_ignored_then_a_fourth_interrupts(caplog):
    with pytest.raises(Terminated):
        with interrupts.interrupts():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                _wait_for_signal()
            except Terminated:
                for _ in range(interrupts.IGNORED_REPEATS):  # cleanup is not cut short
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.05)
                os.kill(os.getpid(), signal.SIGTERM)
                _wait_for_signal()
    assert sum("ignored" in r.message for r in caplog.records) == interrupts.IGNORED_REPEATS


def test_reinstall_puts_them_back_after_a_library_took_sigterm():
    with interrupts.interrupts():
        signal.signal(signal.SIGTERM, lambda *a: None)  # what ray.init does
        interrupts.reinstall()
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            _wait_for_signal()
    interrupts.reinstall()  # outside a run: nothing
    assert signal.getsignal(signal.SIGTERM) is not interrupts._handler

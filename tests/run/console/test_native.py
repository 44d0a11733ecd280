"""A clean console (issue 22): native library lines go to the run log, the bar counts videos
from its first line, and a run with nothing left to do says so without starting an engine.
(The Ray engine's console is checked on the installed package, tests/test_install.py.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from emotion_batch.run.console.native import native_output_to
from videogen import make_video

ROOT = Path(__file__).resolve().parents[3]
NOISE = re.compile(r"Traceback|[Ww]arning|WARN|nanobind|leaked|\.cc:\d+|\.cpp:\d+|^[EWF]\d{4} |\bError\b",
                   re.MULTILINE)


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}  # the bar as a user sees it
    env.update(PYTHONPATH=str(ROOT), RAY_AUTH_MODE="disabled")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def test_native_writes_go_to_the_log_and_python_lines_to_the_console(tmp_path):
    code = f"""
        import os, sys
        from emotion_batch.run.console.native import native_output_to
        with native_output_to({str(tmp_path / 'run.log')!r}):
            os.write(2, b"[E 1 1] core_worker.cc:2465: constructor arguments in the object store\\n")
            print("our line", file=sys.stderr)
        os.write(2, b"after the run\\n")
    """
    r = _python(code, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == ["our line", "after the run"]
    assert "core_worker.cc:2465" in (tmp_path / "run.log").read_text()


def test_without_a_log_nothing_changes(capfd):
    with native_output_to(None):
        os.write(2, b"still here\n")
    assert "still here" in capfd.readouterr().err


@pytest.mark.slow
def test_local_run_console_is_clean_and_a_rerun_with_nothing_to_do_starts_nothing(tmp_path):
    (tmp_path / "videos").mkdir()
    make_video(tmp_path / "videos" / "face.mp4", seconds=2.0)
    run = """
        import sys
        from emotion_batch.cli import main
        try:
            main(["run", "videos", "--out", "results", "--engine", "{engine}"])
        except SystemExit as e:
            print("exit", e.code, "ray" in sys.modules, "torch" in sys.modules)
    """
    first = _python(run.format(engine="local"), tmp_path)
    console = first.stderr.replace("\r", "\n")
    assert first.stdout.splitlines()[-1].split()[:2] == ["exit", "0"], console
    assert not [ln for ln in console.splitlines() if NOISE.search(ln)], console
    bars = [ln for ln in console.splitlines() if "videos [" in ln]
    assert bars and "0.0/1 videos" in bars[0] and all("/1 videos" in b for b in bars)  # the real total from the start
    assert "1.0/1 videos" in bars[-1] and "x real time" in bars[-1]
    assert "video-s/s" not in console and "s/video" not in console  # one speed unit
    # again, on the default engine (Ray): everything is done, so neither Ray nor the models load
    again = _python(run.format(engine="ray"), tmp_path)
    assert again.stdout.splitlines()[-1].split() == ["exit", "0", "False", "False"], again.stderr
    assert "Nothing to do: it is already analysed in results" in again.stderr
    assert not [ln for ln in again.stderr.splitlines() if NOISE.search(ln)], again.stderr

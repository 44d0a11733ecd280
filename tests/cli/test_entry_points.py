"""`emotion-batch` (console script) and `python cli.py` are the same command line."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _help(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_console_script_matches_cli_py():
    script = Path(sys.executable).with_name("emotion-batch")
    if not script.exists():
        script = shutil.which("emotion-batch")
    if script is None:
        pytest.fail("the emotion-batch console script is not installed (pip install -e .)")
    via_script = _help([str(script), "--help"])
    via_file = _help([sys.executable, "cli.py", "--help"])
    assert via_script.replace("emotion-batch", "PROG") == via_file.replace("cli.py", "PROG")
    for command in ("run", "query", "report", "samples", "train", "evaluate"):
        assert command in via_script


def test_query_does_not_import_torch():
    code = "import sys; from emotion_batch.cli import main; main.get_command(None, 'query'); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr

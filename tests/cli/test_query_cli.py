"""`emotion-batch query`: printed table, file outputs, one-line errors and exit codes."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from emotion_batch.cli import main

ROOT = Path(__file__).resolve().parents[2]
_F = ROOT / "tests" / "report" / "results_factory.py"


def _factory():
    spec = importlib.util.spec_from_file_location("results_factory", _F)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("qcli")
    _factory().build(tmp / "results", tmp, long=False)
    return tmp / "results"


def _run(*args):
    return CliRunner().invoke(main, ["query", *map(str, args)], env={"COLUMNS": "200"})


def test_prints_aligned_table(results):
    r = _run(results, "SELECT video_id, status, duration_s FROM videos ORDER BY video_id")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0].split() == ["video_id", "status", "duration_s"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    body = lines[2:-1]
    assert [ln.split()[0] for ln in body] == ["vid_a", "vid_b", "vid_fail", "vid_xss"]
    assert "NULL" in body[2]  # the failed video has no duration
    # columns line up: every row's status starts where the header's does
    col = lines[0].index("status")
    assert all(ln[col:].split()[0] in {"ok", "failed"} for ln in body)
    assert lines[-1] == "(4 rows)"


def test_limit_and_wide_tables_truncate(results):
    r = CliRunner().invoke(main, ["query", str(results), "SELECT * FROM timelines",
                                  "--limit", "3"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 2 + 3 + 1
    assert all(len(ln) <= 80 for ln in lines[:-1])
    assert "3 shown" in lines[-1] and "more column(s) not shown" in lines[-1]


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_writes_files(results, tmp_path, fmt):
    out = tmp_path / f"sub/out.{fmt}"
    sql = "SELECT video_id, face_id, second, emotion FROM timelines ORDER BY video_id, face_id, second"
    r = _run(results, sql, f"--{fmt}", out)
    assert r.exit_code == 0, r.output
    if fmt == "csv":
        df = pd.read_csv(out)
    elif fmt == "json":
        df = pd.DataFrame(json.loads(out.read_text()))
    else:
        df = pq.read_table(out).to_pandas()
    n = sum(len(pq.read_table(p)) for p in (results / "timelines").glob("*.parquet"))
    assert len(df) == n and list(df.columns) == ["video_id", "face_id", "second", "emotion"]
    assert r.output.strip() == f"wrote {n} rows x 4 columns to {out}"


@pytest.mark.parametrize(
    "args, message",
    [
        (["SELEC 1"], "bad SQL"),
        (["DELETE FROM videos"], "read-only"),
        (["SELECT * FROM read_csv('/etc/passwd')"], "refused"),
        (["SELECT 1", "--csv", "a.csv", "--json", "b.json"], "at most one"),
    ],
)
def test_errors_exit_nonzero_with_one_line(results, args, message):
    r = _run(results, *args)
    assert r.exit_code != 0
    assert message in r.output
    assert len(r.output.strip().splitlines()) == 1 or "Usage" in r.output


def test_missing_results_folder(tmp_path):
    r = _run(tmp_path / "nope", "SELECT 1")
    assert r.exit_code == 1
    assert r.output.strip() == f"Error: results folder not found: {tmp_path / 'nope'}"


def test_console_entry_point(results):
    # the real front door, in a fresh interpreter
    p = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "query", str(results),
         "SELECT count(*) AS n FROM videos WHERE status = 'failed'"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["n", "-", "1", "(1", "row)"]


def test_time_and_memory_limits_are_options(results):
    endless = "SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE (a.range * b.range) % 7 = 3"
    r = _run(results, endless, "--timeout", "0.5")
    assert r.exit_code == 1 and r.output.strip() == (
        "Error: query stopped after 0.5 s (--timeout); narrow it with WHERE/LIMIT or give a longer --timeout")
    r = _run(results, "SELECT list(range) FROM range(100000000)", "--memory-limit", "20MB", "--timeout", "0")
    assert r.exit_code == 1 and "query needs more than 20MB of memory (--memory-limit)" in r.output
    assert len(r.output.strip().splitlines()) == 1
    help_text = CliRunner().invoke(main, ["query", "--help"]).output
    assert "--timeout" in help_text and "--memory-limit" in help_text and "2GB" in help_text

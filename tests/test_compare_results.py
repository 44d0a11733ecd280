"""scripts/compare_results.py, the refactoring check: SAME only when every table agrees."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from emotion_batch.run.storage.store import ResultStore

TESTS = Path(__file__).resolve().parent
SCRIPT = TESTS.parent / "scripts" / "compare_results.py"


def _factory():
    spec = importlib.util.spec_from_file_location("results_factory", TESTS / "report" / "results_factory.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _compare(a, b, *extra):
    r = subprocess.run([sys.executable, str(SCRIPT), str(a), str(b), "--atol", "0", *extra],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout


def test_same_folders_are_same_and_one_changed_value_is_found(tmp_path):
    F = _factory()
    before = tmp_path / "before"
    F.add_video(ResultStore(str(before)), "v1", "/in/a.mp4", seconds=5, faces=(0, 1))
    after = tmp_path / "after"
    shutil.copytree(before, after)
    code, out = _compare(before, after)
    assert code == 0 and out.strip().endswith("SAME"), out
    f = after / "timelines" / "v1.parquet"
    t = pq.read_table(f)
    col = t.schema.get_field_index("p_happy")
    values = t["p_happy"].to_pylist()
    i = next(k for k, v in enumerate(values) if v is not None)
    values[i] = values[i] + 1e-7  # the smallest change still counts at --atol 0
    pq.write_table(t.set_column(col, "p_happy", [values]), f)
    code, out = _compare(before, after)
    assert code == 1 and "timelines.p_happy: 1 value(s) differ" in out, out
    code, out = _compare(before, after, "--skip", "timelines.p_happy")
    assert code == 0 and "not compared, as asked: ['p_happy']" in out, out

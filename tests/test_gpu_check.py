"""benchmarks/gpu_check.py's dry run on the CPU: every phase of the one-call GPU check (package
check, environment, self-made videos, CLI processes at once, CPU/device agreement, stock vs our
detector, explain cost, runtimes, the JSON and the table) runs and reports, except nvidia-smi."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run_reports_every_phase(tmp_path, capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    res = gpu_check.main(["--dry-run", "--out", str(tmp_path), "--wheels", str(tmp_path / "no_wheels")])
    assert res["install"]["missing_after"] == []
    saved = json.loads((tmp_path / "gpu_check.json").read_text())
    for phase in ("env", "agreement", "detector", "explain", "runtimes"):
        assert "error" not in saved[phase], saved[phase]
    assert saved["env"]["package_imports"] and saved["env"]["date_utc"]
    rows = saved["throughput"]
    assert [(r["size"], r["procs"]) for r in rows] == [("320x180", 2)]
    for r in rows:
        assert r["videos"] == r["procs"] and r["rtf_all"] > 0 and r["gpu_sm_pct"] is None
        assert r["face_seconds"] >= 2 * r["procs"]  # the self-made videos hold faces the product finds
    assert saved["agreement"]["agree"] and saved["agreement"]["face_seconds_cpu"] > 0
    assert all(d["ours_faces"] > 0 and d["stock_faces"] > 0 for d in saved["detector"])
    assert saved["explain"]["sample"]["status"] == "ok"
    assert {k for k, v in saved["runtimes"].items() if "analysis_s" in v} == {"torch", "onnx"}
    table = (tmp_path / "gpu_check.txt").read_text()
    assert "GPU vs CPU" in table and "AGREE" in table and "320x180" in table and "stock MTCNN" in table
    assert table in capsys.readouterr().out


def test_dmon_log_mean_sm_utilisation():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_report
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    log = "# gpu    sm   mem   enc   dec\n# Idx     %     %     %     %\n    0    40    10     0     0\n    0    60    12     0     0\n"
    assert gpu_report.mean_sm(log) == pytest.approx(50.0)
    assert gpu_report.mean_sm("") is None
    assert gpu_report.mean_sm("# gpu sm mem\n# Idx % %\n 0 - -\n") is None

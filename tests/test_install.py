"""Installed like any package (issue 22): the wheel holds one top-level package with its data,
builds without setuptools warnings, and once installed into a fresh virtual environment
outside the checkout, `emotion-batch` works from another folder with a clean console.

The fresh environment gets the wheel alone (`--no-deps`); its dependencies are the ones
this interpreter already has (the exact pins of constraints.txt), seen through a .pth file
that names their folder, and nothing else: not the checkout, not its editable install
(a .pth line that is a folder is added to sys.path without running the .pth files in it).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from conftest import SAMPLE_VIDEOS

ROOT = Path(__file__).resolve().parents[1]

# Anything of this on a user's console is a bug: Python tracebacks and warnings, library
# log lines (glog's "E1204 ...", Ray's "[... E pid tid] core_worker.cc:..."), leak reports.
NOISE = re.compile(r"Traceback|[Ww]arning|WARN|nanobind|leaked|\.cc:\d+|\.cpp:\d+|^[EWF]\d{4} |\bError\b",
                   re.MULTILINE)


def _sources(dst: Path) -> Path:
    """The checkout's files as a fresh clone has them (tracked and new, not ignored ones: no
    build/, .venv or stale egg-info), so the wheel is built from what is committed."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, str]:
    """(the wheel, the build's output)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = _sources(tmp / "src")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-build-isolation",
                        "--no-index", "-w", str(tmp / "dist"), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    (whl,) = (tmp / "dist").glob("emotion_batch-*.whl")
    return whl, r.stdout + r.stderr


def test_wheel_is_one_package_with_its_data_and_builds_without_warnings(wheel):
    whl, log = wheel
    names = zipfile.ZipFile(whl).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"emotion_batch"}
    for folder, pattern in [("emotion_batch/models/weights", "*"), ("emotion_batch/models/onnx", "*"),
                            ("emotion_batch/report/templates", "*")]:
        shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob(pattern) if p.is_file()}
        assert shipped and shipped <= set(names), sorted(shipped - set(names))
    assert "emotion_batch/models/MODEL_CARD.md" in names
    assert not [n for n in names if "__pycache__" in n or n.startswith("tests/")]
    entry = zipfile.ZipFile(whl).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "emotion-batch = emotion_batch.cli:main" in entry
    # setuptools' "Package 'x' is absent from the `packages` configuration ... would be ignored"
    assert not re.search(r"would be ignored|absent from the .packages|SetuptoolsDeprecationWarning", log), log


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    whl, _ = wheel
    env = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True, timeout=120)
    site = Path(subprocess.run([str(env / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    deps = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (site / "_emotion_batch_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "--quiet",
                        "--no-deps", "--no-index", "--ignore-installed", str(whl)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    return env


def _user_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TQDM_DISABLE", "PYTHONWARNINGS")}
    env.update(RAY_AUTH_MODE="disabled", RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_USAGE_STATS_ENABLED="0")
    return env


def _cli(env_dir: Path, cwd: Path, *args: str, rc: int = 0) -> str:
    r = subprocess.run([str(env_dir / "bin" / "emotion-batch"), *args], cwd=cwd, env=_user_env(),
                       capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == rc, out
    noise = [ln for ln in out.replace("\r", "\n").splitlines() if NOISE.search(ln)]
    assert not noise, noise
    return out


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.shared
def test_installed_cli_runs_from_another_folder_with_a_clean_console(venv, tmp_path):
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import emotion_batch; print(emotion_batch.__file__)"],
                           cwd=tmp_path, env=_user_env(), capture_output=True, text=True, check=True).stdout
    assert where.startswith(str(venv)), where  # the installed copy, not the checkout
    assert "run" in _cli(venv, tmp_path, "--help") and "Usage" in _cli(venv, tmp_path, "run", "--help")
    (tmp_path / "videos").mkdir()
    shutil.copy(SAMPLE_VIDEOS / "single_face.mp4", tmp_path / "videos")
    out = _cli(venv, tmp_path, "run", "videos", "--out", "results")  # the default engine: an embedded Ray
    assert "Analysed 1 video" in out and "1.0/1 videos" in out
    assert "0.0/1 videos" in out and "/0 videos" not in out  # the bar starts with the real total
    again = _cli(venv, tmp_path, "run", "videos", "--out", "results")
    assert "Nothing to do" in again and "Analysing on" not in again  # no Ray started for nothing
    table = _cli(venv, tmp_path, "query", "results", "SELECT face_id, count(*) AS n FROM timelines GROUP BY 1")
    assert "(1 row)" in table
    site = _cli(venv, tmp_path, "report", "results")
    assert (tmp_path / "results" / "report" / "index.html").is_file() and "index.html" in site

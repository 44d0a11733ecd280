"""The results location: checked before any analysis, write failures that stop the run, the log.

`check_output(out)` runs before anything is analysed or written and raises `OutputError`
with one line saying what is wrong and where:

* `--out` (or a folder above it, or one of its table folders) is a file, not a folder;
* it cannot be created or written (read-only file system, no permission): a temporary file
  is created and removed to find out;
* it is empty, or on a virtual file system (/proc, /sys: no storage behind it);
* its file system has less than `MIN_FREE_BYTES` (200 MB) free: results of one video are
  small (a few MB for an hour), so this only trips on a disk that is really full;
* a URI (s3://, gs://, ...) that pyarrow cannot open, or where a folder cannot be made.

A write that fails during the run (the disk filled up midway) raises `OutputError` from
`write_failure` too; the runners let it through, so the run stops at once with that line
instead of recording every following video as failed. Existing results are never touched
by any of this.
The run's log file is console/runlog.py's.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid

import pyarrow.fs as pafs

from emotion_batch.errors import UserFacingError, first_line
from emotion_batch.fs import open_fs

MIN_FREE_BYTES = 200 * 2**20
SUBFOLDERS = ("timelines", "attributions", "videos", "claims", "logs")

_WHY = {
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied (no write access)",
    errno.EPERM: "permission denied (no write access)",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "a folder is in the way",
    errno.ENAMETOOLONG: "the path is too long",
}


# What object stores (pyarrow's S3/GCS clients) say, in plain words (first match wins).
_REMOTE = [(re.compile(p, re.I), text) for p, text in (
    (r"curlCode: 6\b|resolve host", "the storage service's host name cannot be resolved (check the URI's "
     "endpoint and this machine's network)"),
    (r"curlCode: (?:7|28)\b|NETWORK_CONNECTION|connect to server|timed? ?out",
     "the storage service cannot be reached (check the endpoint and the network)"),
    (r"ACCESS_DENIED|AccessDenied|Forbidden|\b403\b|InvalidAccessKeyId|SignatureDoesNotMatch|credentials",
     "access denied (check the credentials and the bucket's permissions)"),
    (r"NoSuchBucket|bucket does not exist|NOT_FOUND", "the bucket does not exist"),
    (r"Unrecognized filesystem type", "unknown storage type in the URI (use a folder, s3://, gs:// or file://)"),
    (r"Unexpected query parameter|Invalid URI|Cannot parse URI", "the URI is malformed or has an unknown option"),
)]


class OutputError(UserFacingError):
    """The results location cannot be used: the run cannot proceed (exit status 2)."""


def why(e: BaseException) -> str:
    """Plain words for an OSError (pyarrow's carry the errno only in their text)."""
    code = getattr(e, "errno", None)
    if code is None:
        m = re.search(r"errno\s*\[?(\d+)", str(e), re.I)
        code = int(m.group(1)) if m else None
    if code in _WHY:
        return _WHY[code]
    for pattern, plain in _REMOTE:  # object stores carry no errno
        if pattern.search(str(e)):
            return plain
    if code is not None:
        return os.strerror(code).lower()
    return first_line(e, 200)


def write_failure(e: BaseException, out: str) -> OutputError:
    return OutputError(f"cannot write results to {out}: {why(e)}; the run stopped "
                       f"(results written so far are kept; fix this and run again to resume)",
                       detail=repr(e))


def check_output(out: str, min_free: int = MIN_FREE_BYTES) -> None:
    """Raise OutputError when results cannot be written to `out` (see the module doc)."""
    if not out or not out.strip() or out.strip() == "file://":
        raise OutputError("--out is empty: give the folder (or URI) for the results")
    if "://" in out and not out.startswith("file://"):
        return _check_uri(out)
    path = os.path.abspath(os.path.expanduser(out[len("file://"):] if out.startswith("file://") else out))
    existing = _check_folders(out, path)
    usage = shutil.disk_usage(existing)
    free = usage.free
    if usage.total == 0:  # procfs, sysfs, ...: no storage behind it
        raise OutputError(f"--out {out} is on a virtual file system with no storage behind it ({existing}, like "
                          "/proc or /sys): choose a folder on a disk")
    if free < min_free:
        raise OutputError(f"not enough free space for results in {out}: {free / 2**20:.0f} MB free, at least "
                          f"{min_free / 2**20:.0f} MB needed; free some space or choose another --out")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the results folder {out}: {why(e)}", detail=repr(e)) from None
    for folder in [path] + [os.path.join(path, s) for s in SUBFOLDERS if os.path.isdir(os.path.join(path, s))]:
        _try_write(folder, out)


def _check_folders(out: str, path: str) -> str:
    """Raise when a file stands where a folder must be; returns the nearest existing folder."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"--out {out} is a file, not a folder: give a folder for the results")
    if os.path.isdir(path):
        parent = path
    else:
        parent = os.path.dirname(path)
        while not os.path.exists(parent) and parent != os.path.dirname(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise OutputError(f"--out {out} cannot be created: {parent} is a file, not a folder")
    for sub in SUBFOLDERS:
        p = os.path.join(path, sub)
        if os.path.exists(p) and not os.path.isdir(p):
            raise OutputError(f"--out {out} holds a file named {sub}, where the results need a folder: "
                              "move it away or choose another --out")
    return parent


def _try_write(folder: str, out: str) -> None:
    probe = os.path.join(folder, f".write-test-{uuid.uuid4().hex[:8]}")
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            os.write(fd, b"x")
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        where = out if folder == os.path.abspath(os.path.expanduser(out)) else folder
        raise OutputError(f"cannot write results to {where}: {why(e)}; choose another --out", detail=repr(e)) from None


def _check_uri(out: str) -> None:
    try:
        fs, root = open_fs(out)
        fs.create_dir(root, recursive=True)
        probe = f"{root}/.write-test-{uuid.uuid4().hex[:8]}"
        with fs.open_output_stream(probe) as f:
            f.write(b"x")
        fs.delete_file(probe)
    except Exception as e:  # pyarrow raises OSError, ArrowInvalid, ArrowNotImplementedError
        raise OutputError(f"cannot write results to {out}: {why(e)}", detail=repr(e)) from None
    if fs.get_file_info(root).type == pafs.FileType.File:
        raise OutputError(f"--out {out} is a file, not a folder: give a folder for the results")

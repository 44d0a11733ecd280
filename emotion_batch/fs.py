"""The one opener of a results location (a local path or any pyarrow filesystem URI), and the
one atomic Parquet writer into it."""

from __future__ import annotations

import os
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def open_fs(root: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for `root`: s3://, gs://, file:// URIs through pyarrow,
    anything else as a local path (made absolute, ~ expanded). Raises pyarrow.ArrowInvalid or
    OSError for a URI pyarrow cannot open."""
    root = os.fspath(root)
    if "://" in root:
        fs, path = pafs.FileSystem.from_uri(root)
        return fs, path.rstrip("/")
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(root))


def write_atomic(fs: pafs.FileSystem, final: str, data: pa.Table, prefix: str = ".") -> None:
    """Write `data` as Parquet under a hidden temporary name beside `final`, then rename it:
    a killed writer leaves the old file or the new one, never half a file."""
    tmp = f"{final.rsplit('/', 1)[0]}/{prefix}{uuid.uuid4().hex[:8]}.tmp"
    try:
        with fs.open_output_stream(tmp) as sink:
            pq.write_table(data, sink, compression="zstd")
        fs.move(tmp, final)
    except BaseException:
        try:
            fs.delete_file(tmp)
        except (OSError, FileNotFoundError):
            pass
        raise

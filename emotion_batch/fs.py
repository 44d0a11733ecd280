"""The one opener of a results location: a local path or any pyarrow filesystem URI."""

from __future__ import annotations

import os

import pyarrow.fs as pafs


def open_fs(root: str | os.PathLike) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path inside it) for `root`: s3://, gs://, file:// URIs through pyarrow,
    anything else as a local path (made absolute, ~ expanded). Raises pyarrow.ArrowInvalid or
    OSError for a URI pyarrow cannot open."""
    root = os.fspath(root)
    if "://" in root:
        fs, path = pafs.FileSystem.from_uri(root)
        return fs, path.rstrip("/")
    return pafs.LocalFileSystem(), os.path.abspath(os.path.expanduser(root))

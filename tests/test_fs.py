"""The one opener of a results location."""

import os

import pyarrow.fs as pafs

from emotion_batch.fs import open_fs


def test_local_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fs, path = open_fs("results")
    assert isinstance(fs, pafs.LocalFileSystem) and path == os.path.join(str(tmp_path), "results")


def test_uris_go_through_pyarrow(tmp_path):
    fs, path = open_fs(f"file://{tmp_path}/out/")
    assert isinstance(fs, pafs.LocalFileSystem) and path == f"{tmp_path}/out"

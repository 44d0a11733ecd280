"""What the report reads from a results folder, listed once: the manifest rows, and for each
video its Parquet files with their size and modification time (the incremental build's key).

Tables read: videos/ (the manifest; retired rows live in retired/, which is never listed),
timelines/, attributions/, and the identity step's tracks/ (video_id, face_id -> person_id) and
persons/persons.parquet when they exist. Files are read whole with every column they have, so
a timeline that carries person_id (or v_emotion / a_emotion) keeps it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.fs import open_fs
from emotion_batch.query import QueryError
from emotion_batch.schemas import MANIFEST_SCHEMA

PER_VIDEO = ("timelines", "attributions", "tracks")
PERSONS_FILE = "persons/persons.parquet"


@dataclass
class Source:
    root: str
    fs: pafs.FileSystem
    base: str
    files: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)  # table -> vid -> (size, mtime)

    @classmethod
    def open(cls, root: str | os.PathLike) -> Source:
        shown = os.fspath(root)
        try:
            fs, base = open_fs(shown)
        except (pa.ArrowInvalid, OSError) as e:
            raise QueryError(f"cannot open results {shown}: {str(e).splitlines()[0]}") from None
        if fs.get_file_info(base).type != pafs.FileType.Directory:
            raise QueryError(f"results folder not found: {shown}")
        src = cls(shown, fs, base)
        for table in ("videos", *PER_VIDEO):
            src.files[table] = src._list(table)
        return src

    def _list(self, table: str) -> dict[str, tuple[int, int]]:
        sel = pafs.FileSelector(f"{self.base}/{table}", allow_not_found=True)
        out = {}
        for info in self.fs.get_file_info(sel):
            name = info.base_name
            if info.type == pafs.FileType.File and name.endswith(".parquet") and not name.startswith("."):
                mtime = info.mtime_ns if info.mtime_ns is not None else 0
                out[name[: -len(".parquet")]] = (int(info.size or 0), int(mtime))
        return out

    def read(self, table: str, vid: str) -> pd.DataFrame | None:
        """The rows of one video's file of `table`, or None when there is no such file."""
        if vid not in self.files.get(table, {}):
            return None
        with self.fs.open_input_file(f"{self.base}/{table}/{vid}.parquet") as f:
            # one video's file is small: Arrow's thread pool costs more CPU than it saves, and the
            # report reads in parallel processes already
            return pq.read_table(f, use_threads=False).to_pandas(use_threads=False)

    def stamp(self, vid: str) -> list:
        """What changes when a video's rows change: size and mtime of each of its files."""
        return [self.files[t].get(vid) for t in PER_VIDEO]

    def manifests(self) -> dict[str, dict]:
        """Manifest rows by video id, plus placeholders for videos with rows but no manifest."""
        files = [f"{self.base}/videos/{v}.parquet" for v in sorted(self.files["videos"])]
        rows: dict[str, dict] = {}
        if files:
            import pyarrow.dataset as ds

            table = ds.dataset(files, schema=MANIFEST_SCHEMA, format="parquet", filesystem=self.fs).to_table()
            rows = {r["video_id"]: r for r in table.to_pylist()}
        for vid in self.files["timelines"]:
            if vid not in rows:  # the manifest is written last: this one is unfinished
                row = {name: None for name in MANIFEST_SCHEMA.names}
                row.update(video_id=vid, status="incomplete",
                           error="no manifest row yet (still running, or the run was killed)")
                rows[vid] = row
        return rows

    def persons(self) -> pd.DataFrame | None:
        """The persons table (issue 24's identity step), or None when the folder has none."""
        path = f"{self.base}/{PERSONS_FILE}"
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        with self.fs.open_input_file(path) as f:
            return pq.read_table(f).to_pandas()

    def persons_stamp(self) -> tuple[int, int] | None:
        info = self.fs.get_file_info(f"{self.base}/{PERSONS_FILE}")
        if info.type != pafs.FileType.File:
            return None
        return int(info.size or 0), int(info.mtime_ns or 0)

"""Results on disk: one Parquet file per video per table, written atomically.

Layout under the results root (a local path or any pyarrow filesystem URI):

    timelines/<video_id>.parquet
    attributions/<video_id>.parquet
    videos/<video_id>.parquet        the manifest row; written last, so it marks "done"
    claims/<video_id>.claim          a video some run is analysing now (see claims.py)

Each file is first written under a hidden temporary name in the same folder and then
renamed, so a killed run leaves either the old file or the new one, never half a file.
Schema and model versions are stored in the Parquet key-value metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from emotion_batch.fs import open_fs, write_atomic
from emotion_batch.schemas import SCHEMA_VERSION, TABLES


@dataclass
class DoneRecord:
    status: str
    model_version: str
    config_hash: str
    path: str | None = None

    def finished(self, model_version: str, config_hash: str) -> bool:
        """Finished `ok` with this model and these settings."""
        return self.status == "ok" and self.model_version == model_version and self.config_hash == config_hash


class ResultStore:
    """Reads and writes the per-video Parquet files of one results root."""

    def __init__(self, root: str):
        self.root_uri = root
        self.fs, self.root = open_fs(root)
        for table in TABLES:
            self.fs.create_dir(f"{self.root}/{table}", recursive=True)

    def path(self, table: str, video_id: str) -> str:
        return f"{self.root}/{table}/{video_id}.parquet"

    def write(self, table: str, video_id: str, data: pa.Table, model_version: str) -> None:
        schema = TABLES[table]
        data = data.select(schema.names).cast(schema)
        meta = {
            b"emotion_batch.schema_version": SCHEMA_VERSION.encode(),
            b"emotion_batch.model_version": model_version.encode(),
            b"emotion_batch.table": table.encode(),
        }
        data = data.replace_schema_metadata({**(schema.metadata or {}), **meta})
        write_atomic(self.fs, self.path(table, video_id), data, f".{video_id}.")

    def read(self, table: str, video_id: str) -> pa.Table:
        with self.fs.open_input_file(self.path(table, video_id)) as f:
            return pq.read_table(f)

    def exists(self, table: str, video_id: str) -> bool:
        info = self.fs.get_file_info(self.path(table, video_id))
        return info.type == pafs.FileType.File

    def done_record(self, video_id: str) -> DoneRecord | None:
        """The manifest's verdict on a video, or None if it was never finished."""
        if not self.exists("videos", video_id):
            return None
        try:
            row = self.read("videos", video_id).to_pylist()[0]
        except (OSError, pa.ArrowInvalid, IndexError):
            return None  # unreadable manifest: treat as not done
        return DoneRecord(row["status"], row["model_version"], row["config_hash"], row.get("path"))

    def is_done(self, video_id: str, model_version: str, config_hash: str) -> bool:
        """True when the video finished `ok` with the same model and settings."""
        rec = self.done_record(video_id)
        return rec is not None and rec.finished(model_version, config_hash)

    def delete(self, table: str, video_id: str) -> None:
        """Remove one file if it is there."""
        try:
            self.fs.delete_file(self.path(table, video_id))
        except FileNotFoundError:
            pass

    def video_ids(self, table: str = "videos") -> list[str]:
        sel = pafs.FileSelector(f"{self.root}/{table}", allow_not_found=True)
        return sorted(
            os.path.basename(i.path)[: -len(".parquet")]
            for i in self.fs.get_file_info(sel)
            if i.path.endswith(".parquet") and not os.path.basename(i.path).startswith(".")
        )

    def remove_stale_temps(self, keep: set[str] | frozenset = frozenset()) -> int:
        """Delete temporary files a killed run left behind; returns how many. Temporaries
        of the videos in `keep` (held by a live run: being written now) stay."""
        n = 0
        for table in TABLES:
            sel = pafs.FileSelector(f"{self.root}/{table}", allow_not_found=True)
            for info in self.fs.get_file_info(sel):
                name = os.path.basename(info.path)
                if name.startswith(".") and name.endswith(".tmp") and name[1:].split(".")[0] not in keep:
                    self.fs.delete_file(info.path)
                    n += 1
        return n

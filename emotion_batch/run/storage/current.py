"""One current manifest row per input path: earlier content retired, renames followed.

Manifest files are named by content id, so a file changed in place gets a second row (its new
content) beside the old one, and a renamed file's row keeps the old path. Both engines settle
this while planning, for every input path, before anything of that path is written:

* `path_index(store, paths)`: the ids of the manifest rows that name each input path (one
  scan of the manifest's `video_id` and `path` columns, on the driver).
* `retire_stale(store, path, current_id, index)`: every other row naming `path` belongs to
  content the file no longer holds; its files (timelines, attributions, tracks, then the manifest
  row) are moved to `retired/<table>/<video_id>.parquet` (the persons step then redoes the
  persons statistics without them). Nothing reads `retired/`: `query`,
  the report and `open_results` list `<table>/*.parquet` only. It stays as history.
* `repoint(store, video_id, path)`: a finished video found under another path (renamed or
  moved; the old file is gone or holds other content) keeps its results, and its manifest row
  is rewritten with the new path.
  The local planner knows every input's content first and leaves rows of content another
  input holds to be re-pointed; Ray's planning tasks see one file each, so there such a row
  may be retired and its content analysed again under the new path (same outcome, more work).
* `holds(path, video_id)`: whether the path an earlier run recorded still holds that content
  (it is hashed again), so a copy of a file that was changed in place is
  analysed under its own path instead of being called a duplicate of it.
"""

from __future__ import annotations

import logging
import os

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from emotion_batch.media import fingerprint
from emotion_batch.run.storage.output import write_failure
from emotion_batch.run.storage.store import ResultStore

log = logging.getLogger(__name__)

RETIRED = "retired"
DATA_TABLES = ("timelines", "attributions", "tracks")  # moved before the manifest row, which marks "done"


def _manifest_files(store: ResultStore) -> list[str]:
    sel = pafs.FileSelector(f"{store.root}/videos", allow_not_found=True)
    return [i.path for i in store.fs.get_file_info(sel)
            if i.path.endswith(".parquet") and not os.path.basename(i.path).startswith((".", "_"))]


def _columns(store: ResultStore, files: list[str]) -> list[dict]:
    cols = ["video_id", "path"]
    try:
        return pads.dataset(files, format="parquet", filesystem=store.fs).to_table(columns=cols).to_pylist()
    except (OSError, pa.ArrowInvalid):  # one unreadable file: read the others one by one
        rows = []
        for f in files:
            try:
                rows += pads.dataset([f], format="parquet", filesystem=store.fs).to_table(columns=cols).to_pylist()
            except (OSError, pa.ArrowInvalid):
                log.info("manifest file %s is unreadable; ignored when settling paths", f)
        return rows


def path_index(store: ResultStore, paths: list[str]) -> dict[str, tuple[str, ...]]:
    """{input path: ids of the manifest rows naming it}, for the given paths that have rows."""
    wanted = set(paths)
    files = _manifest_files(store)
    out: dict[str, list[str]] = {}
    for row in _columns(store, files) if files else []:
        if row["path"] in wanted:
            out.setdefault(row["path"], []).append(row["video_id"])
    return {p: tuple(sorted(ids)) for p, ids in out.items()}


def _row_path(store: ResultStore, video_id: str) -> str | None:
    try:
        return store.read("videos", video_id).column("path")[0].as_py()
    except (OSError, IndexError, KeyError, pa.ArrowInvalid):
        return None


def retire(store: ResultStore, video_id: str, path: str) -> bool:
    """Move the files of `video_id` to retired/ if its manifest row still names `path`."""
    if _row_path(store, video_id) != path:
        return False  # renamed by another planner meanwhile, or gone
    for table in DATA_TABLES + ("videos",):
        if not store.exists(table, video_id):
            continue
        store.fs.create_dir(f"{store.root}/{RETIRED}/{table}", recursive=True)
        try:
            store.fs.move(store.path(table, video_id), f"{store.root}/{RETIRED}/{table}/{video_id}.parquet")
        except FileNotFoundError:  # another run into the same results retired it just now
            continue
    log.info("retired %s: %s now holds other content", video_id, path)
    return True


def retire_stale(store: ResultStore, path: str, current_id: str, index: dict[str, tuple[str, ...]],
                 keep: set[str] | frozenset = frozenset()) -> int:
    """Retire the rows naming `path` other than `current_id`'s, except those of content in
    `keep` (another input holds it: its planning rewrites the row's path); returns how many.
    Raises OutputError when the results cannot be written."""
    try:
        return sum(retire(store, vid, path) for vid in index.get(path, ()) if vid != current_id and vid not in keep)
    except OSError as e:
        raise write_failure(e, store.root_uri) from e


def repoint(store: ResultStore, video_id: str, path: str, model_version: str) -> None:
    """Rewrite the manifest row of `video_id` with `path` (the file was renamed or moved).
    Raises OutputError when the results cannot be written."""
    try:
        table = store.read("videos", video_id)
        old = table.column("path")[0].as_py()
        if old == path:
            return
        table = table.set_column(table.schema.get_field_index("path"), "path", pa.array([path], pa.string()))
        store.write("videos", video_id, table, model_version)
    except OSError as e:
        raise write_failure(e, store.root_uri) from e
    log.info("%s: results of %s now recorded under %s (renamed or moved)", video_id, old, path)


def holds(path: str | None, video_id: str) -> bool:
    """True when the file at `path` still has the content `video_id`."""
    if not path or not os.path.isfile(path):
        return False
    try:
        return fingerprint(path) == video_id
    except OSError:
        return False

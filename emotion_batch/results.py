"""`Results`: one results folder as pandas DataFrames, filtered by file name or id, and plots.

    res = emotion_batch.analyze("videos/")          # or Results("results/") for a finished run
    res.videos()                                     # the manifest, one row per file
    res.summary()                                    # one row per file in words (summary.py)
    res.timelines(video="interview.mp4")             # per (face, second) rows of one file
    res.video("interview.mp4").plot()                # swim lanes of that file (plotly)

Every table comes with a `file` column (the file name from the manifest) right after
`video_id`. A `video=` argument takes file names, paths or video ids, one or a list
(`query.video_ids_for`); a name that is not in the results is a QueryError with one plain line.
Nothing is read until a method is called, and each call reads the Parquet files again, so a
`Results` of a run still in progress sees the videos finished since.

`persons()` reads the `persons/` table when the results have one (the identity step writes
it); otherwise it is an empty DataFrame with the columns of `PERSONS_COLUMNS`. Timelines carry
`person_id` when the results have it, and the lanes are then drawn per person.
"""

from __future__ import annotations

import html
import os
from typing import Iterable

import pyarrow as pa
import pyarrow.dataset as ds

from emotion_batch import query
from emotion_batch.query import QueryError
from emotion_batch.resolve import file_name
from emotion_batch.schemas import TABLES
from emotion_batch.words import plural

# The persons table when the results have none yet: one row per person, the videos and
# face-seconds it was seen in, and where it was first seen.
PERSONS_COLUMNS = pa.schema([
    pa.field("person_id", pa.int64()),
    pa.field("n_videos", pa.int32()),
    pa.field("seconds", pa.int64()),
    pa.field("first_video_id", pa.string()),
    pa.field("first_second", pa.int32()),
])


class Results:
    """The tables of one results folder (a local path or a pyarrow filesystem URI), optionally
    narrowed to some videos (`videos`: file names, paths or ids)."""

    def __init__(self, path: str | os.PathLike, *, videos: str | Iterable[str] | None = None):
        self.path = os.fspath(path)
        fs, root = query._open_fs(self.path)
        query._check_root(fs, root, self.path)
        self._ids = None if videos is None else query.video_ids_for(self.path, videos)

    # ------------------------------------------------------------------ which videos

    def _ids_for(self, video: str | Iterable[str] | None) -> list[str] | None:
        if video is None:
            return self._ids
        ids = query.video_ids_for(self.path, video)
        if self._ids is not None:
            ids = [i for i in ids if i in self._ids]
            if not ids:
                raise QueryError(f"{video!r} is not one of the videos of this Results; "
                                 f"use Results({self.path!r}) for all of them")
        return ids

    def video(self, name: str | Iterable[str]) -> "Results":
        """The same results narrowed to the video(s) `name` names."""
        narrowed = Results.__new__(Results)
        narrowed.path, narrowed._ids = self.path, self._ids_for(name)
        return narrowed

    # ------------------------------------------------------------------ tables

    def videos(self, video: str | Iterable[str] | None = None):
        """The manifest: one row per file (status, error, duration, faces, A/V offset, ...)."""
        return self._frame(query.manifest_table(self.path, self._ids_for(video)))

    def timelines(self, video: str | Iterable[str] | None = None, *, seconds=None, emotions=None,
                  face_ids=None, columns: list[str] | None = None):
        """Per (video, face, second) rows; filters as `open_results` (seconds=(lo, hi),
        emotions, face_ids, columns). Includes v_emotion / a_emotion, each expert's label."""
        return self._read("timelines", video, seconds=seconds, emotions=emotions, face_ids=face_ids, columns=columns)

    def attributions(self, video: str | Iterable[str] | None = None, *, seconds=None, labels=None,
                     face_ids=None, columns: list[str] | None = None):
        """Why each explained second got its label: modality Shapley values and group shares."""
        return self._read("attributions", video, seconds=seconds, emotions=labels, face_ids=face_ids, columns=columns)

    def persons(self):
        """One row per person across the collection (module doc); empty with PERSONS_COLUMNS
        when these results have no persons table."""
        fs, root = query._open_fs(self.path)
        if "persons" in TABLES:
            return query.table_dataset(self.path, "persons").to_table().to_pandas()
        files = query._table_files(fs, root, "persons")
        if not files:
            return PERSONS_COLUMNS.empty_table().to_pandas()
        return ds.dataset(files, format="parquet", filesystem=fs).to_table().to_pandas()

    def summary(self, video: str | Iterable[str] | None = None):
        """One row per video in words (summary.py): file, short id, A/V offset with what it
        is ("measured", "no audio track", "no speech", "not measured"), seconds of speech and
        of voice-only readings, the dominant emotion and whether it is the face's or the
        voice's; rounded for reading."""
        from emotion_batch.summary import video_summary

        ids = self._ids_for(video)
        cols = ["video_id", "face_id", "second", "emotion", "voice_owner", "person_id"]
        tl = query.read_table(self.path, "timelines", video_ids=ids, columns=cols)
        return video_summary(self.videos(ids), tl.to_pandas())

    def sql(self, sql: str, **kw):
        """A read-only SELECT over the views timelines, attributions, videos, persons, tracks
        (`sql.run_sql`), as a DataFrame; the views are the whole folder, not narrowed by
        `video()`."""
        from emotion_batch.sql import run_sql

        return run_sql(self.path, sql, output="pandas", **kw)

    def _read(self, table, video, *, seconds, emotions, face_ids, columns):
        as_list = query._as_list
        data = query.read_table(
            self.path, table, video_ids=self._ids_for(video), seconds=seconds,
            emotions=None if emotions is None else [str(e) for e in as_list(emotions)],
            face_ids=None if face_ids is None else as_list(face_ids), columns=columns)
        return self._frame(data)

    def _frame(self, data: pa.Table):
        """`data` as a DataFrame with the file name after video_id (when it has video_id)."""
        df = data.to_pandas()
        if "video_id" not in df.columns or "file" in df.columns:
            return df
        if "path" in df.columns:
            files = df["path"].map(file_name)
        else:
            m = query.manifest_table(self.path, sorted(set(df["video_id"])), columns=["video_id", "path"])
            files = df["video_id"].map(dict(zip(m["video_id"].to_pylist(), map(file_name, m["path"].to_pylist()))))
        df.insert(df.columns.get_loc("video_id") + 1, "file", files)
        return df

    # ------------------------------------------------------------------ pictures

    def plot(self, video: str | None = None, *, seconds: tuple[int, int] | None = None,
             max_columns: int | None = None):
        """Swim lanes of one video as a plotly Figure (`lanes.py`): a lane per person / face
        track, dominant emotion per second as colour, confidence as opacity, and a voice lane.
        `video` may be left out when these results hold one video. A long video is drawn in
        columns of several seconds (at most `max_columns`, default 600); `seconds=(lo, hi)`
        draws only that stretch, per second when it is short enough (the drill-down)."""
        from emotion_batch.lanes import MAX_COLUMNS, lane_cells, lanes_figure, span_seconds

        manifest = self.videos(video)
        analysed = manifest[manifest["status"] == "ok"]
        if len(analysed) != 1:
            names = ", ".join(sorted(map(str, manifest["file"])))[:200]
            why = "none of them was analysed" if analysed.empty else f"{len(analysed)} were analysed"
            raise QueryError(f"plot draws one video and {why} ({names or 'no videos'}); "
                             'choose one: plot(video="name.mp4")')
        row = analysed.iloc[0]
        tl = self.timelines(row["video_id"])
        span = span_seconds(tl, row["duration_s"])
        lo, hi = (0, span) if seconds is None else (int(seconds[0] or 0), min(span, int(seconds[1] or span)))
        cells = lane_cells(tl, span_s=hi, start_s=lo, max_columns=max_columns or MAX_COLUMNS)
        title = html.escape(f"{row['file']} ({row['video_id'][:8]})")
        return lanes_figure(cells, span_s=hi, start_s=lo, title=title)

    def _repr_html_(self) -> str:
        """A notebook shows a Results as its summary table (file names escaped)."""
        head = html.escape(repr(self))
        return f"<p>{head}</p>" + self.summary().to_html(index=False, escape=True, na_rep="")

    def __repr__(self) -> str:
        try:
            m = query.manifest_table(self.path, self._ids, columns=["status"])["status"].to_pylist()
        except (QueryError, OSError, pa.ArrowInvalid) as e:
            return f"Results({self.path!r}: unreadable, {e})"
        counts = ", ".join(f"{m.count(s)} {s}" for s in sorted(set(m)))
        return f"Results({self.path!r}: {plural(len(m), 'video')}{': ' + counts if counts else ''})"

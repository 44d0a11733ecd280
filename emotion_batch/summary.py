"""One row per video, in words a reader can trust: what the index of a collection shows.

`video_summary(manifest, timelines)` (pandas DataFrames as `Results` returns them) gives:

    file, short_id, video_id, status, duration_s, faces, persons,
    av_sync, av_offset_s, av_confidence, av_note,
    speech_s, voice_only_s, emotion, emotion_share, emotion_from, error

* `short_id`: the first 8 hex digits of the content id (enough to tell files apart by eye);
* `av_sync` says what the A/V offset is: "measured" (mouth motion against the voice; then
  `av_offset_s` and `av_confidence` are set), "no audio track", "no speech" (an audio track
  with no usable speech in any second), or "not measured" (speech, but the offset could not
  be found; `av_note` says why). A silent track never reads as a measured 0.00 s;
* `speech_s`: seconds with usable speech (the seconds whose voice fusion used);
  `voice_only_s`: seconds whose only reading is the voice's (no face with a reading);
* `emotion` / `emotion_share`: the most frequent emotion over the face rows, or over the voice
  rows when the video has no face reading, and `emotion_from` says which ("face" / "voice");
* numbers are rounded for reading (seconds to 0.1, offsets and shares to 0.01); the tables
  keep full precision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emotion_batch.resolve import file_name
from emotion_batch.schemas import NO_FACE

COLUMNS = ["file", "short_id", "video_id", "status", "duration_s", "faces", "persons", "av_sync", "av_offset_s",
           "av_confidence", "av_note", "speech_s", "voice_only_s", "emotion", "emotion_share", "emotion_from", "error"]


def _per_video(tl: pd.DataFrame) -> pd.DataFrame:
    """speech_s, voice_only_s, persons, emotion, emotion_share, emotion_from per video_id."""
    out = {}
    for vid, rows in tl.groupby("video_id", sort=False):
        read = rows[rows["emotion"].notna()]
        face = read[read["face_id"] != NO_FACE]
        voice = read[read["face_id"] == NO_FACE]
        owner = rows["voice_owner"].fillna(False).astype(bool) if "voice_owner" in rows else None
        speech_s = int(rows.loc[owner, "second"].nunique()) if owner is not None else None
        voice_only = int(len(set(voice["second"]) - set(face["second"])))
        src, pool = ("face", face) if len(face) else (("voice", voice) if len(voice) else (None, read))
        counts = pool["emotion"].value_counts()
        persons = int(rows["person_id"].nunique()) if "person_id" in rows else None
        out[vid] = {
            "speech_s": speech_s, "voice_only_s": voice_only, "persons": persons,
            "emotion": counts.index[0] if len(counts) else None,
            "emotion_share": round(float(counts.iloc[0] / counts.sum()), 2) if len(counts) else None,
            "emotion_from": src,
        }
    return pd.DataFrame.from_dict(out, orient="index")


def _sync(row) -> tuple[str | None, float | None, float | None, str | None]:
    """(av_sync, av_offset_s, av_confidence, av_note) of one manifest row (module doc)."""
    if row["status"] != "ok":
        return None, None, None, None
    method = row.get("av_method") or ""
    has_audio = row.get("has_audio")
    if (has_audio is not None and not pd.isna(has_audio) and not bool(has_audio)) or not method:
        return "no audio track", None, None, None
    if method.startswith("dtw"):
        return "measured", _round(row.get("av_offset_s"), 2), _round(row.get("av_confidence"), 2), None
    if row.get("speech_s") == 0:
        return "no speech", None, None, None
    note = method[method.find("(") + 1:-1] if "(" in method else (method or None)
    return "not measured", None, None, note


def _round(value, digits: int):
    return None if value is None or pd.isna(value) else round(float(value), digits)


def video_summary(manifest: pd.DataFrame, timelines: pd.DataFrame) -> pd.DataFrame:
    """The summary rows (module doc), in the manifest's order; `timelines` needs video_id,
    face_id, second, emotion and, when the results have them, voice_owner and person_id."""
    m = manifest.reset_index(drop=True).copy()
    per = _per_video(timelines) if len(timelines) else pd.DataFrame()
    for col in ("speech_s", "voice_only_s", "persons", "emotion", "emotion_share", "emotion_from"):
        m[col] = m["video_id"].map(per[col]) if col in per else None
    m["speech_s"] = m["speech_s"].where(m["status"] == "ok")
    sync = pd.DataFrame([_sync(r) for r in m.to_dict("records")], index=m.index,
                        columns=["av_sync", "av_offset_s", "av_confidence", "av_note"], dtype=object)
    m[list(sync.columns)] = sync
    m["short_id"] = m["video_id"].str[:8]
    m["duration_s"] = [_round(v, 1) for v in m["duration_s"]]
    m["faces"] = m["faces_found"]
    if "file" not in m:
        m["file"] = m["path"].map(file_name)
    out = m[COLUMNS].astype(object).replace({np.nan: None})
    for col in ("faces", "persons", "speech_s", "voice_only_s"):
        out[col] = pd.array([None if v is None else int(v) for v in out[col]], dtype="Int64")
    return out

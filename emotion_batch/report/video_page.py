"""What one video's page and its index row show, from its manifest row and table rows."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from markupsafe import Markup

from emotion_batch.labels import LABELS
from emotion_batch.schemas import MANIFEST_SCHEMA, NO_FACE
from emotion_batch.report import charts
from emotion_batch.report.data import (
    best_second,
    bin_width,
    binned_means,
    dominant_per_second,
    emotion_shares,
    face_order,
    span_seconds,
    strip_segments,
)
from emotion_batch.report.pages import missing
from emotion_batch.report.thumbs import face_thumbnails

P_COLS = [f"p_{lab}" for lab in LABELS]
A_COLS = [f"a_{lab}" for lab in LABELS]
EXPERT_COLS = [f"{x}_{lab}" for x in ("v", "a") for lab in LABELS] + ["w_visual", "w_audio"]
ATTR_COLS = ["shap_visual", "shap_audio", "p_label"]
SPEAK_COLS = ["speaker_p", "voice_owner"]
VOICE_TITLE = "No face / voice"


@dataclass
class FaceView:
    face_id: int
    title: str
    seconds: int
    first_s: int
    last_s: int
    shares: list[tuple[str, float]]
    thumb: str | None = None
    fused: Markup | None = None
    fused_note: str | None = None
    experts: Markup | None = None
    experts_note: str | None = None
    modality: Markup | None = None
    modality_note: str | None = None
    speaking: Markup | None = None
    speaking_note: str | None = None


@dataclass
class VideoView:
    manifest: dict
    name: str
    page: str
    span_s: int
    bin_s: int
    shares: list[tuple[str, float]]
    strip: list = field(default_factory=list)
    faces: list[FaceView] = field(default_factory=list)
    faces_hidden: int = 0
    thumbs_note: str | None = None
    groups: Markup | None = None
    attributions: bool = False
    details: list[tuple[str, object]] = field(default_factory=list)
    config: str | None = None


def display_name(manifest: dict) -> str:
    path = manifest.get("path")
    return os.path.basename(path) if path else str(manifest["video_id"])


def _details(manifest: dict) -> tuple[list[tuple[str, object]], str | None]:
    rows = [(f.name, manifest.get(f.name)) for f in MANIFEST_SCHEMA if f.name != "config_json"]
    rows = [(k, "–" if missing(v) else v) for k, v in rows]
    raw = manifest.get("config_json")
    if missing(raw) or not raw:
        return rows, None
    try:
        return rows, json.dumps(json.loads(raw), indent=2, sort_keys=True)
    except ValueError:
        return rows, str(raw)


def summarize(manifest: dict, tl: pd.DataFrame, page: str, strip_bins: int,
              strip_width: float) -> VideoView:
    """The index row of a video: shares of emotions and a strip of the dominant one."""
    span = span_seconds(tl, manifest.get("duration_s"))
    view = VideoView(manifest=manifest, name=display_name(manifest), page=page, span_s=span,
                     bin_s=bin_width(span, strip_bins), shares=emotion_shares(tl) if len(tl) else [])
    if len(tl):
        view.strip = strip_segments(dominant_per_second(tl), span, strip_bins, strip_width)
    return view


def _owner(rows: pd.DataFrame) -> pd.Series | None:
    """The rows' voice_owner as bool, or None for results written before the column existed."""
    if "voice_owner" not in rows.columns or rows["voice_owner"].isna().all():
        return None
    return rows["voice_owner"].fillna(False).astype(bool)


def _fused_note(rows: pd.DataFrame) -> str:
    if rows[A_COLS].notna().any().any():
        return ("no fused probabilities: these seconds have too little speech for fusion to use the "
                "audio expert; its unused reading is drawn below")
    return "no fused probabilities: no face and no audio in these seconds"


def _experts_note(face: int, rows: pd.DataFrame, shown: pd.DataFrame, manifest: dict,
                  voice_seconds: set[int] | None) -> str | None:
    """Why the audio part of this face's expert chart is empty or partial (None: nothing to say)."""
    if manifest.get("has_audio") is False:
        return "the video has no audio track: the visual expert alone"
    if not rows[A_COLS].notna().any().any():
        return "no audio covers these seconds (the audio track ends before them or starts after them)"
    if face == NO_FACE or voice_seconds is None:
        return None
    with_voice = set(rows["second"].tolist()) & voice_seconds
    owned = int(shown[A_COLS].notna().all(axis=1).sum())
    if not with_voice:
        return "no speech that fusion uses was heard while this face was seen: its fused reading is its visual one"
    if owned == 0:
        return (f"this face never carried the voice (speaker_p below 0.5 in all {len(with_voice)} seconds with "
                f"speech): its fused reading is its visual one; the voice's reading is on the "
                f"'{VOICE_TITLE}' row or on the face that spoke")
    return f"audio expert drawn for the {owned} of {len(with_voice)} seconds with speech in which this face carried the voice"


def _speaking(face: int, rows: pd.DataFrame, span: int, width: int, fv: FaceView, manifest: dict) -> None:
    """The speaking strip (speaker_p, and the share of seconds carrying the voice) or why not."""
    have_p = "speaker_p" in rows.columns and rows["speaker_p"].notna().any()
    if manifest.get("has_audio") is False:
        fv.speaking_note = "not measured (no audio track: there is no voice to follow)"
        return
    if _owner(rows) is None and not have_p:
        fv.speaking_note = "not measured (results written before speaking was recorded)"
        return
    frame = pd.DataFrame({"second": rows["second"],
                          "speaker_p": rows["speaker_p"].astype(np.float32) if have_p else np.nan,
                          "voice_owner": rows["voice_owner"].astype(np.float32)})
    fv.speaking = Markup(charts.speaking(binned_means(frame, SPEAK_COLS, width, span), span, face != NO_FACE))
    if _owner(rows) is not None and not _owner(rows).any():
        fv.speaking_note = "carries the voice in no second"


def _face_view(face: int, rows: pd.DataFrame, at: pd.DataFrame, span: int, width: int,
               have_attr: bool, manifest: dict, voice_seconds: set[int] | None) -> FaceView:
    title = f"{VOICE_TITLE} (audio-only rows)" if face == NO_FACE else f"Face {face}"
    fv = FaceView(face, title, len(rows), int(rows["second"].min()), int(rows["second"].max()),
                  emotion_shares(rows))
    if rows[P_COLS].notna().any().any():
        fv.fused = Markup(charts.fused_area(binned_means(rows, P_COLS, width, span), span))
    else:
        fv.fused_note = _fused_note(rows)
    shown, owner = rows, _owner(rows)
    if face != NO_FACE and owner is not None:  # a face's audio row: the voice it carried, not its listeners'
        shown = rows.copy()
        shown.loc[~owner.to_numpy(), A_COLS] = np.nan
    if shown[EXPERT_COLS[:-2]].notna().any().any():
        fv.experts = Markup(charts.experts(binned_means(shown, EXPERT_COLS, width, span), span))
    fv.experts_note = _experts_note(face, rows, shown, manifest, voice_seconds)
    _speaking(face, rows, span, width, fv, manifest)
    face_attr = at[at["face_id"] == face] if have_attr else at
    if not have_attr:
        fv.modality_note = "not computed"
    elif face_attr.empty:
        fv.modality_note = "not computed for this face"
    else:
        fv.modality = Markup(charts.modality(binned_means(face_attr, ATTR_COLS, width, span), span))
    return fv


def video_view(manifest: dict, tl: pd.DataFrame, at: pd.DataFrame, page: str,
               max_points: int = 1500, max_faces: int = 12, thumbnails: bool = True) -> VideoView:
    """Everything one video page shows; series are binned to at most max_points."""
    view = summarize(manifest, tl, page, max_points, 1000.0)
    view.details, view.config = _details(manifest)
    view.attributions = not at.empty
    if tl.empty:
        return view
    order = face_order(tl)
    faces = [f for f in order if f != NO_FACE]
    drawn = faces[:max_faces] + ([NO_FACE] if NO_FACE in order else [])
    view.faces_hidden = len(faces) - len(faces[:max_faces])
    width = bin_width(view.span_s, max_points)
    owner = _owner(tl)
    voice_seconds = set(tl.loc[owner.to_numpy(), "second"].tolist()) if owner is not None else None
    for face in drawn:
        rows = tl[tl["face_id"] == face]
        view.faces.append(_face_view(face, rows, at, view.span_s, width, view.attributions, manifest,
                                     voice_seconds))
    if thumbnails:
        wants = {}
        for face in faces[:max_faces]:
            best = best_second(tl[tl["face_id"] == face])
            if best is not None:
                wants[face] = best
        thumbs, view.thumbs_note = face_thumbnails(manifest.get("path"), wants)
        for fv in view.faces:
            fv.thumb = thumbs.get(fv.face_id)
    if view.attributions:
        view.groups = Markup(charts.group_bars(at, faces[:max_faces]))
    return view

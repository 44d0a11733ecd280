"""What one video's page shows, from its manifest row and table rows.

The page opens with the swim lanes (lanes.py) and the evidence frame (evidence.py); the
detail of each face track folds away in a `<details>` whose charts (charts.py specs) are drawn
when it opens. A panel with nothing to show is one line saying why.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emotion_batch.labels import LABELS
from emotion_batch.schemas import MANIFEST_SCHEMA, NO_FACE
from emotion_batch.report import evidence
from emotion_batch.report.pages import charts
from emotion_batch.report.pages import lanes as lanes_view
from emotion_batch.report.data import best_second, bin_width, binned_means, emotion_shares, face_order, span_seconds
from emotion_batch.report.pages.index import safe_json, av_text
from emotion_batch.report.pages.render import missing

P_COLS = [f"p_{lab}" for lab in LABELS]
A_COLS = [f"a_{lab}" for lab in LABELS]
EXPERT_COLS = [f"{x}_{lab}" for x in ("v", "a") for lab in LABELS] + ["w_visual", "w_audio"]
ATTR_COLS = ["shap_visual", "shap_audio", "p_label"]
SPEAK_COLS = ["speaker_p", "voice_owner"]
VOICE_TITLE = "No face / voice"


@dataclass
class Panel:
    title: str
    fig: int | None = None  # index into VideoView.figs
    note: str | None = None


@dataclass
class FaceView:
    face_id: int
    title: str
    lane: str
    seconds: int
    first_s: int
    last_s: int
    shares: list[tuple[str, float]]
    thumb: str | None = None
    panels: list[Panel] = field(default_factory=list)


@dataclass
class VideoView:
    manifest: dict
    name: str
    page: str
    span_s: int
    bin_s: int
    shares: list[tuple[str, float]]
    voice_only: bool = False
    av: tuple[str, str | None] = ("–", None)
    faces: list[FaceView] = field(default_factory=list)
    faces_hidden: int = 0
    figs: list[dict] = field(default_factory=list)
    groups: Panel | None = None
    lanes: dict | None = None
    frames_note: str | None = None
    overview_s: int | None = None
    has_frames: bool = False
    details: list[tuple[str, object]] = field(default_factory=list)
    config: str | None = None
    data_json: str = "{}"
    prepared: pd.DataFrame | None = None  # the timeline with a_emotion and person_id (lanes_view.prepare)

    @property
    def person_lanes(self) -> bool:
        return bool(self.lanes) and any(lane["name"].startswith("person") for lane in self.lanes["lanes"])

    @property
    def voice_lane(self) -> bool:
        return bool(self.lanes) and any(lane["voice"] for lane in self.lanes["lanes"])

    def add(self, title: str, fig: dict | None, note: str | None = None) -> Panel:
        if fig is None:
            return Panel(title, None, note)
        self.figs.append(fig)
        return Panel(title, len(self.figs) - 1, note)


def display_name(manifest: dict) -> str:
    path = manifest.get("path")
    return os.path.basename(path) if path else str(manifest["video_id"])


def _rounded(v):
    if missing(v):
        return "–"
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"
    return v


def _details(manifest: dict) -> tuple[list[tuple[str, object]], str | None]:
    rows = [(f.name, _rounded(manifest.get(f.name))) for f in MANIFEST_SCHEMA if f.name != "config_json"]
    raw = manifest.get("config_json")
    if missing(raw) or not raw:
        return rows, None
    try:
        return rows, json.dumps(json.loads(raw), indent=2, sort_keys=True)
    except ValueError:
        return rows, str(raw)


def _has(rows: pd.DataFrame, cols: list[str]) -> bool:
    """Whether any of `cols` has a value in `rows` (column by column: no frame is copied)."""
    return any(rows[c].notna().to_numpy().any() for c in cols)


def _owner(rows: pd.DataFrame) -> pd.Series | None:
    """The rows' voice_owner as bool, or None for results written before the column existed."""
    if "voice_owner" not in rows.columns or rows["voice_owner"].isna().all():
        return None
    return rows["voice_owner"].fillna(False).astype(bool)


def _fused_note(rows: pd.DataFrame) -> str:
    if _has(rows, A_COLS):
        return ("no fused probabilities: these seconds have too little speech for fusion to use the "
                "audio expert; its unused reading is drawn below")
    return "no fused probabilities: no face and no audio in these seconds"


def _experts_note(face: int, rows: pd.DataFrame, shown: pd.DataFrame, manifest: dict,
                  voice_seconds: set[int] | None) -> str | None:
    """Why the audio part of this face's expert chart is empty or partial (None: nothing to say)."""
    if manifest.get("has_audio") is False:
        return "the video has no audio track: the visual expert alone"
    if not _has(rows, A_COLS):
        return "no audio covers these seconds (the audio track ends before them or starts after them)"
    if face == NO_FACE or voice_seconds is None:
        return None
    with_voice = set(rows["second"].tolist()) & voice_seconds
    owned = int(np.logical_and.reduce([shown[c].notna().to_numpy() for c in A_COLS]).sum())
    if not with_voice:
        return "no speech that fusion uses was heard while this face was seen: its fused reading is its visual one"
    if owned == 0:
        return (f"this face never carried the voice (speaker_p below 0.5 in all {len(with_voice)} seconds with "
                f"speech): its fused reading is its visual one; the voice's reading is on the "
                f"'{VOICE_TITLE}' row or on the face that spoke")
    return f"audio expert drawn for the {owned} of {len(with_voice)} seconds with speech in which this face carried the voice"


def _speaking(v: VideoView, face: int, rows: pd.DataFrame, width: int) -> Panel:
    title = "When this face speaks" if face != NO_FACE else "Voice with no visible speaker"
    have_p = "speaker_p" in rows.columns and rows["speaker_p"].notna().any()
    if v.manifest.get("has_audio") is False:
        return Panel(title, note="not measured (no audio track: there is no voice to follow)")
    owner = _owner(rows)
    if owner is None and not have_p:
        return Panel(title, note="not measured (results written before speaking was recorded)")
    if owner is not None and not owner.any() and face != NO_FACE:
        return Panel(title, note="carries the voice in no second")
    frame = pd.DataFrame({"second": rows["second"],
                          "speaker_p": rows["speaker_p"].astype(np.float32) if have_p else np.nan,
                          "voice_owner": rows["voice_owner"].astype(np.float32)})
    b = binned_means(frame, SPEAK_COLS, width, v.span_s)
    return v.add(title + " (share of each bin: white 0 → red 1)", charts.speaking(b, width, v.span_s, face != NO_FACE))


def _face_view(v: VideoView, face: int, rows: pd.DataFrame, *, at: pd.DataFrame, width: int, lane: str,
               voice_seconds: set[int] | None) -> FaceView:
    title = f"{VOICE_TITLE} (audio-only rows)" if face == NO_FACE else (
        f"Face {face}" + (f" ({lane})" if lane.startswith("person") else ""))
    fv = FaceView(face, title, lane, len(rows), int(rows["second"].min()), int(rows["second"].max()),
                  emotion_shares(rows))
    if _has(rows, P_COLS):
        fv.panels.append(v.add("Fused probabilities", charts.fused_area(binned_means(rows, P_COLS, width, v.span_s),
                                                                          width, v.span_s)))
    else:
        fv.panels.append(Panel("Fused probabilities", note=_fused_note(rows)))
    fv.panels.append(_speaking(v, face, rows, width))
    shown, owner = rows, _owner(rows)
    if face != NO_FACE and owner is not None:  # a face's audio row: the voice it carried, not its listeners'
        listener = ~owner.to_numpy()
        shown = pd.DataFrame({"second": rows["second"].to_numpy(), **{
            c: np.where(listener, np.nan, rows[c].to_numpy(np.float64, na_value=np.nan)) if c in A_COLS
            else rows[c].to_numpy() for c in EXPERT_COLS}})
    note = _experts_note(face, rows, shown, v.manifest, voice_seconds)
    fig = None
    if _has(shown, EXPERT_COLS[:-2]):
        fig = charts.experts(binned_means(shown, EXPERT_COLS, width, v.span_s), width, v.span_s)
    title = "Visual vs audio expert" + (" (probability: dark 0 → yellow 1)" if fig else "")
    fv.panels.append(v.add(title, fig, note or "no expert output in these seconds"))
    face_attr = at[at["face_id"] == face] if len(at) else at
    if at.empty:
        fv.panels.append(Panel("Modality attribution", note="not computed"))
    elif face_attr.empty:
        fv.panels.append(Panel("Modality attribution", note="not computed for this face"))
    else:
        b = binned_means(face_attr, ATTR_COLS, width, v.span_s)
        fv.panels.append(v.add("Modality attribution", charts.modality(b, width, v.span_s)))
    return fv


def video_view(manifest: dict, tl: pd.DataFrame | None, *, at: pd.DataFrame | None, tracks: pd.DataFrame | None,
               page: str, site: Path, max_points: int = 1500, max_faces: int = 12,
               frames: bool = True) -> VideoView:
    """Everything one video page shows; the frames are written under site/frames/<page>/."""
    tl = tl if tl is not None else pd.DataFrame()
    at = at if at is not None else pd.DataFrame()
    span = span_seconds(tl, manifest.get("duration_s")) if len(tl) else 0
    v = VideoView(manifest, display_name(manifest), page, span, bin_width(span, max_points),
                  emotion_shares(tl) if len(tl) else [])
    v.details, v.config = _details(manifest)
    offset, conf = av_text(manifest)[:2]
    v.av = (offset, conf)
    if tl.empty:
        return v
    tl = v.prepared = lanes_view.prepare(tl, tracks)
    lane_of = lanes_view.lane_of_face(tl)
    order = face_order(tl)
    faces = [f for f in order if f != NO_FACE]
    v.voice_only = not faces
    drawn = faces[:max_faces] + ([NO_FACE] if NO_FACE in order else [])
    v.faces_hidden = len(faces) - len(faces[:max_faces])
    owner = _owner(tl)
    voice_seconds = set(tl.loc[owner.to_numpy(), "second"].tolist()) if owner is not None else None
    for face in drawn:
        v.faces.append(_face_view(v, face, tl[tl["face_id"] == face], at=at, width=v.bin_s, lane=lane_of[face],
                                   voice_seconds=voice_seconds))
    if len(at):
        fig = charts.group_bars(at, faces[:max_faces])
        v.groups = v.add("Feature-group attribution", fig, None if fig else "no face rows were explained")
    else:
        v.groups = Panel("Feature-group attribution", note="not computed")
    _evidence(v, tl, faces, lane_of=lane_of, site=site, frames=frames)
    return v


def _evidence(v: VideoView, tl: pd.DataFrame, faces: list[int], *, lane_of: dict, site: Path, frames: bool) -> None:
    """Lanes (with thumbnails), evidence frames and boxes, and the page's data island."""
    seconds, v.overview_s = evidence.frame_seconds(tl, v.span_s)
    wants: dict[str, tuple[float, tuple]] = {}
    for face in faces:  # a lane's thumbnail: its longest face track's best second
        lane = lane_of[face]
        if lane not in wants:
            best = best_second(tl[tl["face_id"] == face])
            if best is not None:
                wants[lane] = best
    stem = v.page[: -len(".html")]
    ev = evidence.Evidence()
    if frames:
        ev = evidence.extract(v.manifest.get("path"), seconds=seconds, thumbs=wants, dest=site / "frames" / stem,
                              rel=f"../frames/{stem}", duration_s=v.manifest.get("duration_s"))
    else:
        ev.note = "frames not extracted (report built without frames)"
    v.frames_note, v.has_frames = ev.note, bool(ev.frames)
    v.lanes = lanes_view.lanes_data(tl, v.span_s, thumbs=ev.thumbs)
    for fv in v.faces:
        fv.thumb = ev.thumbs.get(fv.lane)
    size = ev.size or (v.manifest.get("width"), v.manifest.get("height"))
    data = {"lanes": v.lanes, "figs": v.figs, "labels": list(LABELS),
            "frames": {str(s): f for s, f in ev.frames.items()}, "overview": v.overview_s,
            "size": list(size) if all(size) else None,
            "boxes": evidence.boxes(tl, sorted(ev.frames), lane_of=lane_of.__getitem__)}
    v.data_json = safe_json(data)

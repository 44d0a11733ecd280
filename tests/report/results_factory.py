"""Small results folders for the query and report tests, written with ResultStore.

The rows are synthetic (smooth random probabilities) but typed by the declared schemas,
so the readers see exactly what a real run writes. Used by tests/test_query.py,
tests/cli/test_query_cli.py and tests/report/*.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from emotion_batch.labels import LABELS
from emotion_batch.schemas import (
    ATTRIBUTION_SCHEMA,
    AUDIO_GROUPS,
    FACE_GROUPS,
    MANIFEST_SCHEMA,
    NO_FACE,
    STAGES,
    TIMELINE_SCHEMA,
    prob_columns,
    top_labels,
)
from emotion_batch.run.storage.store import ResultStore

XSS_NAME = "<script>alert(1)</script>.mp4"  # a path: "/" splits it, so also XSS_FILE
XSS_FILE = "gone & <img src=x onerror=alert(2)>.mp4"  # a valid file name
FAIL_ERROR = "DecodeError: <b>moov atom not found</b> & more"
MODEL = "test-model-1"
NO_FACE_TITLE = "No face / voice (audio-only rows)"  # the report's title of the face_id -1 rows


def load(path: str | Path):
    """Import this module from another test folder (test basenames stay unique)."""
    spec = importlib.util.spec_from_file_location("results_factory", Path(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _probs(rng: np.random.Generator, n: int, bias: int) -> np.ndarray:
    t = np.arange(n)[:, None]
    phase = rng.uniform(0, 2 * np.pi, size=(1, len(LABELS)))
    logits = np.sin(t / rng.uniform(20, 200) + phase) + rng.normal(0, 0.3, (n, len(LABELS)))
    logits[:, bias] += 1.0
    e = np.exp(logits)
    return (e / e.sum(1, keepdims=True)).astype(np.float32)


def timeline_rows(video_id: str, seconds: int, faces, audio: bool, seed: int, silent_faces=()) -> pa.Table:
    """Rows of one video. With audio, faces take turns speaking in 10 s stretches (face k in
    the stretches where (second // 10 + k) is even) unless listed in `silent_faces`; the
    speaking face carries the voice (speaker_p 0.9, voice_owner), the others listen (0.05);
    no-face rows carry the voice of their seconds. Deterministic: the random draws are those
    of the tables before these columns existed."""
    rng = np.random.default_rng(seed)
    parts = []
    covered = np.zeros(seconds, bool)
    for k, face in enumerate(faces):
        secs = np.arange(seconds, dtype=np.int32)
        if face == NO_FACE:
            secs = secs[~covered]  # audio-only rows where no face is seen
        elif seconds > 10:
            secs = secs[((secs // 7 + k) % 5 != 0) & (secs >= k * seconds // 4)]  # come and go
        covered[secs] = True
        n = len(secs)
        if n == 0:
            continue
        p = _probs(rng, n, bias=(3 + k) % len(LABELS))
        v = _probs(rng, n, bias=3) if face != NO_FACE else np.full((n, 7), np.nan, np.float32)
        a = _probs(rng, n, bias=0) if audio else np.full((n, 7), np.nan, np.float32)
        cols = {
            "video_id": [video_id] * n,
            "face_id": np.full(n, face, np.int32),
            "second": secs,
            "t_start": secs + 0.0,
            "t_end": secs + 0.96,
            "n_frames": np.full(n, 5, np.int32),
            "face_score": None if face == NO_FACE else rng.uniform(0.9, 1.0, n),
            "box_x1": None if face == NO_FACE else np.full(n, 20.0 + 60 * k),
            "box_y1": None if face == NO_FACE else np.full(n, 30.0),
            "box_x2": None if face == NO_FACE else np.full(n, 60.0 + 60 * k),
            "box_y2": None if face == NO_FACE else np.full(n, 80.0),
            "speech": rng.uniform(0, 1, n) if audio else np.zeros(n),
            "speaking": rng.uniform(0, 1, n) if audio else None,
        }
        talks = ((secs // 10 + k) % 2 == 0) & (face not in silent_faces)
        cols["speaker_p"] = np.where(talks, 0.9, 0.05) if audio and face != NO_FACE else None
        cols["voice_owner"] = (talks if face != NO_FACE else np.ones(n, bool)) & audio
        for name, arr in (("p", p), ("v", v), ("a", a)):
            for j, c in enumerate(prob_columns(name)):
                cols[c] = arr[:, j]
        cols["emotion"] = [LABELS[i] for i in p.argmax(1)]
        cols["confidence"] = p.max(1)
        cols["v_emotion"], cols["a_emotion"] = top_labels(v), top_labels(a)
        cols["w_visual"] = np.full(n, 0.6 if audio else 1.0, np.float32)
        cols["w_audio"] = np.full(n, 0.4 if audio else 0.0, np.float32)
        for key, val in cols.items():
            if val is None:
                cols[key] = pa.nulls(n, TIMELINE_SCHEMA.field(key).type)
            elif isinstance(val, np.ndarray) and np.isnan(val).all():
                cols[key] = pa.nulls(n, TIMELINE_SCHEMA.field(key).type)
        parts.append(pa.table(cols).select(TIMELINE_SCHEMA.names).cast(TIMELINE_SCHEMA))
    return pa.concat_tables(parts)


def attribution_rows(tl: pa.Table, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    d = tl.to_pandas()
    n = len(d)
    p = np.array([d[f"p_{e}"].iloc[i] for i, e in enumerate(d["emotion"])], np.float32)
    base = np.full(n, 1 / 7, np.float32)
    share = rng.uniform(0, 1, n).astype(np.float32)
    cols = {
        "video_id": d["video_id"],
        "face_id": d["face_id"].astype(np.int32),
        "second": d["second"].astype(np.int32),
        "label": d["emotion"],
        "p_label": p,
        "shap_visual": (p - base) * share,
        "shap_audio": (p - base) * (1 - share),
        "shap_base": base,
    }
    for g in FACE_GROUPS + AUDIO_GROUPS:
        cols[f"g_{g}"] = rng.uniform(0, 0.5, n).astype(np.float32)
    return pa.table(cols).cast(ATTRIBUTION_SCHEMA)


def manifest_row(video_id: str, path: str, **over) -> pa.Table:
    row = {f.name: None for f in MANIFEST_SCHEMA}
    row.update(
        video_id=video_id, path=path, size_bytes=12345, status="ok", duration_s=60.0,
        fps=25.0, n_frames=1500, width=160, height=120, has_audio=True, faces_found=1,
        face_seconds=60, av_offset_s=0.08, av_confidence=0.7, av_method="dtw",
        model_version=MODEL, config_hash="cafe", config_json=json.dumps({"fps": 5}),
        schema_version="1", t_total=1.5, worker="w1", device="cpu",
        started_at="2025-01-01T00:00:00Z", finished_at="2025-01-01T00:00:02Z",
    )
    row.update({f"t_{s}": 0.1 for s in STAGES})
    row.update(over)
    return pa.Table.from_pylist([row], schema=MANIFEST_SCHEMA)


def add_video(store, video_id, path, seconds=60, faces=(0,), audio=True, explain=True,
              seed=0, silent_faces=(), **manifest):
    tl = timeline_rows(video_id, seconds, faces, audio, seed, silent_faces)
    store.write("timelines", video_id, tl, MODEL)
    if explain:
        face_rows = tl.filter(pa.compute.not_equal(tl["face_id"], NO_FACE))
        store.write("attributions", video_id, attribution_rows(face_rows, seed + 1), MODEL)
    n_faces = len([f for f in faces if f != NO_FACE])
    store.write("videos", video_id, manifest_row(
        video_id, path, duration_s=float(seconds), has_audio=audio, faces_found=n_faces,
        face_seconds=sum(1 for f in tl["face_id"].to_pylist() if f != NO_FACE), **manifest,
    ), MODEL)
    return tl


def make_video_file(path: Path, seconds: int = 4, fps: int = 10) -> Path:
    """A real little H.264 file: grey background, a red square where face 0's box is."""
    import av

    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = 160, 120, "yuv420p"
        for i in range(seconds * fps):
            img = np.full((120, 160, 3), 90, np.uint8)
            img[30:80, 20:60] = (220, 30, 30)
            img[30:80, 80:120] = (30, 30, 220)
            for pkt in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def build(root: Path, tmp: Path, long: bool = True) -> dict[str, str]:
    """The standard folder: two faces + real file, XSS name, failed video, optional 2-hour."""
    store = ResultStore(str(root))
    clip = make_video_file(tmp / "clip.mp4")
    add_video(store, "vid_a", str(clip), seconds=4, faces=(0, 1, NO_FACE), seed=1)
    add_video(store, "vid_b", str(tmp / XSS_FILE), seconds=90, faces=(0, 1, NO_FACE), seed=2)
    add_video(store, "vid_xss", f"/videos/{XSS_NAME}", seconds=30, faces=(0,), audio=False,
              explain=False, seed=3)
    store.write("videos", "vid_fail", manifest_row(
        "vid_fail", "/videos/broken.mp4", status="failed", error=FAIL_ERROR, duration_s=None,
        faces_found=None, face_seconds=None, av_offset_s=None, av_confidence=None,
    ), MODEL)
    ids = {"a": "vid_a", "b": "vid_b", "xss": "vid_xss", "fail": "vid_fail"}
    if long:
        add_video(store, "vid_long", str(tmp / "long_gone.mp4"), seconds=7200, faces=(0,),
                  seed=4)
        ids["long"] = "vid_long"
    return ids


def add_persons(root: Path, faces: dict[str, dict[int, int]], crop: dict[int, tuple[str, float, list]] | None = None):
    """An identity step's output, as issue 24 writes it: tracks/<video_id>.parquet (video_id,
    face_id -> person_id) and persons/persons.parquet (the schema documented in
    emotion_batch/report/pages/persons.py). faces: video id -> {face id: person id}; crop:
    person id -> (video id, time, box) of the representative crop."""
    import pyarrow.parquet as pq

    crop = crop or {}
    (root / "tracks").mkdir(exist_ok=True)
    (root / "persons").mkdir(exist_ok=True)
    for vid, mapping in faces.items():
        pq.write_table(pa.table({
            "video_id": pa.array([vid] * len(mapping), pa.string()),
            "face_id": pa.array(list(mapping), pa.int32()),
            "person_id": pa.array(list(mapping.values()), pa.int64()),
        }), root / "tracks" / f"{vid}.parquet")
    pids = sorted({p for m in faces.values() for p in m.values()})
    rows = []
    for pid in pids:
        vids = sorted(v for v, m in faces.items() if pid in m.values())
        cv, ct, cb = crop.get(pid, (None, None, None))
        rows.append({"person_id": pid, "n_videos": len(vids), "videos": vids, "seconds": 4 * len(vids),
                     "first_seen": "2025-01-01T00:00:00Z", "last_seen": "2025-01-02T00:00:00Z",
                     "crop_video_id": cv, "crop_t": ct, "crop_box": cb})
    schema = pa.schema([("person_id", pa.int64()), ("n_videos", pa.int32()), ("videos", pa.list_(pa.string())),
                        ("seconds", pa.int64()), ("first_seen", pa.string()), ("last_seen", pa.string()),
                        ("crop_video_id", pa.string()), ("crop_t", pa.float64()),
                        ("crop_box", pa.list_(pa.float32(), 4))])
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), root / "persons" / "persons.parquet")

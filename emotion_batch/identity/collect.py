"""A few well-chosen crops per track, embedded when the track ends (memory flat in length).

`TrackCrops` watches every analysed frame's faces. Per track it keeps the `per_track` best
candidates by a cheap score (box size up to the model's 150 px, frontality from MTCNN's five
points, detection score), at least `spacing_s` apart so they are not one moment thrice. A
chip is aligned only when a candidate enters a track's best (most frames make none), and it
is kept only when sharp enough. When the tracker has let a track go, its chips are embedded
in one batched call and only the mean descriptor stays: memory holds the chips of live tracks.

A face never larger than `min_face_px` or never sharp enough gets no embedding: its track's
row says why (`reason`) and its person_id stays null (docs/identity.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from emotion_batch.identity.embed import CHIP, FaceEmbedder, frontality, sharpness
from emotion_batch.schemas import TRACK_SCHEMA

MIN_FACE_PX = 40  # smaller faces are upscaled >3.5x into the 150-px chip: no reliable identity
MIN_SHARPNESS = 20.0  # Laplacian variance of the chip below this: too blurred (docs/identity.md)


@dataclass
class _Candidate:
    score: float
    t: float
    box: np.ndarray
    chip: np.ndarray


@dataclass
class _Track:
    t_first: float
    t_last: float
    seconds: set = field(default_factory=set)
    best: list = field(default_factory=list)  # _Candidate, best first
    max_side: float = 0.0
    blurred: int = 0


@dataclass
class TrackCrops:
    """Per video (or segment): `add(t, frame, face_ids, boxes=, scores=, landmarks=)` per analysed frame,
    `finish(live_ids)` after each chunk, `table(video_id)` at the end."""

    embedder: FaceEmbedder
    per_track: int = 3
    spacing_s: float = 1.0
    min_face_px: float = MIN_FACE_PX
    min_sharpness: float = MIN_SHARPNESS
    tracks: dict = field(default_factory=dict)  # face_id -> _Track (live)
    rows: list = field(default_factory=list)  # finished tracks' rows

    def add(self, t: float, frame: np.ndarray, face_ids: np.ndarray, *, boxes: np.ndarray, scores: np.ndarray,
            landmarks: np.ndarray) -> None:
        if not len(face_ids):
            return
        side = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        score = np.minimum(side, CHIP) / CHIP * frontality(landmarks) * scores
        want = []
        for k, fid in enumerate(face_ids.tolist()):
            tr = self.tracks.get(fid)
            if tr is None:
                tr = self.tracks[fid] = _Track(t, t)
            tr.t_last, tr.max_side = t, max(tr.max_side, float(side[k]))
            tr.seconds.add(int(np.floor(t)))
            if side[k] >= self.min_face_px and self._enters(tr, float(score[k]), t):
                want.append(k)
        if want:
            chips = self.embedder.chips(frame, boxes[want])
            for k, chip in zip(want, chips):
                self._keep(self.tracks[int(face_ids[k])], _Candidate(float(score[k]), t, boxes[k].copy(), chip))

    def add_chunk(self, times: np.ndarray, frames: np.ndarray, faces: list, face_ids: list,
                  live_ids: set[int]) -> None:
        """Every frame of a chunk (FrameFaces and ids per frame), then retire the tracks that
        are not in `live_ids` any more."""
        for i, (f, ids) in enumerate(zip(faces, face_ids)):
            self.add(float(times[i]), frames[i], ids, boxes=f.boxes, scores=f.scores, landmarks=f.landmarks)
        self.finish(live_ids)

    def _enters(self, tr: _Track, score: float, t: float) -> bool:
        near = [c for c in tr.best if abs(c.t - t) < self.spacing_s]
        if near:
            return score > max(c.score for c in near)
        return len(tr.best) < self.per_track or score > tr.best[-1].score

    def _keep(self, tr: _Track, cand: _Candidate) -> None:
        if sharpness(cand.chip) < self.min_sharpness:
            tr.blurred += 1
            return
        tr.best = [c for c in tr.best if abs(c.t - cand.t) >= self.spacing_s or c.score >= cand.score]
        if any(abs(c.t - cand.t) < self.spacing_s for c in tr.best):
            return
        tr.best = sorted(tr.best + [cand], key=lambda c: -c.score)[: self.per_track]

    def finish(self, live_ids: set[int] | None = None) -> None:
        """Embed and retire the tracks not in `live_ids` (None: all of them), in one batch."""
        ended = [fid for fid in self.tracks if live_ids is None or fid not in live_ids]
        if not ended:
            return
        chips = [c.chip for fid in ended for c in self.tracks[fid].best]
        vecs = self.embedder.embed(chips)
        k = 0
        for fid in ended:
            tr = self.tracks.pop(fid)
            n = len(tr.best)
            self.rows.append(self._row(fid, tr, vecs[k : k + n]))
            k += n

    def _row(self, fid: int, tr: _Track, vecs: np.ndarray) -> dict:
        emb = None
        if len(vecs):
            m = vecs.mean(axis=0)
            emb = (m / max(float(np.linalg.norm(m)), 1e-9)).astype(np.float32).tolist()
        reason = None if emb is not None else (
            "too small" if tr.max_side < self.min_face_px else "too blurred" if tr.blurred else "no usable view")
        best = tr.best[0] if tr.best else None
        return {"face_id": fid, "t_first": tr.t_first, "t_last": tr.t_last, "seconds": len(tr.seconds),
                "n_crops": len(vecs), "quality": best.score if best else None, "crop_t": best.t if best else None,
                "crop_box": best.box.astype(np.float32).tolist() if best else None, "embedding": emb,
                "reason": reason}

    def table(self, video_id: str) -> pa.Table:
        """Every track's row (embedding the live ones first), person columns still null."""
        self.finish(None)
        rows = sorted(self.rows, key=lambda r: r["face_id"])
        for r in rows:
            r.update(video_id=video_id, video_person=None, person_id=None)
        return pa.Table.from_pylist(rows, schema=TRACK_SCHEMA)

"""Per-(face, second) aggregation of frame-level results into timeline rows.

Frame results are folded into running sums as they arrive, so only one small record per
(face, second) is kept, never the frames. `build` turns them into the declared Arrow
table, adding a face_id -1 row for every second in which no face was seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.schemas import NO_FACE, TIMELINE_SCHEMA, prob_columns


@dataclass
class _Acc:
    n: int = 0
    score: float = 0.0
    box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float64))
    probs: np.ndarray = field(default_factory=lambda: np.zeros(N_LABELS, np.float64))


@dataclass
class SecondAudio:
    """Audio results per timeline second (index = second - first_second)."""

    first_second: int
    speech: np.ndarray  # float32 (S,) voice-activity fraction
    probs: np.ndarray  # float32 (S, 7); NaN rows where no audio covers the second
    mels: dict[int, np.ndarray] = field(default_factory=dict)  # second -> log-mel window kept for explanations

    def at(self, second: int) -> tuple[float, np.ndarray | None]:
        i = second - self.first_second
        if not 0 <= i < len(self.speech):
            return 0.0, None
        p = self.probs[i]
        return float(self.speech[i]), (None if np.isnan(p).any() else p)


@dataclass
class Fused:
    """Fusion output for N rows; NaN rows of `probs` mean no modality could be used."""

    probs: np.ndarray  # float32 (N, 7)
    w_visual: np.ndarray  # float32 (N,)
    w_audio: np.ndarray  # float32 (N,)


def visual_only(v, a, face_score, face_size, speech, has_face, has_audio) -> Fused:
    """Fusion used when no audio model is in play: fused = visual, w_visual = 1."""
    w = has_face.astype(np.float32)
    return Fused(np.where(has_face[:, None], v, np.nan).astype(np.float32), w, np.zeros_like(w))


class TimelineBuilder:
    def __init__(self, video_id: str):
        self.video_id = video_id
        self._acc: dict[tuple[int, int], _Acc] = {}

    def add_frame(self, t: float, face_ids: np.ndarray, scores: np.ndarray, boxes: np.ndarray, probs: np.ndarray) -> None:
        second = int(np.floor(t))
        for fid, sc, box, p in zip(face_ids, scores, boxes, probs):
            acc = self._acc.setdefault((int(fid), second), _Acc())
            acc.n += 1
            acc.score += float(sc)
            acc.box += box
            acc.probs += p

    @property
    def face_ids(self) -> set[int]:
        return {fid for fid, _ in self._acc}

    def face_seconds(self) -> int:
        return len(self._acc)

    def build(
        self,
        seconds: range,
        duration_s: float,
        audio: SecondAudio | None = None,
        fuse=visual_only,
        speaking: dict[tuple[int, int], float] | None = None,
    ) -> pa.Table:
        """Rows for every (face, second) seen plus face_id -1 rows for face-less seconds in
        `seconds`, ordered by (second, face_id). `fuse` combines the experts for all rows
        at once (see `visual_only` for its signature). Without `audio` (no audio stage ran)
        speech and the audio columns are null."""
        with_face = {s for _, s in self._acc}
        keys = sorted(list(self._acc) + [(NO_FACE, s) for s in seconds if s not in with_face], key=lambda k: (k[1], k[0]))
        n = len(keys)
        v = np.full((n, N_LABELS), np.nan, np.float32)
        a = np.full((n, N_LABELS), np.nan, np.float32)
        score = np.full(n, np.nan, np.float32)
        box = np.full((n, 4), np.nan, np.float32)
        speech = np.zeros(n, np.float32)
        n_frames = np.zeros(n, np.int32)
        for i, key in enumerate(keys):
            acc = self._acc.get(key)
            if acc is not None:
                n_frames[i] = acc.n
                v[i] = acc.probs / acc.n
                score[i] = acc.score / acc.n
                box[i] = acc.box / acc.n
            if audio is not None:
                sp, ap = audio.at(key[1])
                speech[i] = sp
                if ap is not None:
                    a[i] = ap
        has_face = n_frames > 0
        has_audio = ~np.isnan(a).any(axis=1)
        size = np.sqrt(np.clip((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 0, None))
        out = fuse(v, a, score, size, speech, has_face, has_audio) if n else None
        cols = {
            "video_id": [self.video_id] * n,
            "face_id": [k[0] for k in keys],
            "second": [k[1] for k in keys],
            "t_start": [float(k[1]) for k in keys],
            "t_end": [float(min(k[1] + 1, max(duration_s, k[1]))) for k in keys],
            "n_frames": n_frames,
            "face_score": _nullable(score),
            "speech": speech if audio is not None else [None] * n,
            "speaking": [None if speaking is None else speaking.get(k) for k in keys],
        }
        for j, name in enumerate(("box_x1", "box_y1", "box_x2", "box_y2")):
            cols[name] = _nullable(box[:, j])
        fused = out.probs if n else np.zeros((0, N_LABELS), np.float32)
        for prefix, p in (("v", v), ("a", a), ("p", fused)):
            for j, name in enumerate(prob_columns(prefix)):
                cols[name] = _nullable(p[:, j])
        usable = ~np.isnan(fused).any(axis=1)
        top = np.argmax(np.nan_to_num(fused, nan=-1.0), axis=1)
        cols["emotion"] = [LABELS[k] if ok else None for k, ok in zip(top, usable)]
        cols["confidence"] = [float(fused[i, k]) if ok else None for i, (k, ok) in enumerate(zip(top, usable))]
        cols["w_visual"] = [float(w) if ok else None for w, ok in zip(out.w_visual, usable)] if n else []
        cols["w_audio"] = [float(w) if ok else None for w, ok in zip(out.w_audio, usable)] if n else []
        return pa.table(cols, schema=TIMELINE_SCHEMA)


def _nullable(x: np.ndarray) -> pa.Array:
    return pa.array(x, mask=np.isnan(x), type=pa.float32())

"""Per-(face, second) aggregation of frame-level results into timeline rows.

Frame results are folded into running sums as they arrive, so only one small record per
(face, second) is kept, never the frames. `build` fuses the experts for every row at once and
returns a typed `Timeline` (numpy columns, what the explain stage reads); `Timeline.to_arrow()`
is the declared TIMELINE_SCHEMA table that is written. A face_id -1 row is added for every
second in which no face was seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from emotion_batch.audio.analyse import SecondAudio
from emotion_batch.fusion.fuse import Fuser, FusionInputs, visual_only
from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.schemas import NO_FACE, TIMELINE_SCHEMA, prob_columns


@dataclass
class _Acc:
    n: int = 0
    score: float = 0.0
    box: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float64))
    probs: np.ndarray = field(default_factory=lambda: np.zeros(N_LABELS, np.float64))


@dataclass(frozen=True)
class Timeline:
    """The timeline of one video (or segment) as columns, rows ordered by (second, face_id)."""

    video_id: str
    face_id: np.ndarray  # int32 (N,); -1 = no face in that second
    second: np.ndarray  # int32 (N,)
    t_end: np.ndarray  # float64 (N,)
    n_frames: np.ndarray  # int32 (N,)
    face_score: np.ndarray  # float32 (N,), NaN without a face
    box: np.ndarray  # float32 (N, 4), NaN without a face
    speech: np.ndarray | None  # float32 (N,); None when no audio stage ran
    speaking: np.ndarray  # float32 (N,), NaN where not measured
    fusion: FusionInputs  # what fusion saw (expert readings, cues, presence)
    fused: np.ndarray  # float32 (N, 7); NaN rows: no prediction
    w_visual: np.ndarray  # float32 (N,)
    w_audio: np.ndarray  # float32 (N,)

    def __len__(self) -> int:
        return len(self.face_id)

    @property
    def has_prediction(self) -> np.ndarray:
        return ~np.isnan(self.fused).any(axis=1)

    def to_arrow(self) -> pa.Table:
        n, ok = len(self), self.has_prediction
        top = np.argmax(np.nan_to_num(self.fused, nan=-1.0), axis=1)
        cols = {
            "video_id": [self.video_id] * n,
            "face_id": self.face_id,
            "second": self.second,
            "t_start": self.second.astype(np.float64),
            "t_end": self.t_end,
            "n_frames": self.n_frames,
            "face_score": _nullable(self.face_score),
            "speech": self.speech if self.speech is not None else [None] * n,
            "speaking": _nullable(self.speaking),
        }
        for j, name in enumerate(("box_x1", "box_y1", "box_x2", "box_y2")):
            cols[name] = _nullable(self.box[:, j])
        for prefix, p in (("v", self.fusion.visual), ("a", self.fusion.audio), ("p", self.fused)):
            for j, name in enumerate(prob_columns(prefix)):
                cols[name] = _nullable(p[:, j])
        cols["emotion"] = [LABELS[k] if u else None for k, u in zip(top, ok)]
        cols["confidence"] = _nullable(np.where(ok, self.fused[np.arange(n), top], np.nan).astype(np.float32))
        cols["w_visual"] = _nullable(np.where(ok, self.w_visual, np.nan).astype(np.float32))
        cols["w_audio"] = _nullable(np.where(ok, self.w_audio, np.nan).astype(np.float32))
        return pa.table(cols, schema=TIMELINE_SCHEMA)


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
        fuse: Fuser = visual_only,
        speaking: dict[tuple[int, int], float] | None = None,
    ) -> Timeline:
        """Rows for every (face, second) seen plus face_id -1 rows for face-less seconds in
        `seconds`, ordered by (second, face_id); `fuse` combines the experts for all rows at
        once. Without `audio` (no audio stage ran) speech and the audio columns are null."""
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
        size = np.sqrt(np.clip((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 0, None))
        inputs = FusionInputs(v, a, score, size, speech, n_frames > 0, ~np.isnan(a).any(axis=1))
        if n:
            out = fuse(inputs)
            fused, w_v, w_a = out.probs, out.w_visual, out.w_audio
        else:
            fused, w_v, w_a = np.zeros((0, N_LABELS), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
        second = np.array([k[1] for k in keys], np.int32)
        speak = np.array([np.nan if speaking is None or speaking.get(k) is None else speaking[k] for k in keys],
                         np.float32)
        return Timeline(
            video_id=self.video_id,
            face_id=np.array([k[0] for k in keys], np.int32),
            second=second,
            t_end=np.array([float(min(s + 1, max(duration_s, s))) for s in second.tolist()], np.float64),
            n_frames=n_frames,
            face_score=score,
            box=box,
            speech=speech if audio is not None else None,
            speaking=speak,
            fusion=inputs,
            fused=fused,
            w_visual=w_v,
            w_audio=w_a,
        )


def _nullable(x: np.ndarray) -> pa.Array:
    x = np.asarray(x, np.float32)
    return pa.array(x, mask=np.isnan(x), type=pa.float32())

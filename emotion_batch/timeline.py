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

    def at(self, second: int) -> tuple[float, np.ndarray | None]:
        i = second - self.first_second
        if not 0 <= i < len(self.speech):
            return 0.0, None
        p = self.probs[i]
        return float(self.speech[i]), (None if np.isnan(p).any() else p)


@dataclass
class FusedSecond:
    fused: np.ndarray | None  # (7,) or None when neither modality is present
    w_visual: float | None
    w_audio: float | None


def visual_only(v: np.ndarray | None, a: np.ndarray | None, **_) -> FusedSecond:
    """Fusion used when no audio model is in play: fused = visual, w_visual = 1."""
    if v is None:
        return FusedSecond(None, None, None)
    return FusedSecond(v, 1.0, 0.0)


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
        """Rows for every (face, second) seen plus face_id -1 rows for face-less seconds
        in `seconds`. `fuse(v=, a=, face_score=, face_size=, speech=)` combines experts."""
        cols: dict[str, list] = {name: [] for name in TIMELINE_SCHEMA.names}
        with_face = {s for _, s in self._acc}
        keys = sorted(self._acc) + [(NO_FACE, s) for s in seconds if s not in with_face]
        for fid, s in sorted(keys, key=lambda k: (k[1], k[0])):
            acc = self._acc.get((fid, s))
            speech, a = audio.at(s) if audio is not None else (None, None)
            if acc is not None:
                v = (acc.probs / acc.n).astype(np.float32)
                score = acc.score / acc.n
                box = acc.box / acc.n
                size = float(np.sqrt(max((box[2] - box[0]) * (box[3] - box[1]), 0.0)))
            else:
                v, score, box, size = None, None, None, 0.0
            out = fuse(v=v, a=a, face_score=score, face_size=size, speech=speech or 0.0)
            spk = None if speaking is None else speaking.get((fid, s))
            _append_row(cols, self.video_id, fid, s, duration_s, acc, score, box, speech, spk, v, a, out)
        return pa.table(cols, schema=TIMELINE_SCHEMA)


def _append_row(cols, video_id, fid, s, duration_s, acc, score, box, speech, speaking, v, a, out: FusedSecond) -> None:
    cols["video_id"].append(video_id)
    cols["face_id"].append(fid)
    cols["second"].append(s)
    cols["t_start"].append(float(s))
    cols["t_end"].append(float(min(s + 1, max(duration_s, s))))
    cols["n_frames"].append(acc.n if acc else 0)
    cols["face_score"].append(score)
    for k, name in enumerate(("box_x1", "box_y1", "box_x2", "box_y2")):
        cols[name].append(None if box is None else float(box[k]))
    cols["speech"].append(speech)
    cols["speaking"].append(speaking)
    for prefix, p in (("v", v), ("a", a), ("p", out.fused)):
        for name, k in zip(prob_columns(prefix), range(N_LABELS)):
            cols[name].append(None if p is None else float(p[k]))
    if out.fused is None:
        cols["emotion"].append(None)
        cols["confidence"].append(None)
    else:
        k = int(np.argmax(out.fused))
        cols["emotion"].append(LABELS[k])
        cols["confidence"].append(float(out.fused[k]))
    cols["w_visual"].append(out.w_visual)
    cols["w_audio"].append(out.w_audio)

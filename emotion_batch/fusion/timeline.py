"""Per-(face, second) aggregation of frame-level results into timeline rows.

Frame results are folded into running sums as they arrive, so only one small record per
(face, second) is kept, never the frames. `build` fuses the experts for every row at once and
returns a typed `Timeline` (numpy columns, what the explain stage reads); `Timeline.to_arrow()`
is the declared TIMELINE_SCHEMA table that is written.

Whose voice: each face row's speaking score (with the best score of the other faces seen in the
same second) becomes `speaker_p` through the fitted speaker gate (`fusion/speaker.py`), and
fusion scales the row's audio weight by it. A face_id -1 row is added
for every second in which no face was seen, and for every second with usable speech (audio
present, speech >= min_speech) in which no visible face has speaker_p >= 0.5: the voice of an
off-screen or unseen speaker then stays in the table (audio-only reading) instead of being
pushed onto a visible face. `voice_owner` marks the one row per such second that carries the
voice: the face with the highest speaker_p when it is >= 0.5, else the -1 row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from emotion_batch.audio.analyse import SecondAudio
from emotion_batch.fusion.fuse import Fuser, FusionInputs, visual_only
from emotion_batch.fusion.speaker import OWNER_P, SpeakerGate
from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.models.fusion import FusionParams
from emotion_batch.schemas import NO_FACE, TIMELINE_SCHEMA, prob_columns, top_labels


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
    speaker_p: np.ndarray  # float32 (N,) speaker gate of `speaking`; NaN where not measured / no face
    voice_owner: np.ndarray  # bool (N,) the row that carries the voice of a second with usable speech
    fusion: FusionInputs  # what fusion saw (expert readings, cues, presence, speaker_p)
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
            "speaker_p": _nullable(self.speaker_p),
            "voice_owner": self.voice_owner,
        }
        for j, name in enumerate(("box_x1", "box_y1", "box_x2", "box_y2")):
            cols[name] = _nullable(self.box[:, j])
        for prefix, p in (("v", self.fusion.visual), ("a", self.fusion.audio), ("p", self.fused)):
            for j, name in enumerate(prob_columns(prefix)):
                cols[name] = _nullable(p[:, j])
        cols["emotion"] = [LABELS[k] if u else None for k, u in zip(top, ok)]
        cols["confidence"] = _nullable(np.where(ok, self.fused[np.arange(n), top], np.nan).astype(np.float32))
        cols["v_emotion"] = top_labels(self.fusion.visual)
        cols["a_emotion"] = top_labels(self.fusion.audio)
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
        *,
        audio: SecondAudio | None = None,
        fuse: Fuser = visual_only,
        speaking: dict[tuple[int, int], float] | None = None,
        gate: SpeakerGate | None = None,
        min_speech: float = FusionParams.min_speech,
    ) -> Timeline:
        """Rows for every (face, second) seen plus face_id -1 rows for face-less seconds and for
        seconds whose usable speech no visible face owns (module docstring), ordered by
        (second, face_id); `fuse` combines the experts for all rows at once. Without `audio` (no
        audio stage ran) speech and the audio columns are null. Without `gate`, speaker_p is
        null and fusion is ungated (every face gets the audio, no voice rows are added)."""
        speak = {k: np.nan if speaking is None or speaking.get(k) is None else float(speaking[k]) for k in self._acc}
        p_of = _speaker_p(speak, gate)
        usable = self._usable_speech(seconds, audio, min_speech)
        keys = sorted(list(self._acc) + [(NO_FACE, s) for s in self._no_face_seconds(seconds, p_of, usable)],
                      key=lambda k: (k[1], k[0]))
        n = len(keys)
        v, a, score, box, speech, n_frames = self._means(keys, audio)
        size = np.sqrt(np.clip((box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1]), 0, None))
        speaker_p = np.array([p_of.get(k, np.nan) for k in keys], np.float32)
        inputs = FusionInputs(v, a, score, size, speech, n_frames > 0, ~np.isnan(a).any(axis=1), speaker_p)
        if n:
            out = fuse(inputs)
            fused, w_v, w_a = out.probs, out.w_visual, out.w_audio
        else:
            fused, w_v, w_a = np.zeros((0, N_LABELS), np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
        second = np.array([k[1] for k in keys], np.int32)
        face_id = np.array([k[0] for k in keys], np.int32)
        return Timeline(
            video_id=self.video_id,
            face_id=face_id,
            second=second,
            t_end=np.array([float(min(s + 1, max(duration_s, s))) for s in second.tolist()], np.float64),
            n_frames=n_frames,
            face_score=score,
            box=box,
            speech=speech if audio is not None else None,
            speaking=np.array([speak.get(k, np.nan) for k in keys], np.float32),
            speaker_p=speaker_p,
            voice_owner=_voice_owner(face_id, second, speaker_p, usable),
            fusion=inputs,
            fused=fused,
            w_visual=w_v,
            w_audio=w_a,
        )

    def _means(self, keys: list[tuple[int, int]], audio: SecondAudio | None) -> tuple[np.ndarray, ...]:
        """Per row: the visual expert's mean probabilities, the audio expert's, the mean face
        score and box, the speech fraction and the frames seen (NaN / 0 where there are none)."""
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
        return v, a, score, box, speech, n_frames

    @staticmethod
    def _usable_speech(seconds: range, audio: SecondAudio | None, min_speech: float) -> set[int]:
        """Seconds whose audio fusion can use: audio present and speech >= min_speech."""
        if audio is None:
            return set()
        out = set()
        for s in seconds:
            sp, ap = audio.at(s)
            if ap is not None and sp >= min_speech:
                out.add(s)
        return out

    def _no_face_seconds(self, seconds: range, p_of: dict[tuple[int, int], float], usable: set[int]) -> list[int]:
        """Seconds that get a face_id -1 row: no face seen, or usable speech that no visible face
        owns (every face's speaker_p < OWNER_P; an unmeasured speaker_p counts as owning)."""
        owned = {s for (_, s), p in p_of.items() if not p < OWNER_P}
        with_face = {s for _, s in self._acc}
        return [s for s in seconds if s not in with_face or (s in usable and s not in owned)]


def _speaker_p(speak: dict[tuple[int, int], float], gate: SpeakerGate | None) -> dict[tuple[int, int], float]:
    """(face, second) -> speaker_p: the gate of the face's score and of the best score of the
    other faces seen in that second (0 when alone); NaN without a gate or a score."""
    if gate is None or not speak:
        return {k: np.nan for k in speak}
    best: dict[int, list[float]] = {}  # second -> the two highest scores in it
    for (_, s), v in speak.items():
        if np.isfinite(v):
            best[s] = sorted(best.get(s, []) + [v], reverse=True)[:2]
    keys = list(speak)
    score = np.array([speak[k] for k in keys], np.float64)
    top = [best.get(s, []) for _, s in keys]
    other = np.array([(t[1] if len(t) > 1 else 0.0) if t and t[0] == v else (t[0] if t else 0.0)
                      for t, v in zip(top, score)], np.float64)
    return dict(zip(keys, gate(score, other).tolist()))


def _voice_owner(face_id: np.ndarray, second: np.ndarray, speaker_p: np.ndarray, usable: set[int]) -> np.ndarray:
    """True on the row that carries each usable-speech second's voice: the face with the highest
    speaker_p (NaN counts as 1: ungated) if >= OWNER_P, else the second's -1 row."""
    owner = np.zeros(len(face_id), bool)
    p = np.where(face_id >= 0, np.nan_to_num(speaker_p, nan=1.0), -1.0)
    for s in usable:  # rows are ordered by second
        rows = np.arange(np.searchsorted(second, s, "left"), np.searchsorted(second, s, "right"))
        if len(rows) == 0:
            continue
        best = rows[np.argmax(p[rows])]  # first (lowest face_id) on a tie
        if p[best] >= OWNER_P:
            owner[best] = True
        else:
            owner[rows[face_id[rows] == NO_FACE]] = True
    return owner


def _nullable(x: np.ndarray) -> pa.Array:
    x = np.asarray(x, np.float32)
    return pa.array(x, mask=np.isnan(x), type=pa.float32())

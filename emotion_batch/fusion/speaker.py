"""The speaker gate: how probable it is that a visible face is the one whose voice is heard.

    speaker_p = sigmoid(a + b * speaking + c * (speaking - other))

`speaking` is the face's per-second speaking score (`sync.speakers`: correlation of its mouth
motion with the aligned audio activity, 0 for a static mouth or where nothing is heard);
`other` is the highest speaking score of the other faces seen in the same second (0 when it is
alone): with c > 0, a face whose mouth follows the voice less well than another face's does is
less probably the speaker. ``a``, ``b``, ``c`` come from a logistic regression fitted by
``scripts/fit_speaker_gate.py`` on labelled face-seconds of talking-face scenes (RAVDESS training
actors only; c = 0 when the one-feature model was chosen) and are stored with their provenance
and held-out figures in ``models/weights/speaker_gate.json``; MODEL_CARD.md ("Speaker gate")
gives the numbers. Fusion multiplies a face's audio weight by speaker_p (`models/fusion.py`),
and the timeline puts the voice on the face that most probably speaks, or on a face_id -1 row
when none does (`fusion/timeline.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DEFAULT_GATE_PATH = Path(__file__).resolve().parents[1] / "models" / "weights" / "speaker_gate.json"
OWNER_P = 0.5  # speaker_p at or above which a face carries the voice of its second


@dataclass(frozen=True)
class SpeakerGate:
    a: float  # intercept
    b: float  # per unit of speaking score
    c: float = 0.0  # per unit of the score's lead over the other faces' best score

    def __call__(self, speaking: np.ndarray, other: np.ndarray | None = None) -> np.ndarray:
        """speaker_p (float32) of each speaking score, given the best score of the other faces
        seen in the same second (None: 0, a face alone); NaN (not measured) stays NaN."""
        x = np.asarray(speaking, np.float64)
        o = np.zeros_like(x) if other is None else np.nan_to_num(np.asarray(other, np.float64), nan=0.0)
        return (1.0 / (1.0 + np.exp(-(self.a + self.b * x + self.c * (x - o))))).astype(np.float32)

    @property
    def threshold(self) -> float:
        """The speaking score at which a face alone gets speaker_p = 0.5."""
        return -self.a / (self.b + self.c)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_GATE_PATH) -> SpeakerGate:
        p = json.loads(Path(path).read_text())["params"]
        return cls(float(p["a"]), float(p["b"]), float(p.get("c", 0.0)))

    def save(self, path: str | Path, provenance: dict) -> None:
        doc = {"params": {"a": self.a, "b": self.b, "c": self.c},
               "rule": "speaker_p = sigmoid(a + b * speaking + c * (speaking - other))", **provenance}
        Path(path).write_text(json.dumps(doc, indent=2) + "\n")


@lru_cache(maxsize=1)
def load_speaker_gate() -> SpeakerGate:
    """The committed, fitted gate (models/weights/speaker_gate.json), read once."""
    return SpeakerGate.load()

"""The fusion gate's parameters and where they are loaded from, without torch (the Ray driver
stamps results with them). The gate itself is `models/fusion.py`."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULT_PARAMS_PATH = Path(__file__).resolve().parent / "weights" / "fusion_default.json"


@dataclass
class FusionParams:
    a_v: float = math.log(0.66 / 0.34)  # visual reliability bias (log-odds of its accuracy)
    b_score: float = 0.5  # per unit of detection-score logit above logit(0.99)
    b_size: float = 0.5  # per unit of log(face side / 64 px)
    a_a: float = 0.0  # audio reliability bias (log-odds of its accuracy)
    b_speech: float = 1.0  # per unit of speech-fraction logit
    min_speech: float = 0.1  # below this voice-activity fraction audio counts as absent

    @classmethod
    def from_accuracies(cls, visual_acc: float, audio_acc: float, **kw) -> "FusionParams":
        return cls(a_v=math.log(visual_acc / (1 - visual_acc)), a_a=math.log(audio_acc / (1 - audio_acc)), **kw)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_PARAMS_PATH) -> "FusionParams":
        d = json.loads(Path(path).read_text())
        names = {f.name for f in fields(cls)}
        return cls(**{k: float(v) for k, v in d["params"].items() if k in names})

    def save(self, path: str | Path, **provenance) -> None:
        Path(path).write_text(json.dumps({"params": asdict(self), **provenance}, indent=2) + "\n")


def load_default_params() -> FusionParams:
    """The committed defaults if present, else the dataclass defaults."""
    return FusionParams.load() if DEFAULT_PARAMS_PATH.exists() else FusionParams()


def load_fusion_params(path: str | Path | None = None) -> FusionParams:
    """The gate in `path` (a file written by `train fusion`), or the shipped defaults if empty."""
    return FusionParams.load(path) if path else load_default_params()

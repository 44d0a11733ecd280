"""Validated run configuration and its stable hash.

Everything that changes the numbers in the output tables lives in `RunConfig`; its
`config_hash()` is stored in the manifest so a re-run can tell whether a finished video
was produced with the same settings (and skip it) or not (and redo it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

EXPLAIN_MODES = ("all", "sample", "none")
DEVICES = ("auto", "cpu", "cuda")
# Inference runtime of the detector's nets and the experts (models/runtime): auto = onnx
# on the CPU, torch on a GPU. (int8 graphs were measured and kept out: models/onnx/README.md.)
RUNTIMES = ("auto", "torch", "onnx")
# Who is who (emotion_batch/identity, docs/identity.md): person ids across a whole results folder,
# within each video only, or no face-recognition embeddings at all.
IDENTITY_MODES = ("collection", "video", "off")


class ConfigError(ValueError):
    """A setting is out of range; the message says which and what is allowed."""


@dataclass(frozen=True)
class RunConfig:
    fps: float = 5.0  # analysed frames per video-second
    chunk_frames: int = 32  # analysed frames decoded and processed together
    device: str = "auto"  # auto | cpu | cuda (cuda:N accepted)
    detect_max_side: int = 0  # 0 = auto: the largest downscale that loses no face >= min_face_px
    detect_interval_s: float = 1.0  # settled scenes: full detection once a second; tracked faces refined between (0 = every frame; vision/keyframes.py)
    min_face_px: int = 20  # smallest face (in full-resolution pixels) MTCNN looks for
    min_face_score: float = 0.90  # detections below this MTCNN probability are dropped
    track_iou: float = 0.3  # IoU needed to continue a track
    track_max_gap_s: float = 1.0  # a track unseen for longer than this ends ...
    track_max_gap_frames: int = 2  # ... and for more than this many analysed frames (vision/track.py)
    shot_cut: float = 0.4  # colour-histogram distance that ends every track at a shot cut (vision/cuts.py; 0 = off)
    audio_window_s: float = 2.0  # audio context centred on each second
    max_av_shift_s: float = 1.0  # DTW band: largest A/V offset searched
    explain: str = "sample"  # all | sample | none
    explain_every: int = 5  # with explain=sample: attribute every Nth second
    runtime: str = "auto"  # auto | torch | onnx (see RUNTIMES)
    fusion_params: str = ""  # a fusion gate file written by `train fusion` ("" = the shipped defaults)
    identity: str = "collection"  # collection | video | off (see IDENTITY_MODES)

    def __post_init__(self) -> None:
        if not 0 < self.fps <= 120:
            raise ConfigError(f"--fps must be in (0, 120], got {self.fps}")
        if self.chunk_frames < 1:
            raise ConfigError(f"chunk size must be >= 1, got {self.chunk_frames}")
        dev = self.device
        if not (dev in DEVICES or (dev.startswith("cuda:") and dev[5:].isdigit())):
            raise ConfigError(f"--device must be auto, cpu, cuda or cuda:N, got {dev!r}")
        if self.detect_max_side != 0 and self.detect_max_side < 64:
            raise ConfigError(f"--detect-max-side must be 0 (auto) or >= 64, got {self.detect_max_side}")
        if self.detect_interval_s < 0:
            raise ConfigError(f"--detect-interval must be >= 0 s, got {self.detect_interval_s}")
        if not 0.0 <= self.min_face_score <= 1.0:
            raise ConfigError(f"min_face_score must be in [0, 1], got {self.min_face_score}")
        if not 0.0 < self.track_iou < 1.0:
            raise ConfigError(f"track_iou must be in (0, 1), got {self.track_iou}")
        if not 0.0 <= self.shot_cut <= 1.0:
            raise ConfigError(f"shot_cut must be in [0, 1] (0 = off), got {self.shot_cut}")
        if self.track_max_gap_frames < 0:
            raise ConfigError(f"track_max_gap_frames must be >= 0, got {self.track_max_gap_frames}")
        if self.audio_window_s <= 0:
            raise ConfigError(f"--audio-window must be > 0 s, got {self.audio_window_s}")
        if self.max_av_shift_s < 0:
            raise ConfigError(f"--max-av-shift must be >= 0 s, got {self.max_av_shift_s}")
        if self.explain not in EXPLAIN_MODES:
            raise ConfigError(f"--explain must be one of {EXPLAIN_MODES}, got {self.explain!r}")
        if self.explain_every < 1:
            raise ConfigError(f"explain_every must be >= 1, got {self.explain_every}")
        if self.runtime not in RUNTIMES:
            raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.identity not in IDENTITY_MODES:
            raise ConfigError(f"--identity must be one of {', '.join(IDENTITY_MODES)}, got {self.identity!r}")
        if self.fusion_params:
            _check_fusion_file(self.fusion_params)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Hash of the settings that affect results (device, chunking and runtime do not).

        The runtime is left out like the device: float onnx and torch agree to ~1e-6
        (tests/models/test_onnx_parity.py), the order of CPU vs GPU kernels, and give the same
        face-seconds on the six samples; results finished under one are kept under the other.
        A runtime that moved the numbers (int8) would have to enter the hash. The fusion gate's
        values enter the model version instead of its file name (pipeline/version.py)."""
        d = self.to_dict()
        for k in ("device", "chunk_frames", "runtime", "fusion_params"):
            d.pop(k)
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def _check_fusion_file(path: str) -> None:
    """A --fusion file must be a gate written by `train fusion` (JSON with a "params" object)."""
    try:
        params = json.loads(open(path).read())["params"]
        ok = isinstance(params, dict) and all(isinstance(v, (int, float)) for v in params.values())
    except OSError as e:
        raise ConfigError(f"--fusion {path}: cannot read the file ({(e.strerror or 'unreadable').lower()}); "
                          "write one with `cli.py train fusion --data DIR --out FILE`") from None
    except (ValueError, KeyError, TypeError) as e:
        why = (f"not JSON (line {e.lineno}, column {e.colno})" if isinstance(e, json.JSONDecodeError)
               else "not text" if isinstance(e, UnicodeDecodeError) else 'no "params" object in it')
        raise ConfigError(f"--fusion {path}: not a fusion gate file ({why}); "
                          "write one with `cli.py train fusion --data DIR --out FILE`") from None
    if not ok:
        raise ConfigError(f"--fusion {path}: its \"params\" must all be numbers; "
                          "write one with `cli.py train fusion --data DIR --out FILE`")

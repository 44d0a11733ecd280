"""Validated run configuration and its stable hash.

Everything that changes the numbers in the output tables lives in `RunConfig`; its
`config_hash()` is stored in the manifest so a re-run can tell whether a finished video
was produced with the same settings (and skip it) or not (and redo it). The sync stage's and
the explainer's settings are typed sub-configs (`SyncConfig`, `ExplainConfig`); the CLI's options
and `analyze()`'s keywords use their flat names (`RunConfig.from_flat`: explain="none",
sync_window_s=10, ...), which are also the hash's keys (`RunConfig.config_hash`).
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


def _number(name: str, value) -> float:
    """`value` if it is a plain number, else a ConfigError naming the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    return value


@dataclass(frozen=True)
class SyncConfig:
    """The A/V sync stage's settings (sync/analyse.py's module docstring says what each does).
    All of them change the offset found and the speaking scores, so all are in the hash."""

    max_av_shift_s: float = 1.0  # DTW band: largest A/V offset searched, s
    window_s: float = 20.0  # length of each stretch decoded at full rate for the offset, s
    max_windows: int = 8  # at most this many windows spread over a long video (0 = the whole video)
    segment_s: float = 10.0  # the signals are aligned in segments this long (drift = their lags' trend), s
    min_confidence: float = 0.3  # aligned correlation below this -> container clock (offset 0)

    def __post_init__(self) -> None:
        if not _number("--max-av-shift", self.max_av_shift_s) >= 0:
            raise ConfigError(f"--max-av-shift must be >= 0 s, got {self.max_av_shift_s}")
        if not _number("--sync-window", self.window_s) >= 1:
            raise ConfigError(f"--sync-window must be at least 1 s, got {self.window_s}")
        if isinstance(self.max_windows, bool) or not isinstance(self.max_windows, int) or self.max_windows < 0:
            raise ConfigError(f"--sync-windows must be a whole number >= 0 (0 = the whole video), got {self.max_windows!r}")
        if not _number("--sync-segment", self.segment_s) >= 1:
            raise ConfigError(f"--sync-segment must be at least 1 s, got {self.segment_s}")
        if not 0.0 <= _number("--sync-min-confidence", self.min_confidence) <= 1.0:
            raise ConfigError(f"--sync-min-confidence must be in [0, 1], got {self.min_confidence}")


@dataclass(frozen=True)
class ExplainConfig:
    """Which seconds get feature-group attributions (explain/select.py): all, every `every`-th
    second (sample) or none. Modality Shapley values are computed for every row either way."""

    mode: str = "sample"  # all | sample | none (EXPLAIN_MODES)
    every: int = 5  # with mode=sample: attribute every Nth second

    def __post_init__(self) -> None:
        if self.mode not in EXPLAIN_MODES:
            raise ConfigError(f"--explain must be one of {EXPLAIN_MODES}, got {self.mode!r}")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ConfigError(f"explain_every must be a whole number >= 1, got {self.every!r}")


# RunConfig.from_flat / to_flat: the flat names (CLI options, analyze() settings, the hash's
# keys) of the sub-configs' fields.
_NESTED = {
    "max_av_shift_s": ("sync", "max_av_shift_s"), "sync_window_s": ("sync", "window_s"),
    "sync_max_windows": ("sync", "max_windows"), "sync_segment_s": ("sync", "segment_s"),
    "sync_min_confidence": ("sync", "min_confidence"),
    "explain": ("explain", "mode"), "explain_every": ("explain", "every"),
}
_SUBCONFIGS = {"sync": SyncConfig, "explain": ExplainConfig}
# Settings that do not change the numbers: out of the hash (RunConfig.config_hash says why).
_NOT_HASHED = ("device", "chunk_frames", "runtime", "fusion_params")
# The keys config_hash hashed before the sub-configs existed (always in the hash, so results
# finished then keep their hash). Any other setting enters only when it differs from its default.
_HASHED_SINCE_V1 = frozenset({
    "fps", "detect_max_side", "detect_interval_s", "min_face_px", "min_face_score", "track_iou",
    "track_max_gap_s", "track_max_gap_frames", "shot_cut", "audio_window_s", "max_av_shift_s",
    "explain", "explain_every", "identity"})


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
    runtime: str = "auto"  # auto | torch | onnx (see RUNTIMES)
    fusion_params: str = ""  # a fusion gate file written by `train fusion` ("" = the shipped defaults)
    identity: str = "collection"  # collection | video | off (see IDENTITY_MODES)
    sync: SyncConfig = SyncConfig()  # the A/V sync stage (sync/analyse.py)
    explain: ExplainConfig = ExplainConfig()  # which seconds get feature-group attributions

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
        for name, kind in (("sync", SyncConfig), ("explain", ExplainConfig)):
            if not isinstance(getattr(self, name), kind):
                raise ConfigError(f"RunConfig({name}=...) takes a {kind.__name__}, got {getattr(self, name)!r}; "
                                  "RunConfig.from_flat takes the flat option names (explain='none', sync_window_s=10)")
        if self.runtime not in RUNTIMES:
            raise ConfigError(f"--runtime must be one of {', '.join(RUNTIMES)}, got {self.runtime!r}")
        if self.identity not in IDENTITY_MODES:
            raise ConfigError(f"--identity must be one of {', '.join(IDENTITY_MODES)}, got {self.identity!r}")
        if self.fusion_params:
            _check_fusion_file(self.fusion_params)

    @classmethod
    def flat_names(cls) -> tuple[str, ...]:
        """Every setting's flat name: the top-level fields and the sub-configs' names in _NESTED."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name not in _SUBCONFIGS) + tuple(_NESTED)

    @classmethod
    def from_flat(cls, **settings) -> RunConfig:
        """A RunConfig from flat names (the CLI's options, `analyze()`'s settings): explain="none",
        max_av_shift_s=0.5, sync_window_s=10, ... go into their sub-config. TypeError for a name
        that is no setting, ConfigError for a value out of range."""
        top: dict = {}
        parts: dict[str, dict] = {name: {} for name in _SUBCONFIGS}
        for key, value in settings.items():
            if key in _NESTED:
                part, name = _NESTED[key]
                parts[part][name] = value
            elif key in cls.flat_names():
                top[key] = value
            else:
                raise TypeError(f"{key!r} is not a setting; settings are {', '.join(cls.flat_names())}")
        return cls(**top, **{part: kind(**parts[part]) for part, kind in _SUBCONFIGS.items()})

    def to_flat(self) -> dict:
        """The settings under their flat names (from_flat's inverse)."""
        d = {k: v for k, v in dataclasses.asdict(self).items() if k not in _SUBCONFIGS}
        return {**d, **{key: getattr(getattr(self, part), name) for key, (part, name) in _NESTED.items()}}

    def to_dict(self) -> dict:
        """Nested as the dataclasses are (the run log). The manifest's config_json holds `to_flat()`:
        the option names, whose keys stay what they were before the sub-configs existed."""
        return dataclasses.asdict(self)

    def config_hash(self) -> str:
        """Hash of the settings that affect results (device, chunking and runtime do not).

        It is computed from the flat settings (`to_flat`, the names the settings had before the
        sync and explain sub-configs existed: explain, explain_every, max_av_shift_s, ...), so
        the hash of every configuration that could be written before is unchanged and finished
        results are kept after an upgrade. The rule for settings added since (the sync
        window, window count, segment and minimum confidence, and any added later): a setting
        enters the hash only when it differs from its default, under its flat name, as its
        default's type (sync_window_s=10 and 10.0 hash alike). The hashes of earlier
        configurations are pinned in tests/test_config.py.

        The runtime is left out like the device: float onnx and torch agree to ~1e-6
        (tests/models/test_onnx_parity.py), the order of CPU vs GPU kernels, and give the same
        face-seconds on the six samples; results finished under one are kept under the other.
        A runtime that moved the numbers (int8) would have to enter the hash. The fusion gate's
        values enter the model version instead of its file name (pipeline/version.py)."""
        d = self.to_flat()
        defaults = RunConfig().to_flat()
        for k in list(d):
            if k in _NOT_HASHED or (k not in _HASHED_SINCE_V1 and d[k] == defaults[k]):
                d.pop(k)
            elif k not in _HASHED_SINCE_V1:  # a new setting: 10 and 10.0 are one value (the old keys keep
                d[k] = type(defaults[k])(d[k])  # their json form, whose hash tells them apart)
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

"""Labelled emotional-speech clips: file-name parsing, discovery and audio loading.

Two corpora are recognised by their file names (any extension, any folder depth):

- RAVDESS ``MM-VV-EE-II-SS-RR-AA`` (modality 01 audio-video, 02 video only, 03 audio only;
  vocal channel 01 speech, 02 song; emotion 01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
  06 fearful, 07 disgust, 08 surprised; actor AA). Calm maps to neutral.
- CREMA-D ``AAAA_SSS_EEE_LL`` (actor 1001-1091, sentence, emotion ANG/DIS/FEA/HAP/NEU/SAD,
  level LO/MD/HI/XX).

Audio is decoded with PyAV from any container (flac, wav, mp4, mov, ...), averaged to mono
and resampled to 16 kHz float32.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from emotion_batch.labels import LABELS

SAMPLE_RATE = 16000
MEDIA_EXTENSIONS = {".wav", ".flac", ".mp3", ".ogg", ".m4a", ".mp4", ".mov", ".mkv", ".avi", ".webm", ".flv"}

_RAVDESS = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d{2})$")
_RAVDESS_EMOTION = {
    "01": "neutral", "02": "neutral", "03": "happy", "04": "sad",
    "05": "angry", "06": "fear", "07": "disgust", "08": "surprise",
}
_CREMA = re.compile(r"^(\d{4})_([A-Z]{3})_(ANG|DIS|FEA|HAP|NEU|SAD)_([A-Z]{2})$")
_CREMA_EMOTION = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}


@dataclass(frozen=True)
class Clip:
    """One labelled clip. ``label`` is an index into LABELS; ``has_audio`` False for RAVDESS 02."""

    path: Path
    corpus: str  # "ravdess" | "crema-d"
    actor: int
    label: int
    has_audio: bool = True

    @property
    def label_name(self) -> str:
        return LABELS[self.label]


def parse_name(path: str | Path) -> Clip | None:
    """The Clip a RAVDESS or CREMA-D file name describes, or None for any other name."""
    p = Path(path)
    stem = p.stem
    m = _RAVDESS.match(stem)
    if m:
        modality, _, emo, _, _, _, actor = m.groups()
        return Clip(p, "ravdess", int(actor), LABELS.index(_RAVDESS_EMOTION[emo]), modality != "02")
    m = _CREMA.match(stem)
    if m:
        actor, _, emo, _ = m.groups()
        return Clip(p, "crema-d", int(actor), LABELS.index(_CREMA_EMOTION[emo]), True)
    return None


def find_clips(root: str | Path, require_audio: bool = True) -> list[Clip]:
    """All recognised clips under ``root`` (recursive, sorted by path)."""
    root = Path(root)
    if root.is_file():
        candidates = [root]
    else:
        candidates = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
    clips = [c for c in (parse_name(p) for p in candidates) if c is not None]
    return [c for c in clips if c.has_audio or not require_audio]


def load_audio(path: str | Path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode the first audio stream of any audio or video file to mono float32 at ``sr`` Hz."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise ValueError(f"{path}: no audio stream")
        stream = container.streams.audio[0]
        # Resample keeping the channels (planar float), then average them: mono = mean of the
        # channels (ffmpeg's own stereo->mono downmix would scale by 1/sqrt(2) per channel).
        resampler = av.AudioResampler(format="fltp", rate=sr)
        parts = []
        for frame in container.decode(stream):
            parts.extend(f.to_ndarray().mean(axis=0) for f in resampler.resample(frame))
        parts.extend(f.to_ndarray().mean(axis=0) for f in resampler.resample(None))
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


def split_by_actor(clips: list[Clip], val_actors: set[int]) -> tuple[list[Clip], list[Clip]]:
    """(train, validation): no actor appears in both."""
    train = [c for c in clips if c.actor not in val_actors]
    val = [c for c in clips if c.actor in val_actors]
    return train, val

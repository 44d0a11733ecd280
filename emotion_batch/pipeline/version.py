"""The model version stored with every result: weights and processing behind the numbers."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

from emotion_batch.fusion.speaker import load_speaker_gate
from emotion_batch.models.fusion_params import FusionParams, load_default_params
from emotion_batch.models.versions import AUDIO_WEIGHTS_SHA, VISUAL_WEIGHTS_SHA
from emotion_batch.schemas import SCHEMA_VERSION

# Bump when processing changes the numbers without a weights change (e.g. the voice-activity
# fix for track ends), so `run` redoes videos finished by an older version instead of skipping.
# 3: speaking scores for every face-second, the speaker gate in fusion, voice rows (face_id -1).
# 4: a second the audio track covers only in part (a video's last, partial second) is read over that part.
ALGORITHM_VERSION = 4


def model_version(fusion_params: FusionParams | None = None) -> str:
    """Identifies the weights and processing behind every number in the tables (`fusion_params`:
    the fusion gate in use, default the shipped one)."""
    gate = load_speaker_gate()  # a refitted speaker gate changes the fused numbers too
    params = {**asdict(fusion_params or load_default_params()), "speaker_gate": [gate.a, gate.b, gate.c]}
    fusion = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
    return f"s{SCHEMA_VERSION}-p{ALGORITHM_VERSION}-v{VISUAL_WEIGHTS_SHA[:8]}-a{AUDIO_WEIGHTS_SHA[:8]}-f{fusion[:6]}"

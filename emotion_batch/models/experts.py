"""The experts' models on one device, loaded once and shared by the stages that use them.

The align and audio stages run inference through `visual_net`/`audio_net` (torch modules or
onnxruntime sessions, per `--runtime`); the explain stage needs the torch modules themselves
(attribution takes gradients). One `Experts` per analyzer gives every stage the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from emotion_batch.config import RunConfig
from emotion_batch.models.audio import load_audio_model
from emotion_batch.models.fusion import FusionParams, load_fusion_params
from emotion_batch.models.runtime import Runtime
from emotion_batch.models.visual import load_visual_model


@dataclass(frozen=True)
class Experts:
    device: torch.device
    runtime: Runtime
    visual: torch.nn.Module  # the visual expert (MiniXception), for gradients
    audio: torch.nn.Module  # the audio expert, for gradients
    visual_net: Callable  # what inference calls: `visual` itself, or its onnxruntime session
    audio_net: Callable
    fusion_params: FusionParams

    @classmethod
    def load(cls, config: RunConfig, device: torch.device) -> Experts:
        runtime = Runtime.resolve(config.runtime, device)
        visual, audio = load_visual_model(device), load_audio_model(device)
        return cls(device, runtime, visual, audio, runtime.net("visual", visual), runtime.net("audio", audio),
                   load_fusion_params(config.fusion_params))

"""The explain stage: why a second got its label.

- `shapley`: exact two-player (face, voice) Shapley values of the fused probability, every row;
- `groups`: SHAP expected-gradients shares per face region and audio band, for selected rows;
- `select`: the one rule for which seconds get group shares (`--explain all|sample|none`);
- `table`: the attribution table (ATTRIBUTION_SCHEMA) and its per-video summary;
- `stage`: what the pipeline keeps while it analyses (best crops) and the table for a timeline.
"""

from emotion_batch.explain.groups import (
    AUDIO_BANDS, AUDIO_BLUR_SIGMAS, FACE_BLUR_SIGMAS, GROUP_COLUMNS, N_SAMPLES, audio_references, audio_shares,
    expected_gradients, face_references, face_shares, gaussian_blur, group_attributions,
)
from emotion_batch.explain.select import explain_mask, wants_groups
from emotion_batch.explain.shapley import ModalityShapley, modality_shapley
from emotion_batch.explain.table import SUMMARY_SQL, ExplainInput, expert_probs, explain, summarise

__all__ = [
    "AUDIO_BANDS", "AUDIO_BLUR_SIGMAS", "FACE_BLUR_SIGMAS", "GROUP_COLUMNS", "N_SAMPLES", "SUMMARY_SQL",
    "ExplainInput", "ModalityShapley", "audio_references", "audio_shares", "expected_gradients", "explain",
    "explain_mask", "expert_probs", "face_references", "face_shares", "gaussian_blur", "group_attributions",
    "modality_shapley", "summarise", "wants_groups",
]

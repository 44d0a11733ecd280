"""The fusion stage: per-(face, second) aggregation of the visual expert's frame readings, joined
with the audio expert's per-second readings and fused into one distribution per row."""

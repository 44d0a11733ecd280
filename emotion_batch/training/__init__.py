"""Training and evaluation of the audio expert and the fusion parameters (offline, not run-time)."""

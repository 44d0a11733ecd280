"""Model code: the visual expert (visual.py), and the audio and fusion experts beside it.

Weights live in ``weights/*.safetensors`` and load offline; MODEL_CARD.md documents each model.
"""

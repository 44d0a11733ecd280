"""The local engine: one process, one video after another (`--engine local`)."""

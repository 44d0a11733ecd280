"""Who is who: face-recognition embeddings per track, persons within a video and across a
results folder (docs/identity.md). Nothing here imports Ray; embeddings never leave `--out`."""

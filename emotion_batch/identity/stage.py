"""The identity stage in the pipeline's one shape (pipeline/stage.py): a few face chips per
track while the chunks go by (`add`), embedded when the track ends; once per video,
TrackCrops -> the TRACK_SCHEMA table (`process`). Off (`--identity off`): no state, no table."""

from __future__ import annotations

import pyarrow as pa

from emotion_batch.config import RunConfig
from emotion_batch.identity.collect import TrackCrops
from emotion_batch.identity.embed import shared_embedder
from emotion_batch.media import FrameChunk
from emotion_batch.models.experts import Experts
from emotion_batch.vision.stage import ChunkFaces


class IdentityStage:
    name = "identity"

    def setup(self, config: RunConfig, experts: Experts) -> None:
        self.on = config.identity != "off"

    def start(self) -> TrackCrops | None:
        """One video's chip collector (the embedder loads on first use, once per process)."""
        return TrackCrops(shared_embedder()) if self.on else None

    @staticmethod
    def add(chunk: FrameChunk, faces: ChunkFaces, /, *, chips: TrackCrops, live_ids: set[int]) -> None:
        chips.add_chunk(chunk.times, chunk.frames, faces.faces, faces.face_ids, live_ids)

    @staticmethod
    def process(chips: TrackCrops | None, /, *, video_id: str) -> pa.Table | None:
        return chips.table(video_id) if chips is not None else None

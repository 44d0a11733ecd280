"""What every part of one run shares, built once: `RunContext`.

The results store, the settings that change results (`RunConfig`) with their hash, the model
version, `--force`, and the device the results are analysed on. The CLI (or
`emotion_batch.analyze`) builds it once; the planner (`decide.py`), the recorder
(`record.py`), the unit runner (`units.py`) and both executors take it instead of
`store, config, model_version, force` as separate values, and nothing computes the hash again.
It pickles (the Ray layer sends it to planning tasks and actors).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from emotion_batch.config import RunConfig
from emotion_batch.run.storage.store import DoneRecord, ResultStore


@dataclass(frozen=True)
class RunContext:
    store: ResultStore
    config: RunConfig
    model_version: str
    config_hash: str
    force: bool = False
    device: str = "none"  # the analysis device; set by whoever analyses (`on`)

    @classmethod
    def build(cls, out: str, config: RunConfig, *, force: bool = False) -> "RunContext":
        """The context of a run into `out` (its table folders are created). Loads no model:
        the model version comes from the weights' recorded hashes and the fusion gate."""
        from emotion_batch.models.fusion_params import load_fusion_params
        from emotion_batch.pipeline import model_version

        version = model_version(load_fusion_params(config.fusion_params))
        return cls(ResultStore(out), config, version, config.config_hash(), force)

    @property
    def out(self) -> str:
        """The results location as the user gave it (a folder or a URI)."""
        return self.store.root_uri

    def on(self, device) -> "RunContext":
        """The same run, analysed on `device`."""
        return dataclasses.replace(self, device=str(device))

    def finished(self, record: DoneRecord | None) -> bool:
        """A manifest verdict that counts as done for this run: `ok` with this model and settings."""
        return record is not None and record.finished(self.model_version, self.config_hash)

    def is_done(self, video_id: str) -> bool:
        """The video is finished for this run (and --force does not redo it)."""
        return not self.force and self.finished(self.store.done_record(video_id))

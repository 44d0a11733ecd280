"""The one shape of a pipeline stage, in the manner of NeMo Curator's `ProcessingStage` and
pyannote's pipeline steps:

    name                      the step's name, as hooks see it ("faces", "sync", ...)
    setup(config, experts)    once per analyzer: read settings, load models, take the device
    process(artifact, /, **context) -> artifact
                              per chunk of frames or once per video; `context`: the per-video
                              things the stage reads or updates, by keyword (tracks, builder, ...)

The stages live in the packages that do the work, each a thin module over their functions:

    vision/stage.py    FacesStage "faces", AlignStage "align"   per chunk
    identity/stage.py  IdentityStage "identity"                  per chunk (add), per video
    sync/stage.py      SyncStage "sync"                          per video
    audio/stage.py     AudioStage "audio"                        per video
    fusion/stage.py    TimelineStage "timeline"                  per video
    explain/stage.py   ExplainStage "explain"                    per video

They conform to `Stage` by shape (a Protocol): the packages sit below the pipeline and never
import it. `VideoAnalyzer` (analyzer.py) sets them up and runs them in order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from emotion_batch.config import RunConfig
    from emotion_batch.models.experts import Experts


@runtime_checkable
class Stage(Protocol):
    name: str

    def setup(self, config: RunConfig, experts: Experts) -> None: ...

    def process(self, artifact: Any, /, **context: Any) -> Any: ...

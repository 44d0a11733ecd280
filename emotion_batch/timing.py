"""The one stage timer: wall and CPU seconds per named stage, accumulated over calls.

    timer = StageTimer(STAGES)
    with timer("detect"):
        ...
    timer.wall["detect"], timer.cpu["detect"]

CPU seconds (this process, all threads) are robust to other jobs on a shared machine; wall
seconds are what the manifest reports per stage.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import contextmanager


class StageTimer:
    def __init__(self, stages: Iterable[str] = ()) -> None:
        self.wall: dict[str, float] = {s: 0.0 for s in stages}
        self.cpu: dict[str, float] = {s: 0.0 for s in stages}

    @contextmanager
    def __call__(self, stage: str):
        w, c = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall[stage] = self.wall.get(stage, 0.0) + time.perf_counter() - w
            self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - c

    @property
    def seconds(self) -> dict[str, float]:
        """Wall seconds per stage."""
        return dict(self.wall)

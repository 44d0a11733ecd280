"""A real one-face video keeps one face_id at every analysis rate (issue 24, item 1)."""

import pytest

from conftest import SAMPLE_VIDEOS
from emotion_batch.config import RunConfig
from emotion_batch.pipeline.analyzer import VideoAnalyzer


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("fps", [0.5, 1.0, 2.0, 5.0])
def test_one_face_one_id_at_any_rate(fps):
    analyzer = VideoAnalyzer(RunConfig.from_flat(fps=fps, explain="none", device="cpu", identity="off"))
    result = analyzer(SAMPLE_VIDEOS / "WolfgangLanger_Pexels.mp4")
    assert result.status == "ok", result.error
    ids = set(result.timeline.column("face_id").to_pylist()) - {-1}
    assert ids == {0}
    assert result.faces_found == 1

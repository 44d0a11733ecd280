"""The analyzer's keyframe policy (vision/keyframes.py) on videos the test makes: a settled
scene gets full detection once a second, and a face that appears is still found in the second
it appears; the face-seconds are those of full detection on every frame."""

import numpy as np
import pytest

from emotion_batch.config import RunConfig
from emotion_batch.pipeline import VideoAnalyzer


def analyse(path: str, interval: float):
    """(timeline rows with a face, frames that went through full detection, frames analysed)."""
    a = VideoAnalyzer(RunConfig.from_flat(device="cpu", explain="none", detect_interval_s=interval))
    full, seen = [], []
    detect = a.detector.detect
    a.detector.detect = lambda frames: full.append(len(frames)) or detect(frames)
    res = a(path, hook=lambda step, art, **kw: seen.append(len(art.times)) if step == "frames" else None)
    assert res.ok, res.error
    rows = [r for r in res.timeline.to_pylist() if r["face_id"] >= 0]
    return rows, sum(full), sum(seen)


@pytest.fixture(scope="module")
def appearing(tmp_path_factory):
    from videogen import make_video

    path = tmp_path_factory.mktemp("keyframes") / "appears.mp4"
    make_video(path, seconds=6.0, fps=10, face_from_s=3.5)  # analysed at 5 fps: seen from 3.6
    return str(path)


def test_settled_scene_is_fully_detected_once_a_second(made_videos):
    rows, full, frames = analyse(made_videos["face"][0], 1.0)
    dense, full0, _ = analyse(made_videos["face"][0], 0.0)
    assert full0 == frames == 15
    # the face is new at 0.0, detections agree from 0.2 and settle at 0.6; then 0.8, 1.8, 2.8
    assert full == 4 + 3
    assert [(r["second"], r["n_frames"]) for r in rows] == [(r["second"], r["n_frames"]) for r in dense]
    for r, d in zip(rows, dense):  # refined boxes: R/O-Net on the tracked box, vs the whole cascade
        np.testing.assert_allclose([r["box_x1"], r["box_y1"]], [d["box_x1"], d["box_y1"]], atol=3.0)
        np.testing.assert_allclose([r["v_happy"], r["v_neutral"]], [d["v_happy"], d["v_neutral"]], atol=0.05)


def test_a_face_that_appears_is_found_in_its_second(appearing):
    rows, full, frames = analyse(appearing, 1.0)
    dense, _, _ = analyse(appearing, 0.0)
    assert {r["second"] for r in rows} == {r["second"] for r in dense} == {3, 4, 5}
    assert full < frames  # the face-less seconds before it settled

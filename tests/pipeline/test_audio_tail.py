"""Sound that runs past the end of the picture is analysed as voice-only rows, and the
manifest's duration and warning say which stream it measured."""

from __future__ import annotations

import pytest

from emotion_batch.media import probe
from videogen import make_video, tone


@pytest.fixture(scope="module")
def tail_video(tmp_path_factory):
    p = tmp_path_factory.mktemp("tail") / "tail.mp4"
    make_video(p, seconds=3.0, fps=5, size=(160, 120), audio=tone(6.4, 16000))
    return str(p)


def test_probe_measures_the_sound_and_says_so(tail_video):
    info = probe(tail_video)
    assert info.video_end_s == pytest.approx(3.0, abs=0.05)
    assert info.duration_s == pytest.approx(6.4, abs=0.1)  # AAC frames round the end up
    assert info.picture_end_s == info.video_end_s and info.n_frames == 15
    assert any("past the end of the picture" in w and "duration_s is the sound's" in w for w in info.warnings)


def test_seconds_after_the_picture_are_voice_only_rows(analyzer, tail_video):
    res = analyzer(tail_video, "tail")
    assert res.ok, res.error
    tl = res.timeline.to_pydict()
    after = [(s, f) for s, f in zip(tl["second"], tl["face_id"]) if s >= 3]
    assert sorted({s for s, _ in after}) == [3, 4, 5, 6] and {f for _, f in after} == {-1}
    assert any(f >= 0 for s, f in zip(tl["second"], tl["face_id"]) if s < 3)  # the face while it shows
    assert "past the end of the picture" in res.warning
    assert "decoding stopped" not in res.warning  # the picture's end is not taken for damage


def test_a_short_tail_is_inside_the_last_seconds_window(tmp_path):
    p = tmp_path / "pad.mp4"
    make_video(p, seconds=3.0, fps=5, size=(160, 120), audio=tone(3.3, 16000))
    info = probe(str(p))
    assert info.video_end_s is None and info.duration_s == pytest.approx(3.0, abs=0.05)

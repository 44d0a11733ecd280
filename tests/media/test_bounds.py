"""Cost bounds checked by probe before anything is decoded: picture size, frame rate, time."""

from __future__ import annotations

import importlib

import pytest

from emotion_batch.media import MediaError
from emotion_batch.media import probe as probe_fn
from videogen import make_video

mod = importlib.import_module("emotion_batch.media.probe")  # the package exports the function


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    p = tmp_path_factory.mktemp("bounds") / "clip.mp4"
    make_video(p, seconds=1.0, fps=10, size=(320, 240), face=False)
    return str(p)


def test_picture_above_the_bound_is_refused_before_any_decode(clip, monkeypatch):
    monkeypatch.setattr(mod, "MAX_FRAME_PIXELS", 320 * 240 - 1)
    monkeypatch.setattr(mod, "_first_picture", lambda *a: pytest.fail("a picture was decoded"))
    with pytest.raises(MediaError, match=r"^the picture is 320x240 \(0 Mpx\), above the 0 Mpx this tool analyses"):
        probe_fn(clip)


def test_bound_fits_8k():
    assert 8192 * 4320 <= mod.MAX_FRAME_PIXELS < 16000 * 16000


def test_frame_rate_above_the_bound_is_refused(clip, monkeypatch):
    monkeypatch.setattr(mod, "MAX_FPS", 5.0)
    with pytest.raises(MediaError, match=r"10 frames in 1\.00 s \(10 per second\), above the 5 per second"):
        probe_fn(clip)


def test_probing_has_a_time_limit(clip, monkeypatch):
    with pytest.raises(MediaError, match=r"^the file gave no data for 0 s"):  # FFmpeg's own reads
        probe_fn(clip, timeout_s=0.0)
    real = mod.open_container
    monkeypatch.setattr(mod, "open_container", lambda path, timeout=None: real(path))
    with pytest.raises(MediaError, match=r"took longer than 0 s \(probe time limit\)"):  # the packet pass
        probe_fn(clip, timeout_s=0.0)
    assert mod.PROBE_TIMEOUT_S > 0

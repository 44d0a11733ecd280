"""Mouth motion measured during the analysis' own decode (sync/stream.py): the same signals,
offset and speaking scores as decoding windows a second time, with a bounded buffer, and the
analyzer decoding each video once."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_batch import media, sync
from emotion_batch.config import SyncConfig
from emotion_batch.media.frames import LUMA
from emotion_batch.media.windows import WindowReader
from emotion_batch.sync.stream import SETTLE_S, MotionStream
from emotion_batch.vision.mouths import TrackLog

pytestmark = [pytest.mark.shared, pytest.mark.slow]  # RAVDESS speech for the talking faces; ~12 s of CPU


@pytest.fixture(scope="module")
def talking(tmp_path_factory, tf, speech):
    """A talking face with its audio 0.12 s late, and its tracks as the pipeline logs them."""
    import torch

    from emotion_batch.vision.detect import FaceDetector
    from emotion_batch.vision.track import IoUTracker

    path = str(tmp_path_factory.mktemp("stream") / "talk.mp4")
    tf.make_talking_video(path, speech, offset_s=0.12, seed=3)
    detector, log, tracker = FaceDetector(torch.device("cpu")), TrackLog(), IoUTracker()
    for chunk in media.iter_frames(path, 2.0):
        for t, f in zip(chunk.times, detector.detect(chunk.frames)):
            log.add(float(t), tracker.update(float(t), f.boxes), f.landmarks)
    return path, log


def _streamed(path, log, chunk=8):
    """Samples from one decode at 2 analysed fps, advanced chunk by chunk as the analyzer does;
    also the most frames the stream held at once."""
    info = media.probe(path)
    stream, held = MotionStream(info), 0
    for c in media.iter_frames(path, 2.0, chunk, tap=stream.frame):
        held = max(held, len(stream._times))
        stream.advance(log, float(c.times[-1]))
    return info, stream.finish(log), held


def test_streamed_motion_matches_the_window_reader(talking):
    path, log = talking
    info, motion, held = _streamed(path, log)
    tracks = log.tracks(min_obs=1)
    reader = WindowReader(info, min(float(np.median(b[:, 2] - b[:, 0])) for _, b in tracks.values()))
    acc = sync.MotionAccumulator(tracks, reader.scale)
    for t, f in reader.frames(0.0, info.duration_s):
        acc.add(t, f)
    reader.close()
    grid = sync.uniform_grid(0.0, info.duration_s)
    (fid,) = tracks
    a, b = acc.signal(fid, grid), motion.signal(fid, grid)
    ok = np.isfinite(a) & np.isfinite(b)
    assert ok.mean() > 0.9
    assert np.corrcoef(a[ok], b[ok])[0, 1] > 0.98  # other resolution and luma path, same motion
    assert np.nanmean(b) == pytest.approx(np.nanmean(a), rel=0.15)  # gray levels, not Y codes
    assert motion.frame_period() == pytest.approx(1 / 25, abs=1e-6)
    # bounded: one chunk (4 s at 2 fps) plus the settling second of 25 fps frames, not the video
    assert held <= (8 / 2.0 + SETTLE_S + 0.5) * 25 < info.n_frames


def test_streamed_motion_gives_the_same_offset_and_scores(talking):
    path, log = talking
    info, motion, _ = _streamed(path, log, chunk=5)
    tracks = log.tracks(min_obs=1)
    old = sync.analyze_sync(info, tracks, None, settings=SyncConfig(max_av_shift_s=1.0))
    new = sync.analyze_sync(info, tracks, None, settings=SyncConfig(max_av_shift_s=1.0), motion=motion)
    assert new.result.method == old.result.method == "dtw"
    assert new.result.offset_s == pytest.approx(old.result.offset_s, abs=0.01)  # a quarter frame
    assert abs(new.result.offset_s - 0.12) < 1 / 25
    (fid,) = tracks
    assert new.speaking[fid].keys() == old.speaking[fid].keys()
    diff = [abs(new.speaking[fid][s] - old.speaking[fid][s]) for s in old.speaking[fid]]
    assert max(diff) < 0.1


def test_luma_plane_in_gray_levels(talking):
    """The Y plane scaled to full range reads as RGB -> luma does, within 2 gray levels."""
    import av

    path, _ = talking
    info = media.probe(path)
    with av.open(path) as c:
        frame = next(c.decode(video=0))
        plane, gain = MotionStream(info)._luma(frame)
        gray = frame.to_ndarray(format="rgb24").astype(np.float32) @ LUMA
    assert plane.shape == gray.shape and gain == pytest.approx(255 / 219)
    assert np.abs((plane.astype(np.float32) - 16) * gain - gray).mean() < 2.0


def test_the_analyzer_decodes_each_video_once(talking, monkeypatch):
    """No second decode for sync: the window reader is never opened, yet the offset is found."""
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    def refuse(*a, **k):
        raise AssertionError("sync opened the video a second time")

    monkeypatch.setattr(sync.analyse, "WindowReader", refuse)
    path, _ = talking
    res = VideoAnalyzer(RunConfig.from_flat(device="cpu", fps=2.0, explain="none"))(path)
    assert res.ok, res.error
    assert abs(res.av_offset_s - 0.12) < 1 / 25


def test_the_runs_sync_settings_reach_the_sync_stage(talking):
    """RunConfig.sync is what the analyzer's sync stage uses: an offset that must correlate
    perfectly is never trusted, so the same video falls back to the container clock."""
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    path, _ = talking
    res = VideoAnalyzer(RunConfig.from_flat(device="cpu", fps=2.0, explain="none", sync_min_confidence=1.0))(path)
    assert res.ok, res.error
    assert res.av_offset_s == 0.0 and res.av_method.startswith("container (mouth motion and audio do not match")

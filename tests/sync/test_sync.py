"""A/V sync: DTW offset on talking-face videos built here with known offsets, drift and fallbacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import signal as sps

from emotion_batch import media, sync

RAVDESS = Path(__file__).resolve().parents[2] / "../shared" / "data" / "ravdess-speech-16k"
FPS = 25
FRAME_S = 1.0 / FPS
CLIPS = ["Actor_01/03-01-05-02-01-01-01.flac", "Actor_02/03-01-03-02-02-01-02.flac",
         "Actor_03/03-01-08-02-01-02-03.flac"]
OTHER = ["Actor_04/03-01-05-02-01-01-04.flac", "Actor_05/03-01-03-02-02-01-05.flac",
         "Actor_06/03-01-08-02-01-02-06.flac"]


# ------------------------------------------------------------------ unit tests (no shared data)

def _impulse_signal(n, rate, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    x[rng.choice(n, n // 25, replace=False)] = rng.uniform(0.5, 1.5, n // 25)
    return np.convolve(x, np.hanning(9), "same")


@pytest.mark.parametrize("shift", [-37, 0, 12, 61])
def test_estimate_offset_recovers_shift_and_sign(shift):
    """audio[k] = visual[k - shift]: the sound of video time t is heard at t + shift/rate."""
    rate, n = 100.0, 1500
    base = _impulse_signal(n + 200, rate, 1)
    vis = base[100 : 100 + n]
    aud = base[100 - shift : 100 - shift + n]
    rng = np.random.default_rng(2)
    res = sync.estimate_offset(vis + 0.05 * rng.standard_normal(n), aud + 0.05 * rng.standard_normal(n), rate, 1.0)
    assert res.method == "dtw"
    assert abs(res.offset_s - shift / rate) < 0.011
    assert res.confidence > 0.8
    assert res.audio_time(2.0) == pytest.approx(2.0 + res.offset_s)


def test_estimate_offset_respects_band():
    """A true shift beyond max_shift_s cannot be found: the result never leaves the band."""
    rate, n = 100.0, 1500
    base = _impulse_signal(n + 400, rate, 3)
    res = sync.estimate_offset(base[200 : 200 + n], base[50 : 50 + n], rate, max_shift_s=0.5)
    assert res.method == "container" or abs(res.offset_s) <= 0.5 + 0.1 + 1e-9


def test_estimate_offset_falls_back_without_information():
    rate, n = 100.0, 1000
    sig = _impulse_signal(n, rate, 4)
    for vis, aud in [(np.zeros(n), sig), (sig, np.zeros(n)), (np.full(n, np.nan), sig)]:
        res = sync.estimate_offset(vis, aud, rate)
        assert (res.method, res.offset_s, res.confidence) == ("container", 0.0, 0.0)
        assert res.reason
    rng = np.random.default_rng(5)  # unrelated signals: no match
    res = sync.estimate_offset(_impulse_signal(n, rate, 6), _impulse_signal(n, rate, 7) + 0.01 * rng.random(n), rate)
    assert res.method == "container" and "do not match" in res.reason


def test_drift_mapping_on_synthetic_signals():
    rate, n = 100.0, 4000
    base = _impulse_signal(n + 400, rate, 8)
    t = np.arange(n) / rate
    truth = 0.05 + 0.01 * t  # offset grows 10 ms per second
    aud = np.interp(t - truth, np.arange(-200, n + 200) / rate, base)
    res = sync.estimate_offset(base[200 : 200 + n], aud, rate, 1.0, segment_s=8.0)
    assert res.method == "dtw+drift"
    assert res.drift_slope == pytest.approx(0.01, abs=0.002)
    assert np.abs(res.offset_at(t[200:-200]) - truth[200:-200]).max() < FRAME_S


def test_interpolate_boxes_gaps_and_span():
    t_obs = np.array([0.0, 0.2, 2.0])
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [2, 0, 12, 10]], float)
    out = sync.interpolate_boxes(t_obs, boxes, np.array([-0.5, 0.1, 1.0, 2.1, 3.0]), max_gap_s=1.0)
    assert np.isnan(out[0]).all() and np.isnan(out[2]).all() and np.isnan(out[4]).all()
    np.testing.assert_allclose(out[1], [1, 0, 11, 10])
    np.testing.assert_allclose(out[3], [2, 0, 12, 10])


def test_mouth_boxes_cover_mouth_and_jaw():
    lm = np.array([[[40, 40], [60, 40], [50, 50], [40, 60], [60, 60]]], float)
    (x0, y0, x1, y1), = sync.mouth_boxes(lm)
    assert x0 < 40 < 60 < x1 and y0 < 60 < y1 and y1 - 60 > 60 - y0


def test_choose_windows_whole_short_video_spread_long_one():
    assert sync.choose_windows(35.0, np.ones(35), 20.0, 8) == [(0.0, 20.0), (20.0, 35.0)]
    cov = np.zeros(3600)
    cov[1000:1030] = 1  # the only stretch with face and sound
    w = sync.choose_windows(3600.0, cov, 20.0, 6)
    assert len(w) == 6 and all(b - a == 20.0 for a, b in w)
    assert all(k * 600 <= a and b <= (k + 1) * 600 for k, (a, b) in enumerate(w))  # one per part
    assert any(a <= 1000 and b >= 1020 for a, b in w)


def test_speaker_scores_pick_the_matching_face():
    rate, n = 100.0, 600
    aud = _impulse_signal(n, rate, 9)
    res = sync.speaker_scores({7: aud + 0.1 * _impulse_signal(n, rate, 10), 8: _impulse_signal(n, rate, 11)}, aud, rate, t0=3.0)
    assert set(res[7]) == set(range(3, 9))
    assert min(res[7].values()) > 0.8 and max(res[8].values()) < 0.5
    assert all(0.0 <= v <= 1.0 for d in res.values() for v in d.values())


# ------------------------------------------------------------------ talking-face videos

@pytest.fixture(scope="module")
def tf():
    import talking_face

    return talking_face


@pytest.fixture(scope="module")
def speech(tf):
    return tf.load_speech([RAVDESS / c for c in CLIPS])


@pytest.fixture(scope="module")
def other_speech(tf, speech):
    x = tf.load_speech([RAVDESS / c for c in OTHER])
    return np.pad(x, (0, max(0, len(speech) - len(x))))[: len(speech)]


@pytest.fixture(scope="module")
def detector():
    import torch

    from emotion_batch.vision.detect import FaceDetector

    return FaceDetector(torch.device("cpu"))


def detect_tracks(detector, path, fps=2.0):
    """What the pipeline will hand over: mouth boxes per track from MTCNN at the analysis rate."""
    from emotion_batch.vision.track import IoUTracker

    log, tracker = sync.TrackLog(), IoUTracker()
    for chunk in media.iter_frames(path, fps):
        for t, f in zip(chunk.times, detector.detect(chunk.frames)):
            log.add(float(t), tracker.update(float(t), f.boxes), f.landmarks)
    return log.tracks()


@pytest.fixture(scope="module")
def videos(tmp_path_factory, tf, speech, other_speech, detector):
    d = tmp_path_factory.mktemp("sync")
    out = {}
    for off in (-0.4, -0.2, 0.0, 0.12, 0.3):
        p = d / f"offset{off:+.2f}.mp4"
        out[off] = (str(p), tf.make_talking_video(p, speech, offset_s=off, seed=int(off * 100) % 7))
    tracks = detect_tracks(detector, out[0.0][0])
    return out, tracks


@pytest.mark.shared
def test_test_videos_hold_the_intended_offset(videos):
    """Ground truth check, independent of the estimator: the decoded video frames sit at k/25 s
    and the decoded audio equals the track written (AAC priming compensated), to the sample."""
    out, _ = videos
    path, truth = out[0.3]
    info = media.probe(path)
    assert info.fps == pytest.approx(FPS) and info.n_frames == len(truth["times"])
    clip = media.read_audio(path)
    n = min(len(clip.samples), len(truth["audio"]))
    xc = sps.correlate(clip.samples[:n], truth["audio"][:n], mode="full", method="fft")
    assert int(np.argmax(xc)) - (n - 1) == 0 and clip.start_s == 0.0


@pytest.mark.shared
def test_detector_tracks_the_test_face(videos):
    _, tracks = videos
    assert len(tracks) == 1
    (t_obs, boxes), = tracks.values()
    assert len(t_obs) >= 10 and np.all((boxes[:, 2] - boxes[:, 0]) > 40)


@pytest.mark.shared
@pytest.mark.parametrize("offset", [-0.4, -0.2, 0.0, 0.12, 0.3])
def test_offset_within_one_frame(videos, offset):
    out, tracks = videos
    path, _ = out[offset]
    res = sync.analyze_sync(path, tracks, media.read_audio(path), max_shift_s=1.0)
    r = res.result
    assert r.method == "dtw", r.reason
    assert abs(r.offset_s - offset) < FRAME_S, f"estimated {r.offset_s:+.3f} s for {offset:+.3f} s"
    assert r.confidence > 0.5 and r.speaker == next(iter(tracks))
    assert r.audio_time(1.0) == pytest.approx(1.0 + r.offset_s)
    assert min(res.speaking[r.speaker].values()) > 0.3


@pytest.mark.shared
def test_linear_drift_is_followed(tmp_path, tf, speech, other_speech, videos):
    _, tracks = videos
    long = np.concatenate([speech, other_speech, speech])
    dur = len(long) / tf.SR
    (t_obs, boxes), = tracks.values()  # the face does not move: extend its boxes to the long video
    t_long = np.arange(0.0, dur, 0.2)
    long_tracks = {0: (t_long, np.repeat(boxes[:1], len(t_long), 0))}
    p = tmp_path / "drift.mp4"
    tf.make_talking_video(p, long, offset_s=-0.1, drift=0.012)  # -100 ms at 0 s to +190 ms at 24 s
    r = sync.analyze_sync(str(p), long_tracks, media.read_audio(str(p)), segment_s=6.0).result
    assert r.method == "dtw+drift", r
    t = np.linspace(1.0, dur - 1.0, 25)
    err = r.offset_at(t) - (-0.1 + 0.012 * t)
    assert np.abs(err).max() < FRAME_S, err


@pytest.mark.shared
def test_fallback_no_face(tmp_path, tf, speech, detector, videos):
    p = tmp_path / "noface.mp4"
    tf.make_talking_video(p, speech, face=False)
    tracks = detect_tracks(detector, str(p), fps=1.0)
    assert tracks == {}
    r = sync.analyze_sync(str(p), tracks, media.read_audio(str(p))).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0) and "no face" in r.reason
    # Boxes that point at an empty background (a lost track) must not produce an offset either.
    r = sync.analyze_sync(str(p), videos[1], media.read_audio(str(p))).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0), r


@pytest.mark.shared
def test_fallback_silent_audio(tmp_path, tf, speech, videos):
    p = tmp_path / "silent.mp4"
    tf.make_talking_video(p, speech, silent=True)
    r = sync.analyze_sync(str(p), videos[1], media.read_audio(str(p))).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0) and "silent" in r.reason


@pytest.mark.shared
def test_fallback_static_face(tmp_path, tf, speech, videos):
    p = tmp_path / "static.mp4"
    n = int(len(speech) / tf.SR * FPS)
    tf.write_mp4(p, tf.make_frames(np.zeros(n)), speech)  # speech plays, the mouth stays shut
    r = sync.analyze_sync(str(p), videos[1], media.read_audio(str(p))).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0), r


@pytest.mark.shared
def test_no_audio_stream(tmp_path, tf, videos):
    p = tmp_path / "mute.mp4"
    tf.write_mp4(p, tf.make_frames(np.zeros(10)), None)
    assert media.read_audio(str(p)) is None
    r = sync.analyze_sync(str(p), videos[1], None).result  # None: read per window from the file
    assert r.method == "container" and "no audio" in r.reason


@pytest.mark.shared
def test_audio_read_per_window_gives_the_same_offset(videos):
    out, tracks = videos
    path, _ = out[0.3]
    whole = sync.analyze_sync(path, tracks, media.read_audio(path)).result
    windowed = sync.analyze_sync(path, tracks, None, window_s=4.0).result  # 3 windows, audio read per window
    assert windowed.method == "dtw" and abs(windowed.offset_s - whole.offset_s) < 0.005


@pytest.mark.shared
def test_two_faces_speaker_is_the_one_in_sync(tmp_path, tf, speech, other_speech, detector):
    """Left face mouths the soundtrack, right face mouths other speech: the left one is the speaker."""
    p = tmp_path / "pair.mp4"
    tf.make_talking_video(p, speech, offset_s=0.12, layout="pair", other_speech=other_speech)
    tracks = detect_tracks(detector, str(p), fps=1.0)
    assert len(tracks) == 2
    left = min(tracks, key=lambda k: tracks[k][1][:, 0].mean())
    right = max(tracks, key=lambda k: tracks[k][1][:, 0].mean())
    res = sync.analyze_sync(str(p), tracks, media.read_audio(str(p)))
    assert res.result.speaker == left and abs(res.result.offset_s - 0.12) < FRAME_S
    sl, sr = res.speaking[left], res.speaking[right]
    common = sorted(set(sl) & set(sr))
    assert len(common) >= 6
    assert np.mean([sl[s] for s in common]) > np.mean([sr[s] for s in common]) + 0.3
    assert sum(sl[s] > sr[s] for s in common) >= len(common) - 1


@pytest.mark.shared
def test_mouth_signal_follows_mouth_opening(tf, speech):
    """mouth_signal on raw frames: correlates with |change of opening| between frames."""
    times = np.arange(100) / FPS
    opening = tf.mouth_envelope(speech, times)
    frames = tf.make_frames(opening, sway_px=0.0)
    lm = np.zeros((1, 5, 2))
    lm[0, 3:5] = tf.mouth_corners()[0]
    boxes = np.repeat(sync.mouth_boxes(lm), len(times), 0)
    grid = (times[1:] + times[:-1]) / 2
    sig = sync.mouth_signal(frames, times, boxes, grid)
    assert np.isfinite(sig).all()
    assert np.corrcoef(sig, np.abs(np.diff(opening)))[0, 1] > 0.8
    half = sync.mouth_signal(frames[:, ::2, ::2], times, boxes, grid, scale=0.5)  # downscaled frames
    assert np.corrcoef(half, sig)[0, 1] > 0.95

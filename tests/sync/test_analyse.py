"""The sync stage (analyze_sync) on talking-face videos built here with known offsets, drift and
fallbacks; window choice; SyncAnalysis."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import signal as sps

from emotion_batch import media, sync
from emotion_batch.config import SyncConfig
from emotion_batch.vision.mouths import TrackLog

FPS = 25
FRAME_S = 1.0 / FPS


def analyze(path, tracks, audio="read", *, speaking=True, **settings):
    """analyze_sync on `path` as the pipeline calls it: probe first; audio="read" decodes it whole;
    settings: SyncConfig fields (the run's --sync-* options)."""
    info = media.probe(str(path))
    clip = media.read_audio(str(path)) if audio == "read" else audio
    return sync.analyze_sync(info, tracks, clip, settings=SyncConfig(**settings), speaking=speaking)


def test_choose_windows_whole_short_video_spread_long_one():
    assert sync.choose_windows(35.0, np.ones(35), 20.0, 8) == [(0.0, 20.0), (20.0, 35.0)]
    cov = np.zeros(3600)
    cov[1000:1030] = 1  # the only stretch with face and sound
    w = sync.choose_windows(3600.0, cov, 20.0, 6)
    assert len(w) == 6 and all(b - a == 20.0 for a, b in w)
    assert all(k * 600 <= a and b <= (k + 1) * 600 for k, (a, b) in enumerate(w))  # one per part
    assert any(a <= 1000 and b >= 1020 for a, b in w)


def test_sync_analysis_is_immutable():
    res = sync.SyncAnalysis(sync.SyncResult.container("no face track"), {}, [(0.0, 20.0)])
    assert res.windows == ((0.0, 20.0),)  # kept as a tuple, whatever sequence came in
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.result = sync.SyncResult(0.1, 0.9, "dtw")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.timings = {"decode_s": 1.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.result.offset_s = 0.1


def test_no_face_track_and_no_audio_need_no_decoding(made_videos):
    """Early fallbacks: nothing to align, so the stage returns before opening the frames."""
    path = made_videos["face"][0]
    r = analyze(path, {}).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0) and "no face" in r.reason
    info = dataclasses.replace(media.probe(path), has_audio=False)
    r = sync.analyze_sync(info, {0: (np.array([0.0, 1.0]), np.zeros((2, 4)))}, None).result
    assert r.method == "container" and "no audio" in r.reason


# ------------------------------------------------------------------ talking-face videos

@pytest.fixture(scope="module")
def detector():
    import torch

    from emotion_batch.vision.detect import FaceDetector

    return FaceDetector(torch.device("cpu"))


def detect_tracks(detector, path, fps=2.0):
    """What the pipeline will hand over: mouth boxes per track from MTCNN at the analysis rate."""
    from emotion_batch.vision.track import IoUTracker

    log, tracker = TrackLog(), IoUTracker()
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
    res = analyze(path, tracks, max_av_shift_s=1.0)
    r = res.result
    assert r.method == "dtw", r.reason
    assert abs(r.offset_s - offset) < FRAME_S, f"estimated {r.offset_s:+.3f} s for {offset:+.3f} s"
    assert r.confidence > 0.5 and r.speaker == next(iter(tracks))
    assert r.audio_time(1.0) == pytest.approx(1.0 + r.offset_s)
    assert min(res.speaking[r.speaker].values()) > 0.3
    assert set(res.timings) == {f"{p}{k}{u}_s" for p in ("", "speaking_") for k in ("decode", "align") for u in ("", "_cpu")}


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
    r = analyze(p, long_tracks, segment_s=6.0).result
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
    r = analyze(p, tracks).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0) and "no face" in r.reason
    # Boxes that point at an empty background (a lost track) must not produce an offset either.
    r = analyze(p, videos[1]).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0), r


@pytest.mark.shared
def test_fallback_silent_audio(tmp_path, tf, speech, videos):
    p = tmp_path / "silent.mp4"
    tf.make_talking_video(p, speech, silent=True)
    r = analyze(p, videos[1]).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0) and "silent" in r.reason


@pytest.mark.shared
def test_fallback_static_face(tmp_path, tf, speech, videos):
    p = tmp_path / "static.mp4"
    n = int(len(speech) / tf.SR * FPS)
    tf.write_mp4(p, tf.make_frames(np.zeros(n)), speech)  # speech plays, the mouth stays shut
    r = analyze(p, videos[1]).result
    assert (r.method, r.offset_s, r.confidence) == ("container", 0.0, 0.0), r


@pytest.mark.shared
def test_no_audio_stream(tmp_path, tf, videos):
    p = tmp_path / "mute.mp4"
    tf.write_mp4(p, tf.make_frames(np.zeros(10)), None)
    assert media.read_audio(str(p)) is None
    r = analyze(p, videos[1], None).result  # None: read per window from the file
    assert r.method == "container" and "no audio" in r.reason


@pytest.mark.shared
def test_audio_read_per_window_gives_the_same_offset(videos):
    out, tracks = videos
    path, _ = out[0.3]
    whole = analyze(path, tracks).result
    windowed = analyze(path, tracks, None, window_s=4.0)  # 3 windows, audio read per window
    assert len(windowed.windows) == 3
    # Same signals up to the audio's edges per window: the offsets agree well within a 10 ms step.
    assert windowed.result.method == "dtw" and abs(windowed.result.offset_s - whole.offset_s) < 0.005


@pytest.mark.shared
def test_two_faces_speaker_is_the_one_in_sync(tmp_path, tf, speech, other_speech, detector):
    """Left face mouths the soundtrack, right face mouths other speech: the left one is the speaker."""
    p = tmp_path / "pair.mp4"
    tf.make_talking_video(p, speech, offset_s=0.12, layout="pair", other_speech=other_speech)
    tracks = detect_tracks(detector, str(p), fps=1.0)
    assert len(tracks) == 2
    left = min(tracks, key=lambda k: tracks[k][1][:, 0].mean())
    right = max(tracks, key=lambda k: tracks[k][1][:, 0].mean())
    res = analyze(p, tracks)
    assert res.result.speaker == left and abs(res.result.offset_s - 0.12) < FRAME_S
    sl, sr = res.speaking[left], res.speaking[right]
    common = sorted(set(sl) & set(sr))
    assert len(common) >= 6
    assert np.mean([sl[s] for s in common]) > np.mean([sr[s] for s in common]) + 0.3
    assert sum(sl[s] > sr[s] for s in common) >= len(common) - 1


# ------------------------------------------------------------------ pass 2: speaking everywhere

@pytest.mark.shared
def test_pass_two_scores_every_face_second_beyond_the_offset_windows(videos):
    out, tracks = videos
    path, _ = out[0.12]
    fid = next(iter(tracks))
    needed = set(sync.face_seconds(tracks)[fid].tolist())
    one = analyze(path, tracks, None, window_s=3.0, max_windows=1)  # pass 1 sees 3 s of ~8 s
    assert len(one.windows) == 1 and one.speaking_windows and one.speaking_at == sync.SPEAKING_AT_OFFSET
    assert set(one.speaking[fid]) == needed
    in_pass1 = {s for s in needed if one.windows[0][0] <= s + 0.5 < one.windows[0][1]}
    assert needed - in_pass1 and all(any(a <= s < b for a, b in one.speaking_windows) for s in needed - in_pass1)
    # the same seconds scored by pass 1 alone (every window decoded for the offset)
    full = analyze(path, tracks, None, window_s=3.0, max_windows=0)  # 0: no cap
    assert full.speaking_windows == () and set(full.speaking[fid]) == needed
    a = np.array([one.speaking[fid][s] for s in sorted(needed - in_pass1)])
    b = np.array([full.speaking[fid][s] for s in sorted(needed - in_pass1)])
    assert a.min() > 0.3 and b.min() > 0.3
    # windows placed differently (+-1 s of context vs 3 s tiles): the same correlations, within noise
    assert np.abs(a - b).max() < 0.15, (a, b)
    skip = analyze(path, tracks, None, window_s=3.0, max_windows=1, speaking=False)
    assert set(skip.speaking[fid]) < needed and not skip.speaking_windows


@pytest.mark.shared
def test_scores_at_offset_zero_when_sync_falls_back(tmp_path, tf, speech, videos):
    p = tmp_path / "static.mp4"
    n = int(len(speech) / tf.SR * FPS)
    tf.write_mp4(p, tf.make_frames(np.zeros(n)), speech)  # speech plays, the mouth stays shut
    tracks = videos[1]
    res = analyze(p, tracks)
    assert res.result.method == "container" and res.speaking_at == sync.SPEAKING_AT_ZERO
    fid = next(iter(tracks))
    assert set(res.speaking[fid]) == set(sync.face_seconds(tracks)[fid].tolist())
    assert all(v == 0.0 for v in res.speaking[fid].values())  # a still mouth never speaks
    r = analyze(p, {7: (np.array([2.0]), tracks[fid][1][:1])})  # a face seen once still gets a value
    assert r.speaking == {7: {2: 0.0}}


@pytest.mark.shared
def test_a_face_seen_once_next_to_a_talking_one(videos):
    out, tracks = videos
    path, _ = out[0.0]
    fid = next(iter(tracks))
    t_obs, boxes = tracks[fid]
    k = int(np.searchsorted(t_obs, 4.0))
    res = analyze(path, {**tracks, 99: (t_obs[k:k + 1], boxes[k:k + 1])})
    s = int(np.floor(t_obs[k]))
    # 0.4 s of its own mouth motion cannot be measured: the nearest measured second, none -> 0
    assert res.speaking[99] == {s: 0.0}
    assert res.speaking[fid][s] > 0.3

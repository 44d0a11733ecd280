"""sync.speakers: per-second speaking scores follow the face whose mouth matches the audio; the
rules for quiet, static and unmeasurable seconds; pass 2's window plan."""

from __future__ import annotations

import numpy as np

from emotion_batch import sync


def test_speaker_scores_pick_the_matching_face(impulse):
    rate, n = 100.0, 600
    aud = impulse(n, rate, 9)
    res = sync.speaker_scores({7: aud + 0.1 * impulse(n, rate, 10), 8: impulse(n, rate, 11)}, aud, rate, t0=3.0)
    assert set(res[7]) == set(range(3, 9))
    assert min(res[7].values()) > 0.8 and max(res[8].values()) < 0.5
    assert all(0.0 <= v <= 1.0 for d in res.values() for v in d.values())


def test_quiet_static_and_unheard_seconds_score_zero(impulse):
    rate, n = 100.0, 800
    aud = impulse(n, rate, 3)
    mouth = aud + 0.1 * impulse(n, rate, 4)
    still = 0.05 * impulse(n, rate, 5)  # moves by less than min_motion
    audible = np.ones(n, bool)
    audible[500:] = False  # nothing heard from 5 s on
    res = sync.speaker_scores({0: mouth, 1: still}, aud, rate, audible=audible, min_motion=0.2)
    assert all(res[0][s] > 0.8 for s in range(4)) and res[0][6] == 0.0 and res[0][7] == 0.0
    assert all(v == 0.0 for v in res[1].values())
    # a quiet voice is a voice: a speaker 10x quieter than another in the same window still scores
    loud_quiet = np.concatenate([aud[:400], 0.1 * aud[400:]])
    mouth2 = np.concatenate([mouth[:400], 0.1 * mouth[400:] + 0.0])
    res = sync.speaker_scores({0: mouth2}, loud_quiet, rate)
    assert min(res[0][s] for s in (5, 6)) > 0.8


def test_short_tracks_and_window_edges():
    rate = 100.0
    t = np.arange(0, 10, 1 / rate)
    rng = np.random.default_rng(0)
    aud = np.abs(np.sin(2 * np.pi * 4 * t)) + 0.1 * rng.random(len(t))
    mouth = np.full(len(t), np.nan)
    mouth[480:600] = aud[480:600]  # a face seen in second 5 only: its box held 0.2 s either side
    res = sync.speaker_scores({0: mouth}, aud, rate)[0]
    assert set(res) == {5} and res[5] > 0.9  # 1.2 s of its 2 s window; seconds 4, 6: 0.7, 0.5 s
    one = np.full(len(t), np.nan)
    one[300:340] = aud[300:340]  # seen in one analysed frame: 0.4 s, too short to measure
    assert sync.speaker_scores({0: one}, aud, rate)[0] == {}


def test_fill_scores_nearest_measured_second_then_zero():
    measured = {10: 0.8, 14: 0.2}
    out = sync.fill_scores(measured, [9, 10, 11, 12, 13, 17, 30])
    assert out == {9: 0.8, 10: 0.8, 11: 0.8, 12: 0.8, 13: 0.2, 17: 0.0, 30: 0.0}  # 12: tie -> earlier
    assert sync.fill_scores({}, [1, 2]) == {1: 0.0, 2: 0.0}


def test_face_seconds_and_pass_two_windows():
    tracks = {1: (np.array([0.2, 0.4, 5.0, 5.2, 44.9]), np.zeros((5, 4))), 2: (np.array([3.0]), np.zeros((1, 4)))}
    secs = sync.face_seconds(tracks)
    assert secs[1].tolist() == [0, 5, 44] and secs[2].tolist() == [3]
    assert sync.face_seconds(tracks, 4.0, 10.0)[1].tolist() == [5]
    # seconds already in a pass-1 window are skipped; close seconds share a window; <= window_s long
    needed = [0, 3, 5, 21, 22, 23, 40, 41, 60, 61, 62, 63, 64, 65]
    w = sync.speaking_windows(needed, [(38.0, 58.0)], window_s=4.0)
    assert w == [(0.0, 4.0), (5.0, 6.0), (21.0, 24.0), (60.0, 64.0), (64.0, 66.0)]
    assert sync.speaking_windows([1, 2], [(0.0, 20.0)], 20.0) == []

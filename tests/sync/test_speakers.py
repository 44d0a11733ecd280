"""sync.speakers: per-second speaking scores follow the face whose mouth matches the audio."""

from __future__ import annotations

from emotion_batch import sync


def test_speaker_scores_pick_the_matching_face(impulse):
    rate, n = 100.0, 600
    aud = impulse(n, rate, 9)
    res = sync.speaker_scores({7: aud + 0.1 * impulse(n, rate, 10), 8: impulse(n, rate, 11)}, aud, rate, t0=3.0)
    assert set(res[7]) == set(range(3, 9))
    assert min(res[7].values()) > 0.8 and max(res[8].values()) < 0.5
    assert all(0.0 <= v <= 1.0 for d in res.values() for v in d.values())

"""sync.offset: DTW offset, sign, band, drift and fallbacks on synthetic signals; SyncResult."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from emotion_batch import sync

FRAME_S = 1.0 / 25


@pytest.mark.parametrize("shift", [-37, 0, 12, 61])
def test_estimate_offset_recovers_shift_and_sign(impulse, shift):
    """audio[k] = visual[k - shift]: the sound of video time t is heard at t + shift/rate."""
    rate, n = 100.0, 1500
    base = impulse(n + 200, rate, 1)
    vis = base[100 : 100 + n]
    aud = base[100 - shift : 100 - shift + n]
    rng = np.random.default_rng(2)
    res = sync.estimate_offset(vis + 0.05 * rng.standard_normal(n), aud + 0.05 * rng.standard_normal(n), rate, 1.0)
    assert res.method == "dtw"
    assert abs(res.offset_s - shift / rate) < 0.011
    assert res.confidence > 0.8
    assert res.audio_time(2.0) == pytest.approx(2.0 + res.offset_s)


def test_estimate_offset_pieces_pools_separate_stretches(impulse):
    """Two stretches far apart on the video clock (named SignalPieces) give one offset."""
    rate, n, shift = 100.0, 1200, 23
    base = impulse(2 * n + 400, rate, 12)
    pieces = []
    for k, t0 in enumerate((5.0, 300.0)):
        lo = 100 + k * (n + 100)
        t = t0 + np.arange(n) / rate
        pieces.append(sync.SignalPiece(t, base[lo : lo + n], base[lo - shift : lo - shift + n]))
    res = sync.estimate_offset_pieces(pieces, rate, 1.0)
    assert res.method == "dtw"
    assert abs(res.offset_s - shift / rate) < 0.011
    assert len(res.drift) == 2  # one segment lag per stretch: 12 s at segment_s=10 is one segment
    assert res.ref_t == pytest.approx((5.0 + 300.0 + (n - 1) / rate) / 2)


def test_estimate_offset_respects_band(impulse):
    """A true shift beyond max_shift_s cannot be found: the result never leaves the band."""
    rate, n = 100.0, 1500
    base = impulse(n + 400, rate, 3)
    res = sync.estimate_offset(base[200 : 200 + n], base[50 : 50 + n], rate, max_shift_s=0.5)
    assert res.method == "container" or abs(res.offset_s) <= 0.5 + 0.1 + 1e-9


def test_estimate_offset_falls_back_without_information(impulse):
    rate, n = 100.0, 1000
    sig = impulse(n, rate, 4)
    for vis, aud in [(np.zeros(n), sig), (sig, np.zeros(n)), (np.full(n, np.nan), sig)]:
        res = sync.estimate_offset(vis, aud, rate)
        assert (res.method, res.offset_s, res.confidence) == ("container", 0.0, 0.0)
        assert res.reason
    rng = np.random.default_rng(5)  # unrelated signals: no match
    res = sync.estimate_offset(impulse(n, rate, 6), impulse(n, rate, 7) + 0.01 * rng.random(n), rate)
    assert res.method == "container" and "do not match" in res.reason


def test_drift_mapping_on_synthetic_signals(impulse):
    rate, n = 100.0, 4000
    base = impulse(n + 400, rate, 8)
    t = np.arange(n) / rate
    truth = 0.05 + 0.01 * t  # offset grows 10 ms per second
    aud = np.interp(t - truth, np.arange(-200, n + 200) / rate, base)
    res = sync.estimate_offset(base[200 : 200 + n], aud, rate, 1.0, segment_s=8.0)
    assert res.method == "dtw+drift"
    assert res.drift_slope == pytest.approx(0.01, abs=0.002)
    assert np.abs(res.offset_at(t[200:-200]) - truth[200:-200]).max() < FRAME_S


def test_sync_result_and_pieces_are_immutable():
    res = sync.SyncResult.container("no face track")
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.offset_s = 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.speaker = 3
    piece = sync.SignalPiece(np.zeros(3), np.zeros(3), np.zeros(3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        piece.audio = np.ones(3)
    moved = dataclasses.replace(res, offset_s=0.5)  # the way to a changed result
    assert (moved.offset_s, res.offset_s) == (0.5, 0.0)

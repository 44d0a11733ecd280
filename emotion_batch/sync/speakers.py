"""Who speaks when: per-second speaking scores of each face track.

A face speaks in a second when its mouth motion follows the ALIGNED audio activity there
(`sync.signals` for both signals, `sync.offset` for the alignment): the Pearson correlation of the
two over a 2 s window centred on the second, clipped at 0. Where nothing is heard in that
window (speech-band sound below the silence level) nobody speaks (score 0), whatever the mouths
do; a quiet voice is still a voice (a relative loudness test, dropped, zeroed the seconds of the
quieter of two speakers). A mouth that does not visibly move
in the window does not speak (score 0): its motion's 95th percentile stands less than
``min_motion`` gray levels above its median (the static-mouth test of the sync stage). The
correlation alone is scale-free, so it cannot tell a still mouth from a moving one: measured on
talking-face scenes, a still listener's mouth (its motion at the encoder's noise level, p95 -
median 0.2-0.3 gray levels against 2.5-12 for a talking one) correlated at up to 0.6 with the
other face's voice, because the encoder's frame-level quantisation follows the motion in the
picture (scripts/fit_speaker_gate.py; MODEL_CARD.md, "Speaker gate").

Every second a face is seen in gets a score (`fill_scores`):

* measured: mouth and audio both cover at least half of the second's 2 s window (a track that
  starts or ends mid-window, a 1 s track: its box is held 0.2 s past its first and last
  detection, so a face seen through one second at 5 fps covers 1.2 s);
* 0 where nothing is heard: no audio covers the window (the track has ended or not begun), or
  its speech-band sound is below the silence level;
* otherwise (a face seen in one or two analysed frames, a mouth box leaving the picture) the
  score of the nearest measured second of the same face within ``max_dist_s`` (2 s; the earlier
  one on a tie), else 0: a mouth whose motion cannot be measured is not shown speaking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from emotion_batch.sync.signals import RATE_HZ

SPEAKING_WINDOW_S = 2.0  # the window a second's score is measured over, centred on the second


def speaker_scores(face_signals: Mapping[int, np.ndarray], audio_sig: np.ndarray, rate_hz: float = RATE_HZ,
                   *, t0: float = 0.0, window_s: float = SPEAKING_WINDOW_S,
                   audible: np.ndarray | None = None, min_motion: float = 0.0) -> dict[int, dict[int, float]]:
    """face_id -> {second: score in [0, 1]}: the Pearson correlation (clipped at 0) of each face's
    mouth motion with the ALIGNED audio activity (audio_sig[k] heard with visual[k]) over
    `window_s` centred on the second; 0 where nothing is heard in that window (no sample is
    `audible`, or no audio covers it, or the audio does not vary) and where the mouth does not
    visibly move (p95 - median of its motion < min_motion gray levels).
    Signals share the grid t0 + k / rate_hz; seconds where mouth and audio cover less than half
    the window are left out (see `fill_scores`)."""
    a = np.asarray(audio_sig, float)
    t = t0 + np.arange(len(a)) / rate_hz
    ok_a = np.isfinite(a)
    loud = ok_a if audible is None else ok_a & np.asarray(audible, bool)
    out: dict[int, dict[int, float]] = {}
    for fid, v in face_signals.items():
        v = np.asarray(v, float)
        ok = ok_a & np.isfinite(v)
        scores: dict[int, float] = {}
        ok_v = np.flatnonzero(np.isfinite(v))
        if len(ok_v):
            for s in range(int(np.floor(t[ok_v[0]])), int(np.floor(t[ok_v[-1]])) + 1):
                w = (t >= s + 0.5 - window_s / 2) & (t < s + 0.5 + window_s / 2)
                if not (w & loud).any():
                    scores[s] = 0.0  # nothing heard: nobody speaks
                    continue
                m = ok & w
                if m.sum() < 0.5 * window_s * rate_hz:
                    continue
                vv, aa = v[m], a[m]
                static = np.percentile(vv, 95) - np.median(vv) < min_motion
                if aa.std() == 0 or vv.std() == 0 or static:
                    scores[s] = 0.0
                else:
                    scores[s] = float(np.clip(np.corrcoef(vv, aa)[0, 1], 0, 1))
        out[fid] = scores
    return out


def fill_scores(measured: Mapping[int, float], seconds: Sequence[int] | np.ndarray,
                max_dist_s: int = 2) -> dict[int, float]:
    """{second: score} for every second in `seconds`: the measured score, else that of the
    nearest measured second within max_dist_s (the earlier on a tie), else 0."""
    known = np.array(sorted(measured), np.int64)
    out: dict[int, float] = {}
    for s in (int(x) for x in seconds):
        if s in measured:
            out[s] = float(measured[s])
            continue
        if len(known):
            k = int(known[np.argmin(np.abs(known - s) * 2 + (known > s))])  # ties -> earlier
            if abs(k - s) <= max_dist_s:
                out[s] = float(measured[k])
                continue
        out[s] = 0.0
    return out

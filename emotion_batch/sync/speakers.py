"""Who speaks when: per-second speaking scores of each face track.

A face speaks in a second when its mouth motion follows the ALIGNED audio activity there
(`sync.signals` for both signals, `sync.offset` for the alignment): the Pearson correlation of the
two over a short window centred on the second, clipped at 0. Where the audio is quiet in that
window nobody speaks (score 0), whatever the mouths do.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from emotion_batch.sync.signals import RATE_HZ


def speaker_scores(face_signals: Mapping[int, np.ndarray], audio_sig: np.ndarray, rate_hz: float = RATE_HZ,
                   t0: float = 0.0, window_s: float = 2.0) -> dict[int, dict[int, float]]:
    """face_id -> {second: score in [0, 1]}: the Pearson correlation (clipped at 0) of each face's
    mouth motion with the ALIGNED audio activity (audio_sig[k] heard with visual[k]) over
    `window_s` centred on the second; 0 where the audio is quiet in that window (nobody speaks:
    its spread is below a quarter of the whole signal's). Signals share the grid
    t0 + k / rate_hz; seconds with < half the window covered are left out."""
    a = np.asarray(audio_sig, float)
    t = t0 + np.arange(len(a)) / rate_hz
    ok_a = np.isfinite(a)
    a_scale = np.nanstd(a) if ok_a.any() else 0.0
    out: dict[int, dict[int, float]] = {}
    for fid, v in face_signals.items():
        v = np.asarray(v, float)
        ok = ok_a & np.isfinite(v)
        scores: dict[int, float] = {}
        if ok.any():
            for s in range(int(np.floor(t[ok][0])), int(np.floor(t[ok][-1])) + 1):
                m = ok & (t >= s + 0.5 - window_s / 2) & (t < s + 0.5 + window_s / 2)
                if m.sum() < 0.5 * window_s * rate_hz:
                    continue
                vv, aa = v[m], a[m]
                if a_scale <= 0 or aa.std() < 0.25 * a_scale or vv.std() == 0:
                    scores[s] = 0.0
                else:
                    scores[s] = float(np.clip(np.corrcoef(vv, aa)[0, 1], 0, 1))
        out[fid] = scores
    return out

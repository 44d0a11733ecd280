"""Cross-fitting the fusion gate by actor, on records whose right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from emotion_batch.labels import N_LABELS
from emotion_batch.models.fusion import FusionParams, load_default_params
from emotion_batch.training.fusion_eval import LabelledClip, clip_mean, cross_fit
from emotion_batch.training.train_fusion import FusionRecord, fit_fusion, refuse


def _audio(label, rng, sharp):
    """An informative but noisy audio reading: the label gets `sharp` of the mass plus noise."""
    p = rng.dirichlet(np.ones(N_LABELS)) * (1 - sharp)
    p[label] += sharp
    return p.astype(np.float32)


def _confident_smile():
    """The visual expert on the same smiling photo every second: 'happy' (3) at 0.97."""
    p = np.full(N_LABELS, 0.005, np.float32)
    p[3] = 1 - 0.005 * (N_LABELS - 1)
    return p


def _clips(n_actors=4, per_actor=14, seed=0, quiet_audio_informative=True, face_informative=False):
    """Clips of 3 seconds: two with speech, one nearly silent (speech 0.02) whose audio reading
    (the 2 s window around it) is informative or noise; the face is the same confident smile
    or (face_informative) a reading as good as the voice's."""
    rng = np.random.default_rng(seed)
    clips = []
    for actor in range(1, n_actors + 1):
        for k in range(per_actor):
            y = k % N_LABELS
            face = (lambda: _audio(y, rng, 0.5)) if face_informative else _confident_smile
            recs = [FusionRecord(face(), _audio(y, rng, rng.uniform(0.2, 0.6)), 0.99, 80.0,
                                 float(rng.uniform(0.4, 0.9)), y, speaker_p=0.99) for _ in range(2)]
            quiet = _audio(y, rng, 0.4) if quiet_audio_informative else rng.dirichlet(np.ones(N_LABELS)).astype(np.float32)
            recs.append(FusionRecord(face(), quiet, 0.99, 80.0, 0.02, y, speaker_p=0.99))
            clips.append(LabelledClip(f"a{actor}-{k}", actor, y, recs))
    return clips


def _accuracy(preds, clips):
    return float(np.mean([p is not None and int(np.argmax(p)) == c.label for p, c in zip(preds, clips)]))


def test_cross_fitted_fusion_is_not_below_either_expert_when_the_face_is_uninformative():
    clips = _clips()
    visual = [clip_mean(np.stack([r.v_probs for r in c.records])) for c in clips]
    audio = [clip_mean(np.stack([r.a_probs for r in c.records])) for c in clips]
    shipped = [clip_mean(refuse(c.records, load_default_params())) for c in clips]
    cv, folds = cross_fit(clips, load_default_params())
    acc = {k: _accuracy(p, clips) for k, p in (("visual", visual), ("audio", audio), ("shipped", shipped), ("cv", cv))}
    assert acc["visual"] == pytest.approx(1 / N_LABELS, abs=0.05)  # only the happy clips
    assert acc["shipped"] < acc["audio"]  # the shipped gate follows the confident face
    assert acc["cv"] >= max(acc["visual"], acc["audio"]), acc
    assert [f["held_out_actor"] for f in folds] == [1, 2, 3, 4]
    assert all(f["note"] == "fitted" and f["mean_w_audio"] > 0.8 for f in folds), folds


def test_a_held_out_actor_is_never_fitted_on():
    """Relabelling one actor's clips does not change that actor's cross-fitted predictions."""
    clips = _clips(n_actors=3, per_actor=7)
    before, _ = cross_fit(clips, load_default_params())
    flipped = [LabelledClip(c.path, c.actor, (c.label + 1) % N_LABELS if c.actor == 2 else c.label,
                            [FusionRecord(r.v_probs, r.a_probs, r.face_score, r.face_size_px, r.speech,
                                          (r.label + 1) % N_LABELS if c.actor == 2 else r.label, r.speaker_p)
                             for r in c.records]) for c in clips]
    after, _ = cross_fit(flipped, load_default_params())
    for c, b, a in zip(clips, before, after):
        if c.actor == 2:
            np.testing.assert_allclose(a, b, atol=1e-6)
    assert any(not np.allclose(a, b, atol=1e-3) for c, b, a in zip(clips, before, after) if c.actor != 2)


def test_one_actor_cannot_be_cross_fitted():
    with pytest.raises(ValueError, match="at least two actors"):
        cross_fit(_clips(n_actors=1), load_default_params())


@pytest.mark.parametrize("informative", [True, False])
def test_min_speech_is_chosen_by_whether_quiet_seconds_carry_the_label(informative):
    """Quiet seconds' audio that carries the label, next to a blind face: pooled (min_speech 0).
    Quiet seconds' audio that is noise, next to an informative face: left out (min_speech above
    the quiet seconds' 0.02)."""
    clips = _clips(quiet_audio_informative=informative, face_informative=not informative)
    fitted = fit_fusion([r for c in clips for r in c.records], init=FusionParams(),
                        min_speech_grid=(0.0, 0.05, 0.1, 0.2))
    if informative:
        assert fitted.min_speech < 0.02
    else:
        assert fitted.min_speech > 0.02
    assert np.isfinite([fitted.a_v, fitted.a_a, fitted.b_speech]).all()


def test_refuse_marks_rows_without_any_modality():
    p = refuse([FusionRecord(None, None, float("nan"), float("nan"), 0.0, 0)], FusionParams())
    assert p.shape == (1, N_LABELS) and np.isnan(p).all()

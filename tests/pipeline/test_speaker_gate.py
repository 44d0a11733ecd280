"""Whose voice, end to end: VideoAnalyzer on talking-face scenes the test builds (RAVDESS speech of
the held-out actors 17-20, never used to fit the speaker gate): turn-taking, a talking face next
to a still one, an off-screen voice, one talking face, and a > 10 minute video."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from conftest import RAVDESS
from emotion_batch.config import RunConfig
from emotion_batch.labels import LABELS
from emotion_batch.models.fusion import fuse_probs, load_default_params

pytestmark = pytest.mark.shared

A = ["Actor_17/03-01-05-02-01-01-17.flac", "Actor_17/03-01-04-02-02-01-17.flac"]  # angry, sad
B = ["Actor_18/03-01-03-02-01-01-18.flac", "Actor_18/03-01-06-02-02-01-18.flac"]  # happy, fearful
SCENES = {  # name: (turns as (face, clips), visible faces)
    "turns": ([(0, A), (1, B)], 2),
    "talk_still": ([(0, A)], 2),
    "offscreen": ([(None, A)], 1),
    "single": ([(0, A)], 1),
}
V_COLS = [f"v_{lab}" for lab in LABELS]


@pytest.fixture(scope="module")
def analyzer():
    from emotion_batch.pipeline import VideoAnalyzer

    # 2 analysed frames a second keep the test fast; sync reads every frame of the windows anyway
    return VideoAnalyzer(RunConfig.from_flat(device="cpu", fps=2.0, explain="none"))


@pytest.fixture(scope="module")
def scene(analyzer, tmp_path_factory):
    import talking_face as tf

    d = tmp_path_factory.mktemp("speakers")

    @lru_cache(maxsize=None)
    def run(name: str):
        turns, n_faces = SCENES[name]
        path = d / f"{name}.mp4"
        truth = tf.make_conversation(path, [(f, tf.load_speech([RAVDESS / c for c in clips])) for f, clips in turns],
                                     n_faces, offset_s=0.1)
        res = analyzer(str(path))
        assert res.ok, res.error
        rows = res.timeline.to_pylist()
        return res, rows, tf.speaker_per_second(truth, int(np.ceil(res.info.duration_s)))

    return run


def _sides(rows) -> dict[int, int]:
    """face_id -> 0 (left) or 1 (right), from the mean box."""
    xs = {}
    for r in rows:
        if r["face_id"] >= 0:
            xs.setdefault(r["face_id"], []).append(r["box_x1"])
    assert len(xs) <= 2, xs
    return {f: int(np.mean(x) > 140) for f, x in xs.items()}


def _voice_seconds(rows, who) -> list[int]:
    """Seconds whose speech fusion uses (a row carries the voice) and whose speaker is known."""
    return sorted({r["second"] for r in rows if r["voice_owner"] and who[r["second"]] != -2})


def _owner(rows, second):
    owners = [r for r in rows if r["second"] == second and r["voice_owner"]]
    assert len(owners) == 1  # exactly one row carries a second's voice
    return owners[0]


def test_turn_taking_the_speaker_carries_the_voice_and_the_listener_stays_visual(scene):
    res, rows, who = scene("turns")
    side = _sides(rows)
    assert sorted(side.values()) == [0, 1]
    seconds = _voice_seconds(rows, who)
    assert len(seconds) >= 8 and {who[s] for s in seconds} == {0, 1}
    hits = [side.get(_owner(rows, s)["face_id"]) == who[s] for s in seconds]
    assert np.mean(hits) >= 0.9, list(zip(seconds, hits))
    listeners = [r for r in rows if r["second"] in seconds and r["face_id"] >= 0 and side[r["face_id"]] != who[r["second"]]]
    assert len(listeners) == len(seconds)
    assert max(r["w_audio"] for r in listeners) <= 0.1, [(r["second"], r["w_audio"]) for r in listeners]
    speakers = [r for r in rows if r["second"] in seconds and r["face_id"] >= 0 and side[r["face_id"]] == who[r["second"]]]
    assert np.mean([r["w_audio"] for r in speakers]) > 0.3  # the speaker keeps a real audio weight
    assert res.av_method.startswith("dtw") and abs(res.av_offset_s - 0.1) < 0.04
    assert all(r["speaking"] is not None and r["speaker_p"] is not None for r in rows if r["face_id"] >= 0)


def test_turn_taking_explanations_stay_exact(scene):
    res, rows, who = scene("turns")
    tl = {(r["face_id"], r["second"]): r for r in rows}
    attr = res.attributions.to_pylist()
    assert len(attr) == sum(1 for r in rows if r["emotion"])
    for a in attr:
        assert a["shap_visual"] + a["shap_audio"] + a["shap_base"] == pytest.approx(a["p_label"], abs=1e-5)
        r = tl[(a["face_id"], a["second"])]
        if r["face_id"] >= 0 and r["w_audio"] <= 0.1:  # a listener: its voice share is as small as its weight
            assert abs(a["shap_audio"]) <= 0.1


def test_talking_face_next_to_a_still_face(scene):
    res, rows, who = scene("talk_still")
    side = _sides(rows)
    seconds = _voice_seconds(rows, who)
    assert len(seconds) >= 4 and {who[s] for s in seconds} == {0}
    assert np.mean([side[_owner(rows, s)["face_id"]] == 0 for s in seconds]) >= 0.9
    still = [r for r in rows if r["second"] in seconds and r["face_id"] >= 0 and side[r["face_id"]] == 1]
    assert still and max(r["w_audio"] for r in still) <= 0.1
    assert not any(r["face_id"] == -1 for r in rows if r["second"] in seconds)


def test_offscreen_voice_goes_on_no_face_rows(scene):
    res, rows, who = scene("offscreen")
    # a still face cannot be aligned: the offset falls back, speaking is measured at offset 0
    assert res.av_method.startswith("container") and res.av_method.endswith("speaking at offset 0")
    seconds = _voice_seconds(rows, who)
    assert len(seconds) >= 4
    for s in seconds:
        voice = _owner(rows, s)
        assert voice["face_id"] == -1 and voice["w_audio"] == 1.0
        assert voice["emotion"] == LABELS[int(np.argmax([voice[f"a_{lab}"] for lab in LABELS]))]
        face = [r for r in rows if r["second"] == s and r["face_id"] >= 0]
        assert len(face) == 1 and face[0]["w_audio"] <= 0.1 and not face[0]["voice_owner"]
        assert face[0]["emotion"] == LABELS[int(np.argmax([face[0][c] for c in V_COLS]))]  # stays visual
        assert face[0]["speaking"] is not None and face[0]["speaker_p"] < 0.5


def test_one_talking_face_keeps_todays_fusion(scene):
    res, rows, who = scene("single")
    seconds = _voice_seconds(rows, who)
    assert len(seconds) >= 4
    owners = [_owner(rows, s) for s in seconds]
    assert np.mean([o["face_id"] >= 0 for o in owners]) >= 0.9
    assert not any(r["face_id"] == -1 for r in rows)
    # the ungated fusion of the same rows: the face keeps (almost all of) its audio weight
    face = [r for r in rows if r["second"] in seconds and r["face_id"] >= 0]
    size = [np.sqrt((r["box_x2"] - r["box_x1"]) * (r["box_y2"] - r["box_y1"])) for r in face]
    ungated = fuse_probs([[r[c] for c in V_COLS] for r in face], [[r[f"a_{lab}"] for lab in LABELS] for r in face],
                         face_score=[r["face_score"] for r in face], face_size_px=size,
                         speech=[r["speech"] for r in face], has_face=[True] * len(face),
                         has_audio=[True] * len(face), params=load_default_params())
    w_now = np.array([r["w_audio"] for r in face])
    w_ungated = ungated.w_audio.numpy()
    assert np.mean(w_now) >= 0.8 * np.mean(w_ungated)
    same = [r["emotion"] == LABELS[k] for r, k in zip(face, ungated.fused.numpy().argmax(1))]
    assert np.mean(same) >= 0.9
    assert res.av_method.startswith("dtw")


@pytest.mark.slow
def test_long_video_has_speaking_for_every_face_second(tmp_path):
    """> 10 minutes by concatenating one talking clip: pass 2 scores every face-second beyond
    the 8 x 20 s that pass 1 decodes."""
    import talking_face as tf
    from emotion_batch.pipeline import VideoAnalyzer

    clip = tmp_path / "clip.mp4"
    tf.make_conversation(clip, [(0, tf.load_speech([RAVDESS / c for c in A + B]))], 1, offset_s=0.1, b_frames=False)
    long = tmp_path / "long.mp4"
    dur = tf.concat_copies(clip, long, int(np.ceil(610 / 10.0)))
    assert dur > 600
    seen = {}
    # 1 analysed frame a second, a full detection every 10 s (tracked faces refined between): the
    # cheapest analysis that still gives every second a face row
    config = RunConfig.from_flat(device="cpu", fps=1.0, detect_interval_s=10.0, explain="none")
    analyzer = VideoAnalyzer(config)
    res = analyzer(str(long), hook=lambda step, a, **kw: seen.setdefault(step, a))
    assert res.ok, res.error
    faces = [r for r in res.timeline.to_pylist() if r["face_id"] >= 0]
    assert len({r["second"] for r in faces}) > 590
    assert all(r["speaking"] is not None and r["speaker_p"] is not None for r in faces)
    sync = seen["sync"]
    assert len(sync.windows) == 8 and sum(b - a for a, b in sync.speaking_windows) > 400
    # the talking face carries the voice far beyond the pass-1 windows too
    seen_s = {r["second"] for r in faces}
    voiced = [r for r in res.timeline.to_pylist() if r["voice_owner"] and r["second"] in seen_s]
    assert len(voiced) > 400 and np.mean([r["face_id"] >= 0 for r in voiced]) >= 0.95

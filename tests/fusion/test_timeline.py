import numpy as np
import pytest

from emotion_batch.labels import LABELS
from emotion_batch.schemas import TIMELINE_SCHEMA
from emotion_batch.audio.analyse import SecondAudio
from emotion_batch.fusion.fuse import Fused, FusionInputs
from emotion_batch.fusion.timeline import TimelineBuilder


def _probs(k):
    p = np.full(7, 0.05, np.float32)
    p[k] = 0.7
    return p


def test_rows_per_face_and_second_with_no_face_rows():
    b = TimelineBuilder("vid")
    box = np.array([[10, 10, 50, 50]], np.float32)
    b.add_frame(0.0, np.array([0]), np.array([0.9]), box, _probs(3)[None])
    b.add_frame(0.5, np.array([0]), np.array([1.0]), box + 2, _probs(4)[None])
    b.add_frame(2.2, np.array([1]), np.array([0.95]), box, _probs(6)[None])
    t = b.build(range(0, 4), duration_s=3.5).to_arrow()
    assert t.schema == TIMELINE_SCHEMA
    rows = t.to_pylist()
    assert [(r["face_id"], r["second"]) for r in rows] == [(0, 0), (-1, 1), (1, 2), (-1, 3)]
    r0 = rows[0]
    assert r0["n_frames"] == 2 and r0["face_score"] == pytest.approx(0.95)
    assert r0["v_happy"] == pytest.approx(0.375) and r0["v_sad"] == pytest.approx(0.375)
    assert r0["p_happy"] == r0["v_happy"] and r0["w_visual"] == 1.0
    assert r0["a_happy"] is None and r0["speech"] is None
    assert r0["box_x1"] == pytest.approx(11.0)
    assert rows[2]["emotion"] == "neutral" and rows[2]["confidence"] == pytest.approx(0.7)
    assert rows[1]["emotion"] is None and rows[1]["p_happy"] is None
    assert rows[3]["t_end"] == pytest.approx(3.5)  # last partial second ends at the duration


def test_fusion_hook_and_audio_columns():
    b = TimelineBuilder("vid")
    audio = SecondAudio(0, np.array([0.8, 0.0], np.float32), np.stack([_probs(0), np.full(7, np.nan)]).astype(np.float32))
    seen = {}

    def fuse(x: FusionInputs):
        seen.update(has_face=x.has_face.copy(), has_audio=x.has_audio.copy(), speech=x.speech.copy())
        w_a = x.has_audio.astype(np.float32)
        return Fused(np.where(x.has_audio[:, None], x.audio, np.nan).astype(np.float32), 1 - w_a, w_a)

    t = b.build(range(0, 2), 2.0, audio=audio, fuse=fuse).to_arrow().to_pylist()
    assert seen["has_face"].tolist() == [False, False] and seen["has_audio"].tolist() == [True, False]
    assert t[0]["face_id"] == -1 and t[0]["emotion"] == "angry" and t[0]["speech"] == pytest.approx(0.8)
    assert t[0]["a_angry"] == pytest.approx(0.7) and t[0]["w_audio"] == 1.0
    assert t[1]["a_angry"] is None and t[1]["emotion"] is None and t[1]["w_audio"] is None
    assert t[1]["speech"] == 0.0


def test_expert_labels_are_each_experts_top_label_or_null():
    """v_emotion / a_emotion: the argmax of v_* / a_* (first label on a tie), null where that
    expert gave no reading; they can disagree with each other and with the fused emotion."""
    b = TimelineBuilder("vid")
    box = np.array([[10, 10, 50, 50]], np.float32)
    b.add_frame(0.2, np.array([0]), np.array([0.9]), box, _probs(3)[None])  # face says happy
    b.add_frame(1.2, np.array([0]), np.array([0.9]), box, np.full((1, 7), 1 / 7, np.float32))  # a tie
    audio_p = np.stack([_probs(4), _probs(0), np.full(7, np.nan)]).astype(np.float32)  # voice: sad, angry, none
    audio = SecondAudio(0, np.array([0.9, 0.9, 0.0], np.float32), audio_p)
    rows = b.build(range(0, 3), 3.0, audio=audio).to_arrow().to_pylist()
    got = [(r["face_id"], r["second"], r["v_emotion"], r["a_emotion"]) for r in rows]
    assert got == [(0, 0, "happy", "sad"), (0, 1, "angry", "angry"), (-1, 2, None, None)]
    assert rows[0]["emotion"] == "happy"  # fused (visual only here) follows the face, the voice differs


def test_speaking_scores_land_on_their_rows():
    b = TimelineBuilder("vid")
    b.add_frame(0.1, np.array([3]), np.array([0.9]), np.array([[0, 0, 9, 9]], np.float32), _probs(1)[None])
    t = b.build(range(0, 2), 2.0, speaking={(3, 0): 0.75}).to_arrow().to_pylist()
    assert [(r["face_id"], r["speaking"]) for r in t] == [(3, 0.75), (-1, None)]


def test_label_order():
    assert LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


# ------------------------------------------------------------------ whose voice

def _scene(speaking):
    """Faces 3 and 4 seen in seconds 0-2; audio with usable speech in seconds 0-2, none in 3."""
    from emotion_batch.fusion.fuse import make_fusion
    from emotion_batch.fusion.speaker import SpeakerGate
    from emotion_batch.models.fusion import FusionParams

    b = TimelineBuilder("vid")
    box = np.array([[0, 0, 64, 64], [100, 0, 164, 64]], np.float32)
    for t in (0.1, 1.1, 2.1):
        b.add_frame(t, np.array([3, 4]), np.array([0.99, 0.99]), box, np.stack([_probs(3), _probs(3)]))
    b.add_frame(3.1, np.array([3]), np.array([0.99]), box[:1], _probs(3)[None])
    audio = SecondAudio(0, np.array([0.9, 0.9, 0.9, 0.0], np.float32), np.stack([_probs(0)] * 4).astype(np.float32))
    params = FusionParams()
    gate = SpeakerGate(-3.0, 7.0)  # a stand-in gate: p = 0.5 at score 0.43
    tl = b.build(range(4), 4.0, audio=audio, fuse=make_fusion(params), speaking=speaking, gate=gate,
                 min_speech=params.min_speech)
    return tl, {(r["face_id"], r["second"]): r for r in tl.to_arrow().to_pylist()}, gate


def test_the_speaker_carries_the_voice_and_the_listener_stays_visual():
    speaking = {(3, s): 0.85 for s in range(4)} | {(4, s): 0.02 for s in range(3)}
    tl, rows, gate = _scene(speaking)
    assert sorted(rows) == [(3, 0), (3, 1), (3, 2), (3, 3), (4, 0), (4, 1), (4, 2)]  # no voice rows needed
    for s in range(3):
        speaker, listener = rows[(3, s)], rows[(4, s)]
        assert speaker["speaker_p"] == pytest.approx(float(gate(np.array([0.85]))[0]), rel=1e-6)
        assert speaker["voice_owner"] and not listener["voice_owner"]
        assert listener["w_audio"] <= 0.1 and speaker["w_audio"] > 0.3
        assert listener["a_angry"] == pytest.approx(0.7)  # the audio expert's reading is still shown
        assert listener["speaking"] == pytest.approx(0.02)
    # second 3 has no usable speech: nobody carries a voice, fusion is visual
    assert not rows[(3, 3)]["voice_owner"] and rows[(3, 3)]["w_audio"] == 0.0
    assert tl.voice_owner.sum() == 3


def test_speech_no_visible_face_owns_goes_on_a_no_face_row():
    speaking = {(3, s): 0.0 for s in range(4)} | {(4, s): 0.1 for s in range(3)}  # both still: off-screen voice
    tl, rows, _ = _scene(speaking)
    assert sorted(rows) == [(-1, 0), (-1, 1), (-1, 2), (3, 0), (3, 1), (3, 2), (3, 3), (4, 0), (4, 1), (4, 2)]
    for s in range(3):
        voice = rows[(-1, s)]
        assert voice["voice_owner"] and voice["speaker_p"] is None and voice["speaking"] is None
        assert voice["emotion"] == "angry" and voice["w_audio"] == 1.0  # the voice's own reading
        assert voice["p_angry"] == pytest.approx(0.7) and voice["face_score"] is None
        for f in (3, 4):
            assert not rows[(f, s)]["voice_owner"] and rows[(f, s)]["w_audio"] <= 0.1
            assert rows[(f, s)]["emotion"] == "happy"  # the still faces keep their visual reading
    assert tl.to_arrow().schema == TIMELINE_SCHEMA


def test_without_a_gate_fusion_is_ungated_and_no_rows_are_added():
    from emotion_batch.fusion.fuse import make_fusion
    from emotion_batch.models.fusion import FusionParams

    b = TimelineBuilder("vid")
    box = np.array([[0, 0, 64, 64], [100, 0, 164, 64]], np.float32)
    b.add_frame(0.1, np.array([3, 4]), np.array([0.99, 0.99]), box, np.stack([_probs(3), _probs(3)]))
    audio = SecondAudio(0, np.array([0.9], np.float32), _probs(0)[None])
    rows = b.build(range(1), 1.0, audio=audio, fuse=make_fusion(FusionParams()), speaking={(3, 0): 0.0}).to_arrow()
    rows = rows.to_pylist()
    assert [r["face_id"] for r in rows] == [3, 4] and all(r["speaker_p"] is None for r in rows)
    assert rows[0]["w_audio"] == pytest.approx(rows[1]["w_audio"]) and rows[0]["w_audio"] > 0.3
    assert [r["voice_owner"] for r in rows] == [True, False]  # ungated: the first face, as before


def test_faceless_seconds_own_their_speech():
    b = TimelineBuilder("vid")
    audio = SecondAudio(0, np.array([0.9, 0.05], np.float32), np.stack([_probs(0), _probs(0)]).astype(np.float32))
    rows = b.build(range(2), 2.0, audio=audio).to_arrow().to_pylist()
    assert [(r["face_id"], r["voice_owner"]) for r in rows] == [(-1, True), (-1, False)]  # 0.05 < min_speech


def test_gate_weighs_a_face_against_the_others_in_its_second():
    from emotion_batch.fusion.speaker import SpeakerGate

    gate = SpeakerGate(-3.0, 5.0, 10.0)
    b = TimelineBuilder("vid")
    box = np.array([[0, 0, 64, 64], [100, 0, 164, 64]], np.float32)
    b.add_frame(0.1, np.array([3, 4]), np.array([0.99, 0.99]), box, np.stack([_probs(3), _probs(3)]))
    b.add_frame(1.1, np.array([4]), np.array([0.99]), box[1:], _probs(3)[None])
    speaking = {(3, 0): 0.85, (4, 0): 0.4, (4, 1): 0.4}
    rows = {(r["face_id"], r["second"]): r for r in b.build(range(2), 2.0, speaking=speaking, gate=gate)
            .to_arrow().to_pylist()}
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    assert rows[(3, 0)]["speaker_p"] == pytest.approx(sig(-3 + 5 * 0.85 + 10 * 0.45), rel=1e-5)
    assert rows[(4, 0)]["speaker_p"] == pytest.approx(sig(-3 + 5 * 0.4 - 10 * 0.45), rel=1e-5)  # beaten
    assert rows[(4, 1)]["speaker_p"] == pytest.approx(sig(-3 + 5 * 0.4 + 10 * 0.4), rel=1e-5)  # alone


def test_speaker_gate_file_round_trip(tmp_path):
    from emotion_batch.fusion.speaker import DEFAULT_GATE_PATH, SpeakerGate, load_speaker_gate

    g = SpeakerGate(-2.0, 4.0, 1.5)
    g.save(tmp_path / "g.json", {"note": "test"})
    assert SpeakerGate.load(tmp_path / "g.json") == g
    assert g(np.array([np.nan]))[0] != g(np.array([np.nan]))[0]  # NaN stays NaN
    shipped = load_speaker_gate()
    assert DEFAULT_GATE_PATH.exists() and shipped.b > 0 and shipped(np.array([0.0]))[0] < 0.1
    assert shipped(np.array([0.9]))[0] > 0.9

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


def test_speaking_scores_land_on_their_rows():
    b = TimelineBuilder("vid")
    b.add_frame(0.1, np.array([3]), np.array([0.9]), np.array([[0, 0, 9, 9]], np.float32), _probs(1)[None])
    t = b.build(range(0, 2), 2.0, speaking={(3, 0): 0.75}).to_arrow().to_pylist()
    assert [(r["face_id"], r["speaking"]) for r in t] == [(3, 0.75), (-1, None)]


def test_label_order():
    assert LABELS == ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

"""Swim-lane cells and figure from hand-made timeline rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emotion_batch.labels import EMOTION_COLORS, LABELS
from emotion_batch.lanes import MIN_OPACITY, lane_cells, lanes_figure
from emotion_batch.schemas import prob_columns


def _rows(spec):
    """spec: (face_id, second, emotion, confidence, a_emotion, voice_owner[, person_id]) tuples."""
    rows = []
    for face, sec, emo, conf, a_emo, owner, *pid in spec:
        r = {"video_id": "v", "face_id": face, "second": sec, "emotion": emo, "confidence": conf,
             "a_emotion": a_emo, "voice_owner": owner}
        a = np.full(len(LABELS), np.nan) if a_emo is None else np.full(len(LABELS), 0.1)
        if a_emo is not None:
            a[LABELS.index(a_emo)] = 0.4
        r.update(dict(zip(prob_columns("a"), a)))
        if pid:
            r["person_id"] = pid[0]
        rows.append(r)
    return pd.DataFrame(rows)


def test_a_lane_per_face_most_seen_first_and_a_voice_lane():
    tl = _rows([
        (0, 0, "happy", 0.9, "sad", False), (1, 0, "angry", 0.5, "sad", True),
        (0, 1, "happy", 0.6, "sad", True), (1, 1, "angry", 0.5, "sad", False),
        (0, 2, "sad", 0.4, None, False),
        (-1, 3, "fear", 0.3, "fear", True),  # nobody on screen: an off-screen voice
    ])
    cells = lane_cells(tl)
    assert list(dict.fromkeys(cells.lane)) == ["face 0", "face 1", "voice"]
    f0 = cells[cells.lane == "face 0"]
    assert f0[["start_s", "end_s", "emotion"]].values.tolist() == [[0, 1, "happy"], [1, 2, "happy"], [2, 3, "sad"]]
    assert f0.confidence.tolist() == pytest.approx([0.9, 0.6, 0.4])
    voice = cells[cells.lane == "voice"]
    assert voice[["start_s", "emotion", "who"]].values.tolist() == [
        [0, "sad", "face 1"], [1, "sad", "face 0"], [3, "fear", "off screen"]]
    assert voice.confidence.tolist() == pytest.approx([0.4] * 3)


def test_person_ids_join_tracks_into_one_lane():
    tl = _rows([
        (0, 0, "happy", 0.9, None, False, 7), (3, 0, "sad", 0.6, None, False, 7),  # one person, two tracks
        (3, 1, "sad", 0.6, None, False, 7), (4, 1, "fear", 0.8, None, False, None),  # no match: its track
    ])
    cells = lane_cells(tl)
    assert cells[["lane", "start_s", "emotion"]].values.tolist() == [
        ["person 7", 0, "happy"], ["person 7", 1, "sad"], ["face 4", 1, "fear"]]


def test_long_videos_are_drawn_in_columns_of_several_seconds():
    emos = ["happy"] * 7000 + ["sad"] * 200
    tl = pd.DataFrame({"video_id": "v", "face_id": 0, "second": np.arange(7200), "emotion": emos,
                       "confidence": np.where(np.arange(7200) % 2, 0.8, 0.4)})
    cells = lane_cells(tl, max_columns=600)
    assert len(cells) == 600 and (cells.end_s - cells.start_s == 12).all() and cells.end_s.max() == 7200
    assert cells.n_seconds.tolist() == [12] * 600
    assert cells.emotion.iloc[0] == "happy" and cells.emotion.iloc[-1] == "sad"
    assert cells.confidence.iloc[0] == pytest.approx(0.6)
    # a column split 4 happy / 8 sad is sad: the most frequent emotion of its seconds
    mixed = cells[cells.start_s == 6996].iloc[0]
    assert mixed.emotion == "sad" and mixed.confidence == pytest.approx(np.mean([0.4, 0.8] * 4))


def test_figure_colours_opacity_and_an_empty_video():
    tl = _rows([(0, 0, "happy", 0.9, "sad", True), (0, 1, "neutral", 0.1, None, False)])
    fig = lanes_figure(lane_cells(tl), span_s=5)
    by = {t.name: t for t in fig.data}
    assert set(by) == {"happy", "neutral", "sad"}
    assert by["happy"].marker.color == EMOTION_COLORS["happy"] and list(by["happy"].y) == ["face 0"]
    assert list(by["happy"].marker.opacity) == pytest.approx([0.9])
    assert list(by["neutral"].marker.opacity) == [MIN_OPACITY]  # faint, never invisible
    assert fig.layout.xaxis.range == (0, 5) and list(fig.layout.yaxis.categoryarray) == ["voice", "face 0"]
    empty = lanes_figure(lane_cells(tl.iloc[0:0]), span_s=3)
    assert not empty.data and "no face and no speech" in empty.layout.annotations[0].text


def test_a_stretch_of_a_long_video_is_drawn_per_second():
    tl = pd.DataFrame({"video_id": "v", "face_id": 0, "second": np.arange(7200),
                       "emotion": np.where(np.arange(7200) % 3 == 0, "sad", "happy"), "confidence": 0.7})
    cells = lane_cells(tl, start_s=3600, span_s=3660, max_columns=600)
    assert cells.start_s.tolist() == list(range(3600, 3660)) and (cells.end_s - cells.start_s == 1).all()
    assert cells.emotion.tolist() == ["sad" if s % 3 == 0 else "happy" for s in range(3600, 3660)]
    fig = lanes_figure(cells, span_s=3660, start_s=3600)
    assert fig.layout.xaxis.range == (3600, 3660)
    whole = lane_cells(tl, max_columns=600)
    assert len(whole) == 600 and set(whole.emotion) == {"happy"}  # 12 s columns: 8 happy, 4 sad

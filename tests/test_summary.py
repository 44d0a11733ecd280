"""video_summary: what the A/V offset is, voice-only readings, the dominant emotion's source."""

from __future__ import annotations

import pandas as pd

from emotion_batch.summary import COLUMNS, video_summary


def _manifest(**videos):
    rows = []
    for vid, over in videos.items():
        row = dict(video_id=vid, path=f"/data/{vid}.mp4", status="ok", error=None, duration_s=12.345,
                   faces_found=1, has_audio=True, av_offset_s=0.0812, av_confidence=0.734, av_method="dtw")
        row.update(over)
        rows.append(row)
    return pd.DataFrame(rows)


def _tl(vid, rows):
    """rows: (face_id, second, emotion, voice_owner)."""
    return pd.DataFrame([dict(video_id=vid, face_id=f, second=s, emotion=e, voice_owner=o) for f, s, e, o in rows])


def test_what_the_offset_is_and_where_the_emotion_comes_from():
    m = _manifest(
        talk=dict(),
        mute=dict(has_audio=False, av_offset_s=0.0, av_confidence=0.0, av_method="container (no audio)"),
        quiet=dict(av_offset_s=0.0, av_confidence=0.0, av_method="container (signals too short)"),
        unsure=dict(av_offset_s=0.0, av_confidence=0.0, av_method="container (mouth motion and audio do not match)"),
        radio=dict(faces_found=0),
        broken=dict(status="failed", error="not a video", duration_s=None, faces_found=None, av_method=None),
    )
    tl = pd.concat([
        _tl("talk", [(0, 0, "happy", True), (0, 1, "happy", False), (0, 2, "sad", False), (-1, 3, "angry", True)]),
        _tl("mute", [(0, 0, "sad", False)]),
        _tl("quiet", [(0, 0, "sad", False), (-1, 1, None, False)]),
        _tl("unsure", [(0, 0, "fear", True)]),
        _tl("radio", [(-1, 0, "disgust", True), (-1, 1, "disgust", True), (-1, 2, "neutral", False)]),
    ])
    s = video_summary(m, tl).set_index("video_id")
    assert list(video_summary(m, tl).columns) == COLUMNS
    talk = s.loc["talk"]
    assert (talk.av_sync, talk.av_offset_s, talk.av_confidence) == ("measured", 0.08, 0.73)
    assert (talk.file, talk.duration_s, talk.speech_s, talk.voice_only_s) == ("talk.mp4", 12.3, 2, 1)
    assert (talk.emotion, talk.emotion_share, talk.emotion_from) == ("happy", 0.67, "face")
    assert s.loc["mute"].av_sync == "no audio track" and s.loc["mute"].av_offset_s is None  # never a measured 0.00
    assert s.loc["quiet"].av_sync == "no speech" and s.loc["quiet"].av_confidence is None
    assert (s.loc["unsure"].av_sync, s.loc["unsure"].av_note) == ("not measured", "mouth motion and audio do not match")
    radio = s.loc["radio"]
    assert (radio.emotion, radio.emotion_share, radio.emotion_from, radio.voice_only_s) == ("disgust", 0.67, "voice", 3)
    broken = s.loc["broken"]
    assert broken.av_sync is None and broken.emotion is None and broken.error == "not a video"
    assert pd.isna(broken.speech_s) and str(s["faces"].dtype) == "Int64"


def test_persons_counted_when_the_timelines_have_them():
    tl = _tl("talk", [(0, 0, "happy", False), (1, 0, "sad", False), (2, 1, "sad", False)])
    tl["person_id"] = [4, 4, 9]
    s = video_summary(_manifest(talk={}), tl)
    assert s.persons.tolist() == [2]
    assert video_summary(_manifest(talk={}), tl.drop(columns="person_id")).persons.isna().all()


def test_no_timelines_yet():
    s = video_summary(_manifest(talk={}), pd.DataFrame(columns=["video_id", "face_id", "second", "emotion"]))
    assert s.emotion.tolist() == [None] and s.av_sync.tolist() == ["measured"]

"""Explanations as the pipeline produces them (explain/stage.py + pipeline/analyzer.py)."""

import pytest

from conftest import RAVDESS
from emotion_batch.config import RunConfig
from emotion_batch.pipeline import VideoAnalyzer
from emotion_batch.schemas import ATTRIBUTION_SCHEMA


@pytest.fixture(scope="module")
def speech_video(tmp_path_factory):
    from emotion_batch.training.datasets import load_audio
    from videogen import make_video

    if not RAVDESS.is_dir():
        pytest.skip("needs ../shared RAVDESS")
    wave = load_audio(RAVDESS / "Actor_01" / "03-01-05-02-01-01-01.flac")  # angry, strong
    path = tmp_path_factory.mktemp("speech") / "talk.mp4"
    make_video(path, seconds=len(wave) / 16000, fps=10, audio=wave)
    return str(path)


@pytest.mark.shared
@pytest.mark.parametrize("mode", ["all", "sample", "none"])
def test_attributions_per_mode(speech_video, mode):
    res = VideoAnalyzer(RunConfig.from_flat(device="cpu", explain=mode, explain_every=2))(speech_video)
    assert res.ok, res.error
    attr, tl = res.attributions, res.timeline
    assert attr.schema == ATTRIBUTION_SCHEMA
    predicted = [(r["face_id"], r["second"], r["emotion"]) for r in tl.to_pylist() if r["emotion"]]
    rows = attr.to_pylist()
    assert [(r["face_id"], r["second"], r["label"]) for r in rows] == predicted  # same rows, same label
    for r in rows:
        assert r["shap_visual"] + r["shap_audio"] + r["shap_base"] == pytest.approx(r["p_label"], abs=1e-5)
    # the still face and the voice's face_id -1 rows (the face does not speak): face groups on
    # the face rows, audio groups on the rows whose audio fusion uses
    with_groups = [(r["face_id"], r["second"]) for r in rows
                   if r["g_mouth_jaw"] is not None or r["g_audio_low"] is not None]
    keys = [(r["face_id"], r["second"]) for r in rows]
    expected = {"all": keys, "sample": [k for k in keys if k[1] % 2 == 0], "none": []}[mode]
    assert with_groups == expected
    assert all((r["g_mouth_jaw"] is not None) == (r["face_id"] >= 0) for r in rows if (r["face_id"], r["second"])
               in expected)
    for r in rows:
        if r["g_mouth_jaw"] is not None:
            face = [r[f"g_{g}"] for g in ("brows_eyes", "nose_cheeks", "mouth_jaw", "face_rest")]
            assert sum(face) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.shared
def test_speech_seconds_credit_the_voice(speech_video):
    res = VideoAnalyzer(RunConfig.from_flat(device="cpu", explain="all"))(speech_video)
    tl = {(r["face_id"], r["second"]): r for r in res.timeline.to_pylist()}
    rows = res.attributions.to_pylist()
    # The still photo does not speak: the voice is carried by the face_id -1 row, and the face
    # keeps at most a small, speaker-gated share of it. Rows that really use the audio get
    # audio credit and audio feature groups; rows that do not use it at all get exactly none.
    used = [r for r in rows if (tl[(r["face_id"], r["second"])]["w_audio"] or 0) > 0.05]
    silent = [r for r in rows if not tl[(r["face_id"], r["second"])]["w_audio"]]
    assert any(r["face_id"] == -1 for r in used)
    assert used and all(abs(r["shap_audio"]) > 1e-4 and r["g_audio_low"] is not None for r in used)
    assert all(r["shap_audio"] == 0.0 and r["g_audio_low"] is None for r in silent)


def test_unused_audio_gets_zero_audio_attribution(analyzer, made_videos):
    # a steady tone is not speech: where fusion ignores the audio, its Shapley value is exactly 0
    res = analyzer(made_videos["face"][0])
    w_audio = {(r["face_id"], r["second"]): r["w_audio"] for r in res.timeline.to_pylist()}
    rows = res.attributions.to_pylist()
    unused = [r for r in rows if w_audio[(r["face_id"], r["second"])] == 0.0]
    assert len(unused) >= 2
    assert all(r["shap_audio"] == 0.0 for r in unused)
    assert all(r["shap_visual"] + r["shap_base"] == pytest.approx(r["p_label"], abs=1e-6) for r in unused)

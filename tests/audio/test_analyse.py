"""The audio stage per timeline second, at the edges of the audio track."""

import numpy as np
import pytest
import torch

from emotion_batch.audio.analyse import MIN_COVER_S, analyse_audio
from emotion_batch.models.audio import load_audio_model
from videogen import make_audio_only, voice


def read(path, model, span):
    """The audio stage over seconds 0-2 of `path` with the track spanning `span` (s)."""
    with torch.no_grad():  # as the pipeline calls it
        return analyse_audio(str(path), range(3), model, torch.device("cpu"), track_span=span)


@pytest.fixture(scope="module")
def model():
    return load_audio_model("cpu")


@pytest.fixture(scope="module")
def speech_file(tmp_path_factory):
    """2.5 s of voiced syllables from t = 0 to the end (the last second is half covered)."""
    path = tmp_path_factory.mktemp("a") / "speech.m4a"
    make_audio_only(path, seconds=2.5, audio=voice(2.5))
    return path


def test_a_partly_covered_last_second_is_read_over_its_covered_part(model, speech_file):
    sec = read(speech_file, model, (0.0, 2.5))
    assert not np.isnan(sec.probs).any()  # second 2 ([2, 3), audio only in [2, 2.5)) has a reading
    # its speech fraction is over [2, 2.5), where the voice goes on: not diluted by the half
    # second after the track's end (tolerance: the voice-activity detector's onset frames)
    assert sec.speech[2] == pytest.approx(sec.speech[1], abs=0.2)
    assert sec.speech[2] > 0.25


def test_a_second_with_almost_no_audio_under_it_has_no_reading(model, speech_file):
    end = 2.0 + MIN_COVER_S / 2
    sec = read(speech_file, model, (0.0, end))
    assert not np.isnan(sec.probs[:2]).any()
    assert np.isnan(sec.probs[2]).all() and sec.speech[2] == 0.0


def test_the_window_of_an_edge_second_stays_on_the_track(model, speech_file):
    """Second 2's 2 s window is the track's last 2 s, [0.5, 2.5): not half padding. That is
    also second 1's window (centred at 1.5 s), so the two readings agree (tolerance 1e-5: the
    same samples through the same model, in one batch)."""
    sec = read(speech_file, model, (0.0, 2.5))
    np.testing.assert_allclose(sec.probs[2], sec.probs[1], atol=1e-5)

"""Corpus file-name parsing, discovery and audio decoding from audio and video containers."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from emotion_batch.labels import LABELS
from emotion_batch.training.datasets import Clip, find_clips, load_audio, parse_name, split_by_actor

RAVDESS = Path(__file__).resolve().parents[2] / "../shared" / "data" / "ravdess-speech-16k"


@pytest.mark.parametrize(
    "name,label,actor,corpus,has_audio",
    [
        ("03-01-01-01-01-01-01.flac", "neutral", 1, "ravdess", True),
        ("03-01-02-02-01-02-12.wav", "neutral", 12, "ravdess", True),  # calm -> neutral
        ("03-01-03-01-01-01-05.flac", "happy", 5, "ravdess", True),
        ("01-01-04-01-01-01-24.mp4", "sad", 24, "ravdess", True),
        ("03-01-05-02-02-01-07.flac", "angry", 7, "ravdess", True),
        ("03-01-06-01-01-01-07.flac", "fear", 7, "ravdess", True),
        ("03-01-07-01-01-01-07.flac", "disgust", 7, "ravdess", True),
        ("03-02-08-01-01-01-07.flac", "surprise", 7, "ravdess", True),  # song channel
        ("02-01-08-01-01-01-07.mp4", "surprise", 7, "ravdess", False),  # video only: no audio
        ("1001_DFA_ANG_XX.wav", "angry", 1001, "crema-d", True),
        ("1091_IEO_DIS_HI.flv", "disgust", 1091, "crema-d", True),
        ("1042_TIE_FEA_LO.mp4", "fear", 1042, "crema-d", True),
        ("1002_ITS_HAP_MD.wav", "happy", 1002, "crema-d", True),
        ("1003_MTI_NEU_XX.wav", "neutral", 1003, "crema-d", True),
        ("1004_WSI_SAD_XX.wav", "sad", 1004, "crema-d", True),
    ],
)
def test_parse_name(name, label, actor, corpus, has_audio):
    c = parse_name(Path("some/dir") / name)
    assert c is not None
    assert (c.label_name, c.actor, c.corpus, c.has_audio) == (label, actor, corpus, has_audio)
    assert LABELS[c.label] == label


@pytest.mark.parametrize("name", ["video.mp4", "03-01-09-01-01-01-01.flac", "03-01-01-01-01-01.flac",
                                  "1001_DFA_XXX_XX.wav", "04-01-01-01-01-01-01.wav"])
def test_parse_name_rejects_other_names(name):
    assert parse_name(name) is None


def _write(path: Path, wave: np.ndarray, sr: int, video: bool = False) -> None:
    """Encode a mono float wave with PyAV: flac/wav, or an mp4 with a tiny video stream + aac."""
    with av.open(str(path), "w") as out:
        if video:
            vs = out.add_stream("mpeg4", rate=10)
            vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        codec = {".flac": "flac", ".wav": "pcm_s16le", ".mp4": "aac"}[path.suffix]
        st = out.add_stream(codec, rate=sr)
        st.layout = "stereo"
        fmt = "fltp" if codec == "aac" else "s16"
        stereo = np.stack([wave, wave]).astype(np.float32)
        data = stereo if fmt == "fltp" else (stereo.T.reshape(1, -1) * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout="stereo")
        frame.sample_rate = sr
        if video:
            for i in range(int(len(wave) / sr * 10)):
                vf = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
                for p in vs.encode(vf):
                    out.mux(p)
            for p in vs.encode():
                out.mux(p)
        for p in st.encode(frame):
            out.mux(p)
        for p in st.encode():
            out.mux(p)


@pytest.mark.parametrize("suffix,video", [(".wav", False), (".flac", False), (".mp4", True)])
def test_load_audio_resamples_to_16k_mono(tmp_path, suffix, video):
    sr = 44100 if suffix != ".mp4" else 48000
    t = np.arange(sr) / sr
    wave = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = tmp_path / f"03-01-03-01-01-01-02{suffix}"
    _write(path, wave, sr, video)
    x = load_audio(path)
    assert x.dtype == np.float32 and x.ndim == 1
    assert abs(len(x) - 16000) < 1600  # codecs may pad a frame
    spec = np.abs(np.fft.rfft(x[2000:14000]))
    assert abs(np.fft.rfftfreq(12000, 1 / 16000)[spec.argmax()] - 440) < 3
    assert 0.3 < np.abs(x[2000:14000]).max() < 0.6


def test_find_clips_recursive_and_split(tmp_path):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    for name in ["03-01-01-01-01-01-01.flac", "03-01-05-01-01-01-18.flac", "notes.txt", "random.wav",
                 "02-01-05-01-01-01-18.mp4"]:
        (sub / name).write_bytes(b"")
    clips = find_clips(tmp_path)
    assert [c.path.name for c in clips] == ["03-01-01-01-01-01-01.flac", "03-01-05-01-01-01-18.flac"]
    assert len(find_clips(tmp_path, require_audio=False)) == 3
    train, val = split_by_actor(clips, {18})
    assert [c.actor for c in train] == [1] and [c.actor for c in val] == [18]


@pytest.mark.shared
def test_ravdess_folder_is_balanced_per_actor():
    clips = find_clips(RAVDESS)
    assert len(clips) == 1200 and all(isinstance(c, Clip) for c in clips)
    one = [c for c in clips if c.actor == 3]
    counts = {lab: sum(c.label_name == lab for c in one) for lab in LABELS}
    assert counts == {"angry": 8, "disgust": 8, "fear": 8, "happy": 8, "sad": 8, "surprise": 8, "neutral": 12}
    x = load_audio(one[0].path)
    assert x.dtype == np.float32 and 2.5 < len(x) / 16000 < 6

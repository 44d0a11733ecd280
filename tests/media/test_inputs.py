"""The inputs the media stage must read (README "Inputs handled"), on files the tests make:
codecs and containers, rotation flags, cut recordings, audio-only files, plain failure reasons."""

import av
import numpy as np
import pytest

from emotion_batch import media
from emotion_batch.media.windows import WindowReader
from videogen import INPUT_CASES, cut_file, make_audio_only, make_frames, make_video

# Lossy codecs at test quality change pixels by a few levels; a wrong frame, a sideways frame or
# garbage differs by tens (the face photo against the flat grey background).
PIXEL_TOLERANCE = 12.0


def _frames(path, fps=10.0, report=None):
    chunks = list(media.iter_frames(path, fps, report=report))
    return np.concatenate([c.times for c in chunks]), np.concatenate([c.frames for c in chunks])


@pytest.mark.parametrize("kind", sorted(INPUT_CASES))
def test_every_case_probes_and_decodes_upright(made_inputs, kind):
    path, times = made_inputs(kind)
    size = INPUT_CASES[kind][1].get("size", (320, 240))
    info = media.probe(path)
    assert info.has_video and info.has_audio and info.warnings == ()
    assert (info.width, info.height) == size  # displayed, rotation applied
    assert info.n_frames == len(times) and info.fps == pytest.approx(10, rel=0.01)
    np.testing.assert_allclose(info.frame_starts, times, atol=1e-3)  # 1 ms: container time bases
    got_t, got = _frames(path)
    np.testing.assert_allclose(got_t, times, atol=1e-3)
    want = np.stack(make_frames(times, size))  # what was drawn, upright
    assert got.shape == want.shape
    err = np.abs(got.astype(np.float32) - want).mean(axis=(1, 2, 3))
    assert err.max() < PIXEL_TOLERANCE, err
    clip = media.read_audio(path)
    assert len(clip.samples) / clip.sample_rate == pytest.approx(3.0, abs=0.1)


@pytest.mark.parametrize("kind,degrees", [("portrait_rot90", 90), ("portrait_rot270", -90), ("upside_down", 180)])
def test_rotation_flag_is_written_and_honoured(made_inputs, kind, degrees):
    path, _ = made_inputs(kind)
    with av.open(path) as c:  # what a player reads: the display matrix on the decoded picture
        frame = next(c.decode(video=0))
        assert frame.rotation % 360 == degrees % 360  # 180 reads back as -180
        stored = (frame.width, frame.height)
    info = media.probe(path)
    assert info.rotation == (degrees // 90) % 4
    assert (info.width, info.height) == INPUT_CASES[kind][1].get("size", (320, 240))
    assert stored == ((info.height, info.width) if degrees % 180 else (info.width, info.height))


def test_window_reader_matches_full_frames_downscaled(made_inputs):
    # the sync windows: every frame, downscaled in FFmpeg, upright, at the indexed times
    path, times = made_inputs("portrait_rot90")
    info = media.probe(path)
    with WindowReader(info, max_side=160) as r:
        chunks = list(r.frames(0.5, 2.0, chunk=4))
        assert r.scale == pytest.approx(0.5)
    got_t = np.concatenate([t for t, _ in chunks])
    got = np.concatenate([f for _, f in chunks])
    inside = (times >= 0.5 - 1e-9) & (times < 2.0)
    np.testing.assert_allclose(got_t, times[inside], atol=1e-9)
    assert got.shape[1:] == (160, 120, 3)  # portrait, like the displayed video
    drawn = np.stack(make_frames(times, (240, 320)))[inside].astype(np.float32)
    want = drawn.reshape(len(drawn), 160, 2, 120, 2, 3).mean(axis=(2, 4))  # 2x2 means: the same scale
    assert np.abs(got.astype(np.float32) - want).mean() < PIXEL_TOLERANCE


@pytest.mark.parametrize("kind", ["vp9_opus_webm", "av1_mkv"])
def test_window_reader_reads_what_decord_cannot(made_inputs, kind):
    path, times = made_inputs(kind)
    with WindowReader(media.probe(path)) as r:
        got = np.concatenate([t for t, _ in r.frames(0.0, 99.0)])
    np.testing.assert_allclose(got, times, atol=1e-3)


@pytest.mark.parametrize("name,kw", [
    ("cut.mp4", dict(faststart=True)),  # index first (a phone's or an editor's export)
    ("cut.webm", dict(codec="libvpx-vp9", audio_codec="libopus", audio_rate=48000)),
])
def test_cut_recording_gives_what_it_holds(tmp_path, name, kw):
    whole = tmp_path / ("whole" + name[3:])
    make_video(whole, seconds=4.0, fps=10, **kw)
    cut = tmp_path / name
    cut_file(whole, cut, 0.7)
    info = media.probe(str(cut))
    # about 70 % of the bytes: the data ends between 2 and 3.5 s; the container promised 4 s
    assert 2.0 < info.duration_s < 3.5 and info.declared_duration_s == pytest.approx(4.0, abs=0.05)
    assert len(info.warnings) >= 1 and all(w.startswith("truncated: ") for w in info.warnings)
    assert f"of {info.declared_duration_s:.1f} s declared" in info.warnings[0]
    report = media.DecodeReport()
    t, _ = _frames(str(cut), fps=5, report=report)
    assert t[-1] >= info.duration_s - 0.5  # decoded up to where the data ends, no exception
    assert report.reached_s == pytest.approx(info.duration_s, abs=0.3)
    clip = media.read_audio(str(cut))  # no exception; silent past the end of the data
    assert info.audio_span[1] < 3.5
    tail = clip.samples[int((info.audio_span[1] + 0.1) * clip.sample_rate):]
    assert len(tail) and np.abs(tail).max() == 0.0


def test_damaged_packets_are_skipped_not_fatal(tmp_path):
    path = tmp_path / "whole.mp4"
    make_video(path, seconds=4.0, audio=None)
    with av.open(str(path)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for pos, size in packets[15:18]:  # three frames in the middle overwritten with noise
        data[pos : pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    bad = tmp_path / "damaged.mp4"
    bad.write_bytes(bytes(data))
    info = media.probe(str(bad))
    report = media.DecodeReport()
    t, _ = _frames(str(bad), report=report)
    assert t[-1] == pytest.approx(3.9, abs=1e-3)  # decoding went on past the damage to the end
    assert report.bad_packets >= 1 and len(t) >= 40 - 3 - report.bad_packets
    assert f"{report.bad_packets} damaged video packet(s) skipped" in media.media_warning(info, report)


def test_unfinished_mp4_without_index_fails_plainly(tmp_path):
    whole = tmp_path / "whole.mp4"
    make_video(whole, seconds=3.0)  # index at the end, as a recorder writes it last
    cut = tmp_path / "unfinished.mp4"
    cut_file(whole, cut, 0.7)
    with pytest.raises(media.MediaError) as e:
        media.probe(str(cut))
    _assert_plain(str(e.value), cut)
    assert "index is missing" in str(e.value)


def test_nothing_decodable_fails(tmp_path):
    whole = tmp_path / "whole.mp4"
    make_video(whole, seconds=2.0, faststart=True, audio=None)
    data = bytearray(whole.read_bytes())
    start = data.find(b"mdat") + 4
    data[start:] = bytes(len(data) - start)  # every frame's bytes zeroed, the index intact
    bad = tmp_path / "zeroed.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(media.MediaError, match="holds no picture FFmpeg can decode") as e:
        media.probe(str(bad))
    _assert_plain(str(e.value), bad)


@pytest.mark.parametrize("name,kw", [
    ("voice.m4a", {}),
    ("voice.mp4", {}),  # an .mp4 without a video stream
    ("voice.wav", dict(codec="pcm_s16le")),
    ("voice.mp3", dict(codec="mp3", rate=44100)),
    ("voice.opus", dict(codec="libopus", rate=48000)),
])
def test_audio_only_files(tmp_path, name, kw):
    p = tmp_path / name
    make_audio_only(p, seconds=2.0, **kw)
    info = media.probe(str(p))
    assert info.has_video is False and info.has_audio
    assert (info.width, info.height, info.n_frames) == (0, 0, 0)
    assert info.duration_s == pytest.approx(2.0, abs=0.05) and info.audio_span[0] == 0.0
    clip = media.read_audio(str(p))
    spec = np.abs(np.fft.rfft(clip.samples[4000:20000]))
    assert np.fft.rfftfreq(16000, 1 / 16000)[spec.argmax()] == pytest.approx(220, abs=2)


def test_cover_art_is_not_video(tmp_path):
    # an .m4a with album art holds a one-picture "video" stream: still an audio-only file
    p = tmp_path / "song.m4a"
    with av.open(str(p), "w", format="mp4") as out:
        art = out.add_stream("mjpeg", rate=1)
        art.width, art.height, art.pix_fmt = 64, 64, "yuvj420p"
        art.disposition = av.stream.Disposition.attached_pic
        a = out.add_stream("aac", rate=16000, layout="mono")
        from videogen import mux_audio, mux_video, tone

        mux_video(out, art, [np.full((64, 64, 3), 200, np.uint8)], [0])
        mux_audio(out, a, tone(2.0), 16000)
    with av.open(str(p)) as c:
        if not (c.streams.video and c.streams.video[0].disposition & av.stream.Disposition.attached_pic):
            pytest.skip("this FFmpeg's MP4 muxer does not keep the attached-picture flag")
    assert media.probe(str(p)).has_video is False


@pytest.mark.parametrize("content", [b"hello, not a video" * 50, b"\x00" * 4096, b"\x1aE\xdf\xa3" + b"\x00" * 400])
def test_failure_reasons_are_plain(tmp_path, content):
    p = tmp_path / "bad.webm"
    p.write_bytes(content)
    with pytest.raises(media.MediaError) as e:
        media.probe(str(p))
    _assert_plain(str(e.value), p)


def _assert_plain(msg: str, path) -> None:
    """A reason written for the user: one line, no errno number, C++ check or file path."""
    assert "\n" not in msg and "Errno" not in msg and "Check failed" not in msg
    assert ".cc:" not in msg and str(path) not in msg and len(msg) < 300

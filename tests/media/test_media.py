import numpy as np
import pytest

from emotion_batch import media
from conftest import SAMPLE_VIDEOS


def test_probe_made_video(made_videos):
    path, times = made_videos["face"]
    info = media.probe(path)
    assert info.n_frames == len(times)
    assert (info.width, info.height) == (320, 240)
    assert info.has_audio
    assert info.duration_s == pytest.approx(3.0, abs=0.11)
    assert info.fps == pytest.approx(10, rel=0.05)


def test_frames_carry_container_timestamps_vfr(made_videos):
    path, times = made_videos["vfr"]
    got = np.concatenate([c.times for c in media.iter_frames(path, fps=100, chunk_frames=7)])
    # at 100 fps sampling every real frame is taken exactly once, at its own time
    np.testing.assert_allclose(got, times, atol=1e-3)
    assert np.all(np.diff(got) > 0)


def test_iter_frames_samples_the_analysis_rate(made_videos):
    path, times = made_videos["face"]
    chunks = list(media.iter_frames(path, fps=5, chunk_frames=4))
    got = np.concatenate([c.times for c in chunks])
    np.testing.assert_allclose(got, np.arange(15) / 5, atol=1e-3)
    assert max(len(c.times) for c in chunks) <= 4
    assert chunks[0].frames.dtype == np.uint8 and chunks[0].frames.shape[1:] == (240, 320, 3)


def test_segments_partition_frames(made_videos):
    path, _ = made_videos["face"]
    whole = np.concatenate([c.times for c in media.iter_frames(path, 5)])
    parts = np.concatenate([c.times for s in (0, 1, 2) for c in media.iter_frames(path, 5, start_s=s, end_s=s + 1)])
    np.testing.assert_array_equal(whole, parts)


def test_sample_indices_slower_video_is_deduplicated():
    starts = np.arange(10) / 2.0  # a 2 fps video sampled at 5 fps
    idx = media.sample_indices(starts, 5.0, 0.0, 5.0)
    assert list(idx) == list(range(10))


def test_sample_indices_drop_preroll():
    starts = np.array([-0.1, -0.05, 0.0, 0.1, 0.2])
    assert list(media.sample_indices(starts, 10.0, 0.0, 0.3)) == [2, 3, 4]


def test_read_audio_16k_mono(made_videos):
    path, _ = made_videos["face"]
    clip = media.read_audio(path)
    assert clip.sample_rate == 16000 and clip.samples.dtype == np.float32
    assert len(clip.samples) / 16000 == pytest.approx(3.0, abs=0.1)
    # the 220 Hz tone survives encode/decode
    spec = np.abs(np.fft.rfft(clip.samples[4000:20000]))
    assert np.fft.rfftfreq(16000, 1 / 16000)[spec.argmax()] == pytest.approx(220, abs=2)


def test_read_audio_range(made_videos):
    path, _ = made_videos["face"]
    part = media.read_audio(path, 1.0, 2.0)
    assert len(part.samples) == 16000 and part.start_s == 1.0
    assert np.abs(part.samples).max() > 0.1


def test_no_audio_returns_none(made_videos):
    path, _ = made_videos["silent"]
    assert media.read_audio(path) is None
    assert media.probe(path).has_audio is False


@pytest.mark.shared
def test_audio_placed_at_stream_start_time():
    # face_noface.mov's audio stream starts 2.43 s into the video
    path = str(SAMPLE_VIDEOS / "face_noface.mov")
    clip = media.read_audio(path)
    nz = np.flatnonzero(np.abs(clip.samples) > 1e-6)
    assert nz[0] / 16000 == pytest.approx(2.43, abs=0.03)


@pytest.mark.shared
@pytest.mark.parametrize("name,fps,dur", [("noface_face.mov", 26.5, 6.35), ("multi_face_walk.mp4", 25, 4.2)])
def test_probe_real(name, fps, dur):
    info = media.probe(str(SAMPLE_VIDEOS / name))
    assert info.fps == pytest.approx(fps, rel=0.02)
    assert info.duration_s == pytest.approx(dur, abs=0.05)


@pytest.mark.shared
def test_preroll_frames_dropped():
    # no_face.mp4 has 3 edit-list pre-roll frames at negative pts
    times = np.concatenate([c.times for c in media.iter_frames(str(SAMPLE_VIDEOS / "no_face.mp4"), 24)])
    assert times.min() >= 0 and times[0] == 0.0


def test_fingerprint_is_content_based(tmp_path, made_videos):
    path, _ = made_videos["face"]
    copy = tmp_path / "sub dir" / "copy ü.mp4"
    copy.parent.mkdir()
    copy.write_bytes(open(path, "rb").read())
    assert media.fingerprint(str(copy)) == media.fingerprint(path)
    assert media.fingerprint(str(copy)) != media.fingerprint(made_videos["vfr"][0])


@pytest.mark.parametrize("content,msg", [(b"", "empty"), (b"hello, not a video" * 50, "not a readable media file")])
def test_probe_bad_files(tmp_path, content, msg):
    p = tmp_path / "bad.mp4"
    p.write_bytes(content)
    with pytest.raises(media.MediaError, match=msg):
        media.probe(str(p))


def test_probe_audio_only(tmp_path):
    from videogen import make_audio_only

    p = tmp_path / "voice.mp4"
    make_audio_only(p)
    info = media.probe(str(p))
    assert info.has_video is False and info.has_audio and info.duration_s == pytest.approx(2.0, abs=0.05)


def test_truncated_stream_is_read_up_to_where_its_data_ends(tmp_path):
    # moov first (faststart), so the index promises 8 s while the data stops near 4 s
    from videogen import make_video

    good = tmp_path / "good.mp4"
    make_video(good, seconds=8.0, faststart=True)
    data = good.read_bytes()
    bad = tmp_path / "half.mp4"
    bad.write_bytes(data[: len(data) // 2])
    info = media.probe(str(bad))
    assert 3.0 < info.duration_s < 5.0 and info.warnings[0].startswith("truncated: video data ends at")
    report = media.DecodeReport()
    got = sum(len(c.times) for c in media.iter_frames(str(bad), 5, report=report))
    assert abs(got - 5 * info.duration_s) <= 2 and report.bad_packets == 0
    assert media.media_warning(info, report, info.duration_s) == " | ".join(info.warnings)
    assert sum(len(c.times) for c in media.iter_frames(str(good), 5)) == 40
    assert media.probe(str(good)).warnings == ()


@pytest.mark.shared
@pytest.mark.parametrize("name", ["WolfgangLanger_Pexels.mp4", "face_noface.mov", "multi_face_walk.mp4",
                                  "no_face.mp4", "noface_face.mov", "single_face.mp4"])
def test_probe_index_matches_decords(name):
    # probe's packet index replaced decord's frame index; the numbers the pipeline uses must not
    # move. 1 ms: decord keeps its times as float32.
    decord = pytest.importorskip("decord")
    path = str(SAMPLE_VIDEOS / name)
    info = media.probe(path)
    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    ts = np.asarray(vr.get_frame_timestamp(np.arange(len(vr))), np.float64)
    np.testing.assert_allclose(info.frame_starts, ts[:, 0], atol=1e-3)
    keep = ts[:, 0] >= 0
    assert info.n_frames == keep.sum()
    assert info.duration_s == pytest.approx(max(ts[keep, 1][-1], ts[keep, 0][-1]), abs=1e-3)
    assert info.fps == pytest.approx(vr.get_avg_fps(), rel=1e-6)
    assert (info.height, info.width) == vr[0].shape[:2] and info.rotation == 0 and info.warnings == ()

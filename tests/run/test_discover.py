import os

from emotion_batch.run.discover import describe, discover


def test_discover_recursive_filters_and_sorts(tmp_path):
    (tmp_path / "a b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for rel in ["a b/x.MP4", "z.mkv", "notes.txt", ".hidden/y.mp4", "a b/.dot.mov", "ü.webm"]:
        (tmp_path / rel).write_bytes(b"x")
    got = [os.path.relpath(p, tmp_path) for p in discover(tmp_path)]
    assert got == ["a b/x.MP4", "z.mkv", "ü.webm"]


def test_discover_takes_audio_only_recordings(tmp_path):
    for rel in ["interview.m4a", "b.MP3", "c.wav", "d.aac", "e.flac", "f.ogg", "g.opus", "h.txt", "i.srt"]:
        (tmp_path / rel).write_bytes(b"x")
    got = [os.path.basename(p) for p in discover(tmp_path)]
    assert got == ["b.MP3", "c.wav", "d.aac", "e.flac", "f.ogg", "g.opus", "interview.m4a"]


def test_discover_single_file_any_extension(tmp_path):
    f = tmp_path / "clip.data"
    f.write_bytes(b"x")
    assert discover(f) == [str(f.resolve())]


def test_describe_never_raises(tmp_path, made_videos):
    bad = tmp_path / "broken.mp4"
    bad.symlink_to(tmp_path / "missing")
    item = describe(str(bad))
    assert item.error and item.error.startswith("cannot read the file") and item.video_id.startswith("path-")
    ok = describe(made_videos["face"][0])
    assert ok.error is None and ok.info.n_frames == 30

"""The run's progress bar (issue 22): videos from the first line, one speed unit, user words."""

import pickle

import pytest

from emotion_batch.run.console.bar import set_progress, status_text, videos_bar
from emotion_batch.run.storage.manifest import ManifestRow


def test_status_text_is_in_the_users_words():
    assert status_text(analysed_s=0, elapsed_s=3) == "0 video-s analysed"
    text = status_text(analysed_s=30, elapsed_s=10, failed=1, done_before=2, busy_workers=1, checked=3, n_files=5)
    assert text == "30 video-s analysed (3.0x real time), 1 failed, 2 already done, 3/5 files checked, 1 worker busy"
    assert "files checked" not in status_text(analysed_s=1, elapsed_s=1, checked=5, n_files=5)


def test_the_bar_counts_videos_from_the_start_and_never_passes_its_total():
    bar = videos_bar(4, enabled=False)
    assert bar.total == 4 and bar.n == 0
    set_progress(bar, 2.5, "x")
    assert bar.n == pytest.approx(2.5)
    set_progress(bar, 9, "x")
    assert bar.n == 4


def _row(vid, status="ok"):
    import dataclasses

    fields = {f.name: None for f in dataclasses.fields(ManifestRow)}  # whatever fields the manifest has
    return ManifestRow(**{**fields, "video_id": vid, "path": f"/{vid}.mp4", "status": status, "duration_s": 60.0,
                          "error": None if status == "ok" else "bad", "model_version": "m", "config_hash": "c"})


def test_ray_progress_counts_segments_as_fractions_of_their_video():
    pytest.importorskip("ray")
    from emotion_batch.run.distributed.progress import Progress
    from emotion_batch.run.record import BatchSummary

    said = []
    bar = videos_bar(3, enabled=False)
    prog = Progress(None, bar, BatchSummary(), n_paths=3, echo=said.append)
    prog.unit_done({"video_id": "v", "seconds": 30.0, "duration": 60.0, "manifest": None})
    assert bar.n == pytest.approx(0.5)  # half of one video's seconds are in
    prog.unit_done({"video_id": "v", "seconds": 30.0, "duration": 60.0, "manifest": pickle.dumps(_row("v"))})
    assert bar.n == pytest.approx(1.0)
    prog.unit_done({"video_id": "w", "seconds": 4.0, "duration": 4.0, "manifest": pickle.dumps(_row("w", "failed"))})
    assert bar.n == pytest.approx(2.0) and any("FAILED" in s for s in said)

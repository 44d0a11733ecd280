"""Hooks passed per call (pipeline/hooks.py): told which video they watch; the ready-made
progress and timing hooks, and several hooks as one, on the suite's small generated videos."""

import pytest

from emotion_batch.pipeline import Hooks, ProgressHook, Stage, TimingHook, VideoRef

STEPS = {"probe", "frames", "faces", "align", "sync", "audio", "timeline", "explain"}


@pytest.fixture(scope="module")
def watched(analyzer, made_videos):
    """One analysis of the 3 s face video watched by a progress hook, a timing hook and a
    recorder at once (Hooks), under a video id the test chooses."""
    path = made_videos["face"][0]
    progress, timing, calls = [], TimingHook(), []
    hook = Hooks(ProgressHook(lambda video, completed, total: progress.append((video, completed, total))), None,
                 timing, lambda step, artifact, **kw: calls.append((step, kw)))
    res = analyzer(path, "face-under-test", hook=hook)
    assert res.ok, res.error
    return path, res, progress, timing, calls


def test_every_call_is_told_the_video_it_watches(watched):
    path, _, progress, _, calls = watched
    want = VideoRef("face-under-test", path, 0.0, None)
    assert {s for s, _ in calls} == STEPS
    assert all(kw["video"] == want for _, kw in calls)
    assert all(video == want for video, _, _ in progress)


def test_progress_rises_from_zero_to_the_total(watched):
    _, res, progress, _, _ = watched
    done = [c for _, c, _ in progress]
    assert done[0] == 0.0 and done == sorted(done) and len(set(done)) > 2  # 0, each chunk, the end
    totals = {t for _, _, t in progress}
    assert totals == {res.info.duration_s}  # the same number from the probe and every chunk
    assert done[-1] == progress[-1][2]  # the final step reports the whole video done


def test_progress_of_a_segment_counts_its_own_seconds(analyzer, made_videos):
    seen = []
    res = analyzer(made_videos["face"][0], start_s=1.0, end_s=2.0,
                   hook=ProgressHook(lambda video, completed, total: seen.append((video, completed, total))))
    assert res.ok, res.error
    assert {(v.start_s, v.end_s) for v, _, _ in seen} == {(1.0, 2.0)}
    assert seen[0][1:] == (0.0, 1.0) and seen[-1][1:] == (1.0, 1.0)
    assert all(0.0 <= c <= t == 1.0 for _, c, t in seen)


def test_progress_of_a_failed_video_stops_short(tmp_path, analyzer):
    p = tmp_path / "junk.mp4"
    p.write_bytes(b"\x00" * 1000)
    seen = []
    res = analyzer(str(p), hook=ProgressHook(lambda *a: seen.append(a)))
    assert res.status == "failed" and seen == []  # not even probed: nothing to report


def test_timing_hook_has_every_step_of_the_video(watched):
    _, _, _, timing, _ = watched
    per_step = timing.seconds["face-under-test"]
    assert set(per_step) == STEPS
    assert all(s >= 0.0 for s in per_step.values()) and per_step["probe"] == 0.0


def test_timing_hook_adds_up_the_segments_of_one_video():
    timing, clock = TimingHook(), iter([1.0, 3.0, 4.0, 10.0, 14.0])
    import emotion_batch.pipeline.hooks as hooks

    real = hooks.time.perf_counter
    hooks.time.perf_counter = lambda: next(clock)
    try:
        a, b = VideoRef("v", "/v.mp4", 0.0, 5.0), VideoRef("v", "/v.mp4", 5.0, None)
        timing("probe", None, video=a)  # t=1
        timing("faces", None, video=a, completed=1.0, total=5.0)  # t=3: 2 s
        timing("probe", None, video=b)  # t=4: b's first report, 0
        timing("explain", None, video=a)  # t=10: 7 s since a's last
        timing("explain", None, video=b)  # t=14: 10 s since b's probe
    finally:
        hooks.time.perf_counter = real
    assert timing.seconds == {"v": {"probe": 0.0, "faces": 2.0, "explain": 17.0}}


def test_a_hook_that_raises_fails_that_video_with_one_line(analyzer, made_videos):
    def broken(step, artifact, **kw):
        if step == "faces":
            raise RuntimeError("the hook broke")

    res = analyzer(made_videos["noface"][0], hook=broken)
    assert res.status == "failed" and "the hook broke" in res.error and "\n" not in res.error
    assert analyzer(made_videos["noface"][0]).ok  # the next call has no hook: nothing left behind


def test_the_analyzer_is_a_list_of_stages_of_one_shape(analyzer):
    names = [s.name for s in analyzer.stages]
    assert all(isinstance(s, Stage) for s in analyzer.stages) and len(set(names)) == len(names)
    assert {"faces", "align", "sync", "audio", "timeline", "explain"} <= set(names) <= STEPS | {"identity"}

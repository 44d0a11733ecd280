"""The distributed run's ledger (no Ray): bounded retries, who is blamed, one merge per video."""

from __future__ import annotations

from emotion_batch.run.distributed.ledger import Ledger


def test_duplicate_content_has_one_first_path_and_a_retried_path_keeps_it():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    assert led.first_path("vid", "/a.mp4") == "/a.mp4"
    assert led.first_path("vid", "/a.mp4") == "/a.mp4"  # the same path again: its planning task was retried
    assert led.first_path("vid", "/copy-of-a.mp4") == "/a.mp4"  # a duplicate: the path analysed for it


def test_a_unit_that_kills_its_worker_alone_fails_after_max_retries():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    for attempt in (1, 2, 3):
        v = led.begin("v1", "analysing /a.mp4", f"w{attempt}", shared=False)
        assert (v.action, v.attempt) == ("run", attempt)
        # no end(): the worker died
    v = led.begin("v1", "analysing /a.mp4", "w4", shared=False)
    assert v.action == "fail"
    assert v.error == "worker lost 3 times while analysing /a.mp4"
    assert led.retries == 2


def test_a_death_while_sharing_the_actor_is_not_charged_but_the_rerun_is_alone():
    led = Ledger(max_retries=0, unit_timeout_s=10)
    assert led.begin("good", "analysing /good.mp4", "w1", shared=True).alone is False
    assert led.begin("bad", "analysing /bad.mp4", "w1", shared=True).alone is False
    # w1 died with both in flight: neither is charged, both run alone next time
    good = led.begin("good", "analysing /good.mp4", "w2", shared=True)
    assert (good.action, good.alone) == ("run", True)
    led.end("good")
    bad = led.begin("bad", "analysing /bad.mp4", "w2", shared=True)
    assert (bad.action, bad.alone) == ("run", True)
    led.alone("bad")  # its worker let the others finish: `bad` holds the actor alone
    # w2 died with only `bad` in it: now it is charged, and max_retries=0 fails it
    assert led.begin("bad", "analysing /bad.mp4", "w3", shared=True).action == "fail"
    assert "good" not in led.units


def test_a_unit_waiting_for_its_turn_alone_is_not_charged_for_the_unit_that_held_the_actor():
    """Both units were lost sharing an actor, so both rerun alone, one after the other. The
    poison takes the actor first and kills it again while the other waits for its turn:
    only the poison is charged."""
    led = Ledger(max_retries=0, unit_timeout_s=10)
    for key in ("poison", "good"):
        led.begin(key, f"analysing /{key}.mp4", "w1", shared=True)
    for key in ("poison", "good"):  # w1 died with both in it
        v = led.begin(key, f"analysing /{key}.mp4", "w2", shared=True)
        assert (v.action, v.alone) == ("run", True)
    led.alone("poison")  # it runs; `good` waits for it in the same actor
    # w2 died: the poison is charged and failed; `good` is not charged and runs again, alone
    v = led.begin("poison", "analysing /poison.mp4", "w3", shared=True)
    assert (v.action, v.error) == ("fail", "worker lost 1 time while analysing /poison.mp4")
    v = led.begin("good", "analysing /good.mp4", "w3", shared=True)
    assert (v.action, v.alone) == ("run", True)
    assert led.units["good"].deaths == 0


def test_every_video_planned_for_analysis_is_awaited_until_its_row_reaches_the_driver():
    """Whatever the worker outcomes, each video planned for analysis is either reported
    received by the driver or handed back by `undelivered`, saying whether its row was
    written; videos not to analyse (skipped, unreadable) are not awaited."""
    led = Ledger(max_retries=2, unit_timeout_s=10)
    led.planned("/done.mp4", skipped=1)
    led.planned("/bad.mp4", failed_row="row")
    led.planned("/a.mp4", videos=1, units=1, video_id="a", size_bytes=10)  # its row arrives
    led.planned("/b.mp4", videos=1, units=1, video_id="b", size_bytes=20)  # written; its output lost
    led.planned("/c.mp4", videos=1, units=1, video_id="c", size_bytes=30)  # its worker lost, no retry came
    led.planned("/d.mp4", videos=1, units=2, video_id="d", size_bytes=40)  # two segments, merged; row lost
    led.planned("/b.mp4", videos=1, units=1, video_id="b", size_bytes=20)  # a retried planning task
    for key in ("a", "b", "c", "d/0", "d/1"):
        assert led.begin(key, f"analysing {key}", "w1", shared=False).action == "run"
    led.register("d", 2, done=[])
    for key in ("a", "b"):
        led.end(key)
    assert led.segment_done("d", 0, "d/0") is None
    led.end("d/0")
    assert led.segment_done("d", 1, "d/1") == {}  # d/1 merges d
    led.merged("d")
    # a late retry of a unit of the merged video runs no more: its segment file is gone
    assert led.begin("d/1", "analysing d/1", "w2", shared=False).action == "done"
    assert led.begin("b", "analysing b", "w2", shared=False).action == "done"  # its output is sent again
    led.snapshot(delivered=["a"])
    rest = {w.video_id: (w.path, w.size_bytes, w.written) for w in led.undelivered()}
    assert rest == {"b": ("/b.mp4", 20, True), "c": ("/c.mp4", 30, False), "d": ("/d.mp4", 40, True)}
    assert led.undelivered() == []


def test_timeouts_count_and_a_neighbour_killed_with_it_is_forgiven():
    led = Ledger(max_retries=1, unit_timeout_s=5)
    led.begin("slow", "analysing /slow.mp4", "w1", shared=True)
    led.begin("other", "analysing /other.mp4", "w1", shared=True)
    led.timed_out("slow", others=["other"])
    other = led.begin("other", "analysing /other.mp4", "w2", shared=True)
    assert (other.action, other.alone) == ("run", False)  # not suspected, not charged
    assert led.units["other"].deaths == 0
    assert led.begin("slow", "analysing /slow.mp4", "w2", shared=True).action == "run"  # retry 1 of 1
    led.timed_out("slow", others=[])
    v = led.begin("slow", "analysing /slow.mp4", "w3", shared=True)
    assert v.action == "fail"
    assert v.error.startswith("timed out after 5 s (2 attempts) while analysing /slow.mp4")
    assert any("timed out after 5 s" in m for m in led.snapshot()["messages"])


def test_the_last_segment_merges_once_even_when_its_unit_is_retried():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    led.register("v", 3, done=[0])  # segment 0 was written by an earlier run
    assert led.segment_done("v", 1, "v/1") is None
    assert led.segment_done("v", 2, "v/2") == {}  # v/2 completes the video: it merges
    assert led.segment_done("v", 1, "v/1") is None  # a retried v/1 does not merge too
    assert led.segment_done("v", 2, "v/2") == {}  # a retried v/2 (its worker died merging) does
    led.merged("v")
    assert led.segment_done("v", 2, "v/2") is None


def test_a_failed_segment_skips_the_rest_and_is_reported_to_the_merger():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    led.register("v", 3, done=[])
    assert led.segment_done("v", 0, "v/0", error="boom") is None
    assert led.begin("v/1", "analysing /v.mp4 [1 s, 2 s)", "w", shared=False).action == "skip"
    assert led.segment_done("v", 1, "v/1") is None
    assert led.segment_done("v", 2, "v/2") == {0: "boom"}


def test_planning_is_tallied_once_per_path_and_snapshots_hand_over_rows():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    led.planned("/a.mp4", videos=1, seconds=12.5)
    led.planned("/a.mp4", videos=1, seconds=12.5)  # its planning task was retried
    led.planned("/bad.mp4", failed_row="row")
    snap = led.snapshot()
    t = snap["tallies"]
    assert (t.planned_paths, t.videos, t.seconds) == (2, 1, 12.5)
    assert snap["rows"] == ["row"]
    assert led.snapshot()["rows"] == []


def test_a_unit_delivered_again_after_it_ended_is_not_run_again():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    assert led.begin("v/0", "analysing /v.mp4 [0 s, 1 s)", "w1", shared=False).action == "run"
    led.end("v/0")
    assert led.begin("v/0", "analysing /v.mp4 [0 s, 1 s)", "w2", shared=False).action == "done"
    assert led.tallies.units_begun == 1


def test_planning_waits_while_enough_units_wait_for_actors():
    led = Ledger(max_retries=2, unit_timeout_s=10)
    led.planned("/a.mp4", videos=1, units=3)
    assert led.room(ahead=4)
    led.planned("/b.mp4", videos=1, units=2)
    assert not led.room(ahead=4)  # 5 planned, none taken up
    led.begin("a", "analysing /a.mp4", "w1", shared=False)
    led.begin("b", "analysing /b.mp4", "w1", shared=False)
    assert led.room(ahead=4)  # 3 waiting

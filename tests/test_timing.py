"""The one stage timer."""

from emotion_batch.timing import StageTimer


def test_accumulates_wall_and_cpu_per_stage_even_on_error():
    t = StageTimer(("a", "b"))
    assert t.seconds == {"a": 0.0, "b": 0.0}
    for _ in range(2):
        with t("a"):
            sum(i * i for i in range(20000))  # some CPU work
    try:
        with t("c"):
            raise ValueError
    except ValueError:
        pass
    assert t.wall["a"] > 0 and t.cpu["a"] > 0 and t.wall["b"] == 0.0
    assert "c" in t.wall and t.seconds is not t.wall  # a copy: callers may add "total"

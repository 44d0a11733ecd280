"""The keyframe policy: every frame while the scene is unsettled, then one full detection per
second (and at most interval_s apart) until a detection or a refinement disagrees."""

import pytest

from emotion_batch.vision.keyframes import KeyframePolicy

STEP = 0.2  # 5 analysed frames per second
TIMES = [round(k * STEP, 3) for k in range(30)]  # 0.0 .. 5.8


def drive(policy: KeyframePolicy, present) -> dict[float, bool]:
    """The policy over TIMES with one face wherever present(t), tracked while it stays (a face
    that goes ends its track); returns which frames got full detection."""
    keys, tracked = {}, False
    for t in TIMES:
        keys[t] = policy.is_key(t, STEP)
        here = present(t)
        if keys[t]:  # agrees when the face is where the tracker expects it
            policy.full(t, agrees=here == tracked)
            tracked = here
        else:  # refinement re-finds a tracked face only
            policy.refined(agrees=here or not tracked)
            tracked = tracked and here
    return keys


def test_off_means_every_frame():
    keys = drive(KeyframePolicy(0.0), lambda t: True)
    assert all(keys.values())


def test_settles_then_one_full_detection_per_second_on_its_last_frame():
    keys = drive(KeyframePolicy(1.0), lambda t: True)
    # the face is new at 0.0; detections agree from 0.2 on and settle the scene at 0.6 (SETTLE_S)
    assert all(keys[t] for t in TIMES if t <= 0.6)
    assert [t for t in TIMES if keys[t] and t > 0.6] == [0.8, 1.8, 2.8, 3.8, 4.8, 5.8]


def test_no_face_settles_too():
    keys = drive(KeyframePolicy(1.0), lambda t: False)
    assert [t for t in TIMES if keys[t] and t > 0.4] == [0.8, 1.8, 2.8, 3.8, 4.8, 5.8]


def test_a_lost_face_unsettles_the_scene():
    keys = drive(KeyframePolicy(1.0), lambda t: t < 3.3)
    assert not keys[3.2] and not keys[3.4]  # settled: refined (and lost at 3.4)
    assert keys[3.6] and keys[3.8] and keys[4.0]  # every frame again ...
    assert not keys[4.2] and keys[4.8]  # ... until agreeing detections for SETTLE_S (3.6-4.0) settle it


def test_a_face_that_appears_in_a_settled_scene_is_found_in_its_second():
    found = []
    p = KeyframePolicy(1.0)
    orig = p.full

    def full(t, agrees):
        if t >= 3.3:  # the face is there, so full detection finds it
            found.append(t)
        orig(t, agrees)

    p.full = full
    keys = drive(p, lambda t: t >= 3.3)  # appears at 3.4: frames 3.4, 3.6, 3.8 of second 3
    assert found[0] == 3.8  # the last frame of second 3 had full detection
    assert keys[4.0] and keys[4.2]  # and the new face unsettled the scene


def test_interval_shorter_than_a_second_caps_the_gap():
    p = KeyframePolicy(0.4, settled=True, last_full_t=1.0)
    assert not p.is_key(1.2, STEP)
    assert p.is_key(1.4, STEP)


@pytest.mark.parametrize("interval, want", [(2.0, [2.8, 4.8]), (3.0, [3.8]), (2.5, [2.8, 4.8])])
def test_interval_longer_than_a_second_keeps_to_last_frames_of_seconds(interval, want):
    p = KeyframePolicy(interval, settled=True, last_full_t=0.8)
    keys = []
    for t in TIMES:
        if p.is_key(t, STEP):
            keys.append(t)
            p.last_full_t = t
    assert keys == want

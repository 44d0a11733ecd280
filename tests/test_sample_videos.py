"""The six real sample videos in ../shared end to end (one VideoAnalyzer, shared models)."""


import pytest

from conftest import SAMPLE_VIDEOS

pytestmark = pytest.mark.shared

NAMES = ["WolfgangLanger_Pexels.mp4", "face_noface.mov", "noface_face.mov", "multi_face_walk.mp4", "no_face.mp4", "single_face.mp4"]


@pytest.fixture(scope="module")
def results(analyzer):
    return {n: analyzer(str(SAMPLE_VIDEOS / n)) for n in NAMES}


def test_all_six_end_ok(results):
    assert {n: r.status for n, r in results.items()} == {n: "ok" for n in NAMES}


def test_multi_person_video_has_several_faces(results):
    rows = results["multi_face_walk.mp4"].timeline.to_pylist()
    per_second = {}
    for r in rows:
        if r["face_id"] >= 0:
            per_second.setdefault(r["second"], set()).add(r["face_id"])
    assert len({f for ids in per_second.values() for f in ids}) >= 3
    assert max(len(ids) for ids in per_second.values()) >= 3  # several people at once


def test_no_face_video_has_no_face_rows(results):
    rows = results["no_face.mp4"].timeline.to_pylist()
    assert rows and all(r["face_id"] == -1 for r in rows)
    assert [r["second"] for r in rows] == [0, 1, 2, 3]


def test_face_then_no_face(results):
    rows = results["face_noface.mov"].timeline.to_pylist()
    face_s = sorted(r["second"] for r in rows if r["face_id"] >= 0)
    empty_s = sorted(r["second"] for r in rows if r["face_id"] == -1)
    assert face_s and empty_s and max(face_s) < min(empty_s)  # the face leaves the frame


def test_close_up_single_track(results):
    r = results["WolfgangLanger_Pexels.mp4"]
    assert r.faces_found == 1 and r.face_seconds == 20


@pytest.mark.parametrize("name", ["noface_face.mov", "face_noface.mov"])
def test_hevc_120fps_variable_rate_seconds_cover_duration(results, name):
    r = results[name]
    seconds = sorted({row["second"] for row in r.timeline.to_pylist()})
    assert seconds == list(range(int(r.info.duration_s) + 1))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["multi_face_walk.mp4", "face_noface.mov", "single_face.mp4"])
def test_default_detection_keeps_face_seconds_of_full_resolution(results, name):
    """The default detection (pre-scaled P-Net, full-resolution R/O-Net) finds within 5 % the
    face-seconds that stock MTCNN at full resolution on every analysed frame finds."""
    from reference_detect import reference_face_seconds

    full = reference_face_seconds(str(SAMPLE_VIDEOS / name))
    got = results[name].face_seconds
    assert full > 0 and abs(got - full) <= 0.05 * full, (got, full)

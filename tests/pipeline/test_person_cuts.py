"""An interview-style edit A | B | A | B: four tracks, two persons (issue 24, item 3)."""

from fractions import Fraction

import av
import numpy as np
import pytest

from conftest import SAMPLE_VIDEOS, analyse_into
from emotion_batch.config import RunConfig
from emotion_batch.query import run_sql


def _edit(dst, shots: list[tuple[str, float]], fps: int = 10) -> None:
    """Re-encode `seconds` from the start of each named sample back to back (640x360)."""
    with av.open(str(dst), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
        s.time_base = Fraction(1, fps)
        n = 0
        for name, seconds in shots:
            with av.open(str(SAMPLE_VIDEOS / name)) as inp:
                taken = 0
                for frame in inp.decode(video=0):
                    if frame.time >= seconds:
                        break
                    if frame.time * fps < taken:  # keep `fps` frames a second
                        continue
                    img = frame.to_ndarray(format="rgb24")
                    out_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[:360, :640]), format="rgb24")
                    out_frame.pts = n
                    n += 1
                    taken += 1
                    for p in s.encode(out_frame):
                        out.mux(p)
        for p in s.encode():
            out.mux(p)


@pytest.mark.shared
@pytest.mark.slow
def test_cuts_between_two_people_give_four_tracks_and_two_persons(tmp_path):
    clip = tmp_path / "interview.mp4"
    man, woman = "single_face.mp4", "WolfgangLanger_Pexels.mp4"
    _edit(clip, [(man, 2.0), (woman, 3.0), (man, 2.0), (woman, 3.0)])
    out = str(tmp_path / "out")
    cfg = RunConfig.from_flat(fps=2.0, explain="none", device="cpu", identity="video")
    analyse_into(out, [clip], cfg)
    t = run_sql(out, "SELECT face_id, min(second) AS s, any_value(person_id) AS p, count(DISTINCT person_id) AS k "
                     "FROM timelines WHERE face_id >= 0 GROUP BY face_id ORDER BY s", output="pandas")
    assert len(t) == 4 and (t.k == 1).all()  # a new track after every cut, one person each
    assert t.p.tolist() == [0, 1, 0, 1]  # joined: A | B | A | B

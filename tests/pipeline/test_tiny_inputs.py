"""Pictures smaller than the smallest face the detector finds analyse to no-face rows."""

from __future__ import annotations

import pytest

from videogen import make_video


@pytest.mark.parametrize("size", [(1, 1), (16, 16)])
def test_tiny_picture_gives_no_face_rows(analyzer, tmp_path, size):
    path = tmp_path / f"tiny{size[0]}.mp4"
    make_video(path, seconds=2.0, fps=5, size=size, face=False, pix_fmt="yuv444p" if size[0] % 2 else "yuv420p")
    res = analyzer(str(path), "tiny")
    assert res.ok, res.error
    assert res.faces_found == 0 and res.face_seconds == 0
    tl = res.timeline.to_pydict()
    assert tl["second"] == [0, 1] and set(tl["face_id"]) == {-1}  # the voice, every second
    assert res.info.width == size[0] and res.info.height == size[1]

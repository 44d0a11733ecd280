"""The one error-to-one-line helper."""

from emotion_batch.errors import UserFacingError, first_line, one_line_error
from emotion_batch.media import MediaError


def test_first_line_skips_blank_lines_and_cuts():
    assert first_line(RuntimeError("\n  first  \nsecond")) == "first"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(RuntimeError("x" * 500), 10) == "x" * 10


def test_ours_are_kept_as_written_others_get_their_type():
    assert one_line_error(MediaError("empty file (0 bytes)")) == "empty file (0 bytes)"
    assert isinstance(MediaError("x"), UserFacingError)
    assert one_line_error(RuntimeError("a\n  b")) == "RuntimeError: a b"
    assert one_line_error(RuntimeError()) == "RuntimeError: no message"

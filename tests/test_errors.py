"""Failure reasons are plain words: no errno numbers, C++ check messages or build paths."""

from __future__ import annotations

import re

import pytest

from emotion_batch.errors import UserFacingError, first_line, one_line_error, plain_message, technical_detail
from emotion_batch.media import MediaError

TECHNICAL = re.compile(r"\[Errno|\.cc:\d+|Check failed|/github/")

# Messages as the libraries print them (copied from real failures of the test videos).
FFMPEG_INVALID = "[Errno 1094995529] Invalid data found when processing input: '/tmp/x/notes.mkv'"
FFMPEG_EOF = "[Errno 541478725] End of file: '/tmp/x/cut.mp4'"
DECORD = ("[04:52:26] /github/workspace/src/video/ffmpeg/threaded_decoder.cc:292: [04:52:26] "
          "/github/workspace/src/video/ffmpeg/filter_graph.cc:100: Check failed: av_buffersrc_add_frame_flags("
          "buffersrc_ctx_, frame, AV_BUFFERSRC_FLAG_KEEP_REF) >= 0 (-22 vs. 0) Error while feeding the filter graph")


def test_media_error_with_ffmpeg_errno_becomes_plain():
    e = MediaError(f"not a readable media file ({FFMPEG_INVALID})")
    assert str(e) == "not a readable media file: the file is damaged or not a media file"
    assert FFMPEG_INVALID in e.detail  # the technical text is kept for the log
    assert one_line_error(e) == str(e)


@pytest.mark.parametrize("text,plain", [
    (f"cannot open the audio stream: {FFMPEG_INVALID}", "cannot open the audio stream: the file is damaged"),
    (f"video decoding failed near 2.0 s (truncated or corrupt?): {FFMPEG_EOF}", "the file ends early"),
    (f"cannot open the video stream for decoding: {DECORD}", "decoding: the file is damaged or uses a codec"),
    ("cannot open the video stream for decoding: [04:59:41] /github/workspace/src/video/video_reader.cc:486: "
     "Error: av_read_frame failed with 1094995529", "decoding: the file is damaged or not a media file"),
    ("[Errno 28] No space left on device", "no space left on the device"),
])
def test_plain_message(text, plain):
    out = plain_message(text)
    assert plain in out and not TECHNICAL.search(out) and "\n" not in out


def test_plain_text_is_kept():
    assert plain_message("empty file (0 bytes)") == "empty file (0 bytes)"
    assert plain_message("no video\n stream") == "no video stream"


def test_library_exceptions_are_mapped():
    class DECORDError(RuntimeError):
        pass

    reason = one_line_error(DECORDError(DECORD))
    assert reason == "the file is damaged or uses a codec that cannot be decoded"
    assert "ran out of memory" in one_line_error(MemoryError())
    assert one_line_error(OSError(28, "No space left on device")) == "no space left on the device"
    # an unknown error (a bug) names its type and points to the log; technical parts still go
    assert one_line_error(ValueError("bad shape (3, 4)")).startswith("unexpected error (ValueError: bad shape")
    assert not TECHNICAL.search(one_line_error(RuntimeError("[12:00:00] /github/x/y.cc:3: boom")))


def test_technical_detail_has_the_traceback():
    try:
        raise MediaError(f"not a readable media file ({FFMPEG_INVALID})")
    except MediaError as e:
        detail = technical_detail(e)
    assert "Traceback" in detail and "1094995529" in detail


def test_first_line_skips_blank_lines_and_cuts():
    assert first_line(RuntimeError("\n  first  \nsecond")) == "first"
    assert first_line(ValueError("")) == "ValueError"
    assert first_line(RuntimeError("x" * 500), 10) == "x" * 10


def test_ours_are_kept_as_written():
    assert one_line_error(MediaError("empty file (0 bytes)")) == "empty file (0 bytes)"
    assert isinstance(MediaError("x"), UserFacingError)

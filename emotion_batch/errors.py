"""One way to turn an exception into the one-line reason users see (console, manifest, report).

`first_line` keeps the first non-blank line of a message (C++ libraries and Ray put pages of
context after it). `one_line_error` is the reason a user sees for any exception: ours
(`UserFacingError` subclasses) as written, anything else mapped to plain words.

Reasons are written for the user: what is wrong with the file and what to do. The technical
text of FFmpeg, decord and friends (`[Errno 1094995529]`, `[04:01:03] /github/workspace/src/
video/ffmpeg/filter_graph.cc:61: Check failed: ...`) never reaches them: `plain_message`
replaces it with a known plain reason, and the full text is kept on the exception (`detail`)
for the run's log file (`technical_detail`).
"""

from __future__ import annotations

import re
import traceback

MAX_CHARS = 300

# Fragments that are technical detail, never part of a user-facing reason.
_TECHNICAL = re.compile(
    r"\[Errno\s*-?\d+\]"  # Python/PyAV errno tags, FFmpeg's are 10-digit numbers
    r"|\[\d\d:\d\d:\d\d\]"  # dmlc/decord log timestamps
    r"|\S+\.(?:cc|cpp|cxx|c|h|hpp|cu):\d+"  # C/C++ source locations
    r"|Check failed"
    r"|/github/workspace\S*|/home/runner/work\S*|/__w/\S*"  # build-machine paths (CI checkouts)
    r"|\bAVERROR\w*|\bav_\w+\(|\bDECORDError\b"
    r"|Invalid data found when processing input|moov atom not found|Error while feeding the filter graph"
)

# Known technical messages -> what they mean for the user (first match wins).
_PLAIN = [
    (r"\b1094995529\b|Invalid data found|moov atom not found|could not find codec parameters",
     "the file is damaged or not a media file"),
    (r"Errno 541478725|End of file|truncat", "the file ends early (truncated or still being copied?)"),
    (r"Errno 1128613112|Decoder not found|codec not (?:currently )?supported|unsupported codec",
     "the file uses a codec this installation cannot decode; convert it (e.g. to H.264 MP4) and run again"),
    (r"Errno 1163346256|patches welcome", "the file uses a format feature FFmpeg cannot decode; convert it and run again"),
    (r"CUDA out of memory|OutOfMemoryError", "the GPU ran out of memory; use a smaller --chunk-frames or --device cpu"),
    (r"Cannot allocate memory|MemoryError|std::bad_alloc", "ran out of memory; use a smaller --chunk-frames or fewer actors"),
    (r"No space left on device|Errno 28\]", "no space left on the device"),
    (r"Permission denied|Errno 13\]", "permission denied: check the file's permissions"),
    (r"No such file or directory|Errno 2\]", "the file disappeared while it was being read"),
    (r"RaySystemError|GcsRpc|\bGCS\b|raylet|ActorDiedError|ActorUnavailableError|WorkerCrashedError|NodeDied"
     r"|OwnerDiedError|ObjectLostError|core worker has already been shut|Ray has not been started",
     "Ray was lost (its cluster, a node or a worker ended); finished videos are kept: run again to resume"),
    (r"Check failed|\.cc:\d+|DECORDError|filter graph|error while decoding",
     "the file is damaged or uses a codec that cannot be decoded"),
]
_PLAIN = [(re.compile(p, re.I), text) for p, text in _PLAIN]
_GENERIC = "a technical error in the media libraries (the run's log file has the details)"


class UserFacingError(Exception):
    """An error whose str() is a one-line reason a user can act on.

    Any technical fragment in the message is replaced by a plain reason (`plain_message`);
    the message as given, and `detail` when passed, stay in `.detail` for the log.
    """

    def __init__(self, message: str = "", detail: str | None = None):
        message = str(message)
        self.detail = detail or message
        self.message = plain_message(message)
        super().__init__(self.message)

    def __reduce__(self):
        """Pickled as the one line it was made with: what a library appended to `args` on
        the way (Ray Data adds retry advice) does not travel to the driver's console."""
        return type(self), (self.message, self.detail)


def first_line(e: BaseException, limit: int = MAX_CHARS) -> str:
    """The first non-blank line of str(e), stripped and cut at `limit` (the type name if empty)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (lines[0] if lines else type(e).__name__)[:limit]


def plain_reason(text: str) -> str | None:
    """The plain reason for a known technical message, or None."""
    for pattern, plain in _PLAIN:
        if pattern.search(text):
            return plain
    return None


def is_technical(text: str) -> bool:
    return bool(_TECHNICAL.search(text or ""))


def plain_message(text: str, limit: int = MAX_CHARS) -> str:
    """`text` on one line with its technical tail (errno tags, C++ check messages, build
    paths, FFmpeg phrases) replaced by a plain reason: "not a readable media file ([Errno
    1094995529] Invalid data ...)" -> "not a readable media file: the file is damaged or not
    a media file". Text without technical fragments is returned as is (whitespace folded)."""
    text = " ".join(str(text).split())
    m = _TECHNICAL.search(text)
    if m is None:
        return text[:limit]
    reason = plain_reason(text) or _GENERIC
    prefix = text[: m.start()].rstrip(" :;,([{-")
    if prefix.endswith(reason) or not prefix:
        return (prefix or reason)[:limit]
    return f"{prefix}: {reason}"[:limit]


def one_line_error(e: BaseException) -> str:
    """The reason a user sees for `e`: ours as written; a known technical error in plain
    words; anything else (a bug) as "unexpected error (Type: message)", cleaned."""
    if isinstance(e, UserFacingError):
        return str(e)
    if isinstance(e, MemoryError):
        return plain_reason("MemoryError")
    text = f"{type(e).__name__}: {' '.join(str(e).split())}"
    known = plain_reason(text)
    if known is not None:
        return known
    if is_technical(text):
        return _GENERIC
    msg = " ".join(str(e).split())[:200] or "no message"
    return f"unexpected error ({type(e).__name__}: {msg}); details in the run's log file"


def technical_detail(e: BaseException) -> str:
    """Everything known about `e` for the log: the original message and the traceback."""
    detail = getattr(e, "detail", None)
    head = f"{type(e).__name__}: {detail}" if detail and detail != str(e) else ""
    tb = "".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip()
    return f"{head}\n{tb}" if head else tb

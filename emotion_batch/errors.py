"""One way to turn an exception into the one-line reason users see (console, manifest, report).

`first_line` keeps the first non-blank line of a message (C++ libraries and Ray put pages of
context after it); `one_line_error` prefixes the exception type unless the error is one of
ours whose text is already written for the user (`UserFacingError` subclasses).
"""

from __future__ import annotations

MAX_CHARS = 300


class UserFacingError(Exception):
    """An error whose str() is already a one-line reason a user can act on."""


def first_line(e: BaseException, limit: int = MAX_CHARS) -> str:
    """The first non-blank line of str(e), stripped and cut at `limit` (the type name if empty)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (lines[0] if lines else type(e).__name__)[:limit]


def one_line_error(e: BaseException) -> str:
    """A user-facing one-liner: ours as written, anything else as 'Type: message'."""
    if isinstance(e, UserFacingError):
        return str(e)
    msg = " ".join(str(e).split())[:MAX_CHARS] or "no message"
    return f"{type(e).__name__}: {msg}"

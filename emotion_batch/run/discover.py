"""Find the videos under an input path and describe each as a unit of work."""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from emotion_batch.media import MediaError, MediaInfo, fingerprint, probe

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .mkv .avi .webm .flv .m4v .mpg .mpeg .wmv .ts .m2ts .mts .3gp .ogv .mxf".split()
)
# audio-only recordings (an interview) are analysed too, as voice-only timelines
AUDIO_EXTENSIONS = frozenset(".m4a .mp3 .wav .aac .flac .ogg .opus".split())
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


def discover(input_path: str | Path) -> list[str]:
    """A file is taken as given (whatever its extension); a folder is walked recursively
    for video and audio extensions, skipping hidden entries. Sorted absolute paths; symlinks keep
    their own names (a dangling one is reported as unreadable, not silently dropped)."""
    p = Path(input_path).expanduser()
    if not p.exists() and not p.is_symlink():
        raise FileNotFoundError(f"input not found: {p}")
    if not p.is_dir():  # a file, or a FIFO/socket/device given by name: describe() refuses those
        return [os.path.abspath(p)]
    found = []
    for root, dirs, files in os.walk(p):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in MEDIA_EXTENSIONS:
                found.append(os.path.abspath(os.path.join(root, name)))  # keep link names
    return sorted(found)


@dataclass
class WorkItem:
    """One video to analyse (or a failure already known before decoding)."""

    path: str
    video_id: str
    size_bytes: int
    info: MediaInfo | None  # None when probing failed
    error: str | None = None
    duplicate_of: str | None = None  # set by plan(): an earlier path with the same content

    @property
    def duration_s(self) -> float:
        return self.info.duration_s if self.info else 0.0


def _path_id(path: str) -> str:
    import hashlib

    return "path-" + hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()[:11]


_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"))


def special_file(path: str) -> str | None:
    """Why `path` is not analysed when it is a FIFO, socket or device (reading one can block
    forever or never end), else None. Uses stat only: nothing is opened."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None  # missing or unreadable: reported by the read itself
    for test, what in _SPECIAL:
        if test(mode):
            return f"not a regular file ({what}); only video and audio files are analysed"
    return None


def describe(path: str) -> WorkItem:
    """Fingerprint and probe one file; never raises. Special files (FIFO, socket, device) are
    refused before anything opens them."""
    if (why := special_file(path)) is not None:
        log.info("refused %s: %s", path, why)
        return WorkItem(path, _path_id(path), 0, None, why)
    try:
        size = os.path.getsize(path)
        vid = fingerprint(path)
    except OSError as e:
        log.info("cannot read %s: %r", path, e)
        return WorkItem(path, _path_id(path), 0, None, f"cannot read the file: {e.strerror or e}")
    try:
        return WorkItem(path, vid, size, probe(path))
    except MediaError as e:
        log.info("cannot probe %s: %s (technical detail: %s)", path, e, e.detail)
        return WorkItem(path, vid, size, None, str(e))

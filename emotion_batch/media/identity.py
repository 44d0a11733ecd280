"""A file's content id (the `video_id` of every table).

The id is the first 32 hex digits (128 bits) of the SHA-256 of the whole file, streamed in
1 MiB reads: two files that differ in any byte get different ids, and the same bytes get the
same id wherever the file sits (`sha256sum FILE | cut -c1-32` gives it too). SHA-256 was
measured the fastest of hashlib's hashes on x86 with SHA extensions (benchmarks/identity.py:
about 1 GB/s from the page cache, against ~600 MB/s for BLAKE2b); it releases the GIL while
it hashes. Reading every byte costs one extra pass over the input, small against the
analysis (see docs/design-notes.md, "Content identity", for the figures).

Before this scheme the id hashed three 4 MiB blocks and the size, so two files differing
only between those blocks collided; results written by those versions have other ids and
are analysed again once.
"""

from __future__ import annotations

import hashlib

READ_BYTES = 1 << 20
ID_HEX = 32


def fingerprint(path: str, read_bytes: int = READ_BYTES) -> str:
    """The content id of `path`: sha256 of every byte, first 32 hex digits. Raises OSError."""
    h = hashlib.sha256()
    buf = bytearray(read_bytes)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()[:ID_HEX]

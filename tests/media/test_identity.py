"""Content ids: any changed byte changes the id; the same bytes anywhere give the same id."""

from __future__ import annotations

import hashlib
import os

from emotion_batch.media.identity import ID_HEX, fingerprint


def test_a_change_in_the_middle_of_a_large_file_changes_the_id(tmp_path):
    # the case that collided before: 28 MB, 2 MB changed in the middle (the old id read
    # only three 4 MiB blocks at the start, middle and end, plus the size)
    data = bytearray(os.urandom(28 << 20))
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(bytes(data))
    data[6 << 20 : 8 << 20] = os.urandom(2 << 20)
    b.write_bytes(bytes(data))
    assert fingerprint(str(a)) != fingerprint(str(b))


def test_a_single_byte_changes_the_id(tmp_path):
    data = bytearray(os.urandom(3 << 20))
    a = tmp_path / "a.bin"
    a.write_bytes(bytes(data))
    ids = {fingerprint(str(a))}
    for pos in (0, len(data) // 2 + 12345, len(data) - 1):
        changed = bytearray(data)
        changed[pos] ^= 1
        a.write_bytes(bytes(changed))
        ids.add(fingerprint(str(a)))
    assert len(ids) == 4


def test_id_is_the_sha256_of_the_content_whatever_the_read_size(tmp_path):
    data = os.urandom((1 << 20) * 2 + 17)  # not a multiple of the read size
    p = tmp_path / "sub dir" / "name ü.mp4"
    p.parent.mkdir()
    p.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()[:ID_HEX]
    assert ID_HEX >= 16
    assert fingerprint(str(p)) == want == fingerprint(str(p), read_bytes=4096)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert fingerprint(str(empty)) == hashlib.sha256(b"").hexdigest()[:ID_HEX]

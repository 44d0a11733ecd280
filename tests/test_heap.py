import sys

import pytest

from emotion_batch import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_returns_freed_heap_memory_on_glibc():
    import numpy as np

    blocks = [np.ones(50_000, np.float64) for _ in range(200)]  # 400 kB each: heap, not mmap
    del blocks
    assert heap.trim() in (True, False)  # callable and safe
    assert heap._libc is not None  # this machine's libc is glibc: trimming is active

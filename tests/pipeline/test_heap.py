import sys

import pytest

from emotion_batch.pipeline import heap


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_trim_returns_freed_heap_memory_on_glibc():
    import numpy as np

    blocks = [np.ones(12_000, np.float64) for _ in range(2000)]  # 96 kB each: on the heap, not mmap'd
    del blocks
    assert heap.trim() is True  # glibc found and it released the freed pages

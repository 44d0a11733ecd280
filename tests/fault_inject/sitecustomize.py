"""Test-only fault injection for CLI runs in a subprocess and every Ray worker they start
(they inherit PYTHONPATH and the environment): with EMOTION_BATCH_TEST_DISK_FULL set to a
path, once that path exists every results write fails as a full disk does (ENOSPC)."""

import os

_FLAG = os.environ.get("EMOTION_BATCH_TEST_DISK_FULL")

if _FLAG:
    import errno

    from emotion_batch.run.storage import store as _store

    _real_write = _store.ResultStore.write

    def _write(self, table, video_id, data, model_version):
        if os.path.exists(_FLAG):
            raise OSError(errno.ENOSPC, f"Failed to open local file '{self.root}/{table}/.x.tmp'. Detail: "
                                        "[errno 28] No space left on device")
        return _real_write(self, table, video_id, data, model_version)

    _store.ResultStore.write = _write

"""Units of work without Ray: segment files on storage, merging from them, CUDA OOM retries."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from emotion_batch.config import RunConfig
from emotion_batch.pipeline import VideoResult
from emotion_batch.run.discover import describe
from emotion_batch.run.storage.segments import merge_segments, plan_segments
from emotion_batch.run.storage.store import ResultStore
from emotion_batch.schemas import prob_columns
from emotion_batch.run.context import RunContext
from emotion_batch.run.storage.segment_files import SegmentFiles
from emotion_batch.run.units import Unit, UnitRunner, is_cuda_oom, slim


@pytest.fixture(scope="module")
def analyzer():
    """A cheaper analyzer than conftest's (2 frames per second); explain stays on, so that
    segments carry attributions too."""
    from emotion_batch.pipeline import VideoAnalyzer

    return VideoAnalyzer(RunConfig.from_flat(device="cpu", fps=2.0, explain="sample", explain_every=1))


def _ctx(store, config, model_version="m1"):
    return RunContext(store, config, model_version, config.config_hash())


@pytest.fixture
def item(made_videos):
    return describe(made_videos["face"][0])  # 3 s, a face, audio


def test_segments_written_as_they_finish_merge_like_in_memory(analyzer, item, tmp_path):
    store = ResultStore(str(tmp_path / "out"))
    runner = UnitRunner(analyzer, _ctx(store, analyzer.config, analyzer.model_version))
    segs = plan_segments(item.duration_s, 1)
    units = [Unit(slim(item), s, len(segs)) for s in segs]
    in_memory = []
    for u in units:
        assert runner.run_segment(u) is None
        assert runner.segments.exists(item.video_id, u.segment.index)
        in_memory.append((u.segment, analyzer(item.path, item.video_id, start_s=u.segment.start_s,
                                              end_s=u.segment.end_s, info=item.info)))
    files = SegmentFiles(store)
    assert files.usable(item.video_id, segs, analyzer.model_version, analyzer.config.config_hash()) == {0, 1, 2}
    parts, started = files.read(item, segs)
    assert isinstance(started, str) and started.endswith("+00:00")  # the earliest segment's start
    for (seg, r), (seg2, r2) in zip(parts, in_memory):
        assert seg == seg2
        assert r.timeline.schema.remove_metadata() == r2.timeline.schema.remove_metadata()
        assert r.timeline.num_rows == r2.timeline.num_rows
        assert r.attributions.num_rows == r2.attributions.num_rows
        assert (r.faces_found, r.face_seconds, r.av_method) == (r2.faces_found, r2.face_seconds, r2.av_method)
    row = runner.merge(item, segs, {})
    assert row.ok and row.faces_found == merge_segments(in_memory, analyzer.config.track_iou).faces_found
    assert store.is_done(item.video_id, analyzer.model_version, analyzer.config.config_hash())
    assert not files.exists(item.video_id, 0)  # segment files go once the video is written
    # the merged file equals the in-memory merge; the two analyses of a segment are the same
    # code on the same input, but compare with a float tolerance all the same (batching may differ)
    merged = store.read("timelines", item.video_id)
    expect = merge_segments(in_memory, analyzer.config.track_iou).timeline
    assert merged.num_rows == expect.num_rows
    for col in ("second", "face_id", "n_frames"):
        assert merged[col].to_pylist() == expect[col].to_pylist()
    for col in prob_columns("v"):
        a = [x for x in merged[col].to_pylist() if x is not None]
        assert a == pytest.approx([x for x in expect[col].to_pylist() if x is not None], abs=1e-5)


def test_segment_files_of_other_settings_are_not_reused(analyzer, item, tmp_path):
    store = ResultStore(str(tmp_path / "out"))
    runner = UnitRunner(analyzer, _ctx(store, analyzer.config, analyzer.model_version))
    segs = plan_segments(item.duration_s, 1)
    assert runner.run_segment(Unit(item, segs[0], len(segs))) is None
    files = SegmentFiles(store)
    other = dataclasses.replace(analyzer.config, fps=3.0).config_hash()
    assert files.usable(item.video_id, segs, analyzer.model_version, other) == set()
    assert not files.exists(item.video_id, 0)  # stale: deleted
    assert runner.run_segment(Unit(item, segs[0], len(segs))) is None
    assert files.usable(item.video_id, plan_segments(item.duration_s, 2), analyzer.model_version,
                        analyzer.config.config_hash()) == set()  # other --segment-s: other bounds


def test_a_failed_segment_fails_the_video_and_keeps_the_others_for_a_resume(analyzer, item, tmp_path):
    store = ResultStore(str(tmp_path / "out"))
    runner = UnitRunner(analyzer, _ctx(store, analyzer.config, analyzer.model_version))
    segs = plan_segments(item.duration_s, 1)
    assert runner.run_segment(Unit(item, segs[0], len(segs))) is None
    row = runner.merge(item, segs, {1: "decode error"})
    assert not row.ok and row.error == "segment 1 [1 s, 2 s): decode error"
    assert runner.segments.exists(item.video_id, 0)


class FakeAnalyzer:
    """Runs out of CUDA memory while chunks are bigger than `fits` frames."""

    model_version, device = "m1", "cuda"

    def __init__(self, config: RunConfig, fits: int):
        self.config, self.fits = config, fits
        self.seen: list[int] = []  # chunk sizes tried; shared with the copies the runner makes

    def with_chunk_frames(self, chunk_frames):
        other = FakeAnalyzer(dataclasses.replace(self.config, chunk_frames=chunk_frames), self.fits)
        other.seen = self.seen
        return other

    def __call__(self, path, video_id, *, start_s=0.0, end_s=None, info=None, hook=None):
        self.seen.append(self.config.chunk_frames)
        if self.config.chunk_frames > self.fits:
            return VideoResult(video_id, path, "failed", "OutOfMemoryError: CUDA out of memory. Tried to allocate 2 GiB")
        return VideoResult(video_id, path, "ok", timeline=pa.table({"second": [0]}))


def _runner(fits: int, tmp_path) -> tuple[UnitRunner, list[int], list[str]]:
    fake = FakeAnalyzer(RunConfig(device="cpu", chunk_frames=32), fits)
    messages: list[str] = []
    runner = UnitRunner(fake, _ctx(ResultStore(str(tmp_path)), fake.config), echo=messages.append)
    return runner, fake.seen, messages


def test_cuda_out_of_memory_is_retried_with_smaller_chunks(tmp_path):
    runner, seen, messages = _runner(fits=5, tmp_path=tmp_path)
    item = describe(str(tmp_path / "missing.mp4"))
    result = runner.analyse(Unit(dataclasses.replace(item, error=None)))
    assert result.ok
    assert seen == [32, 16, 8, 4]
    assert len(messages) == 3 and "retrying with --chunk-frames 16" in messages[0]
    assert runner.ctx.config.chunk_frames == 32 == runner.analyzer.config.chunk_frames  # the run's config is untouched


def test_cuda_out_of_memory_fails_once_a_single_frame_does_not_fit(tmp_path):
    runner, seen, _ = _runner(fits=0, tmp_path=tmp_path)
    item = describe(str(tmp_path / "missing.mp4"))
    result = runner.analyse(Unit(item))
    assert not result.ok
    assert seen == [32, 16, 8, 4, 2, 1]
    assert result.error.startswith("CUDA out of memory even with --chunk-frames 1: OutOfMemoryError")


def test_only_cuda_out_of_memory_counts_as_such():
    assert is_cuda_oom("OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB")
    assert is_cuda_oom("RuntimeError: CUDA error: out of memory")
    assert not is_cuda_oom("MemoryError: ")  # host memory: not retried with smaller chunks
    assert not is_cuda_oom(None)


def test_a_video_whose_row_never_reached_the_driver_gets_exactly_one(tmp_path):
    """The driver's settling of `Ledger.undelivered` (no Ray, no timing): a video whose worker
    wrote its row counts with that row; one with no row written is recorded failed (on
    storage too, so a rerun redoes it), never left without a row."""
    from emotion_batch.run.record import record, settle_undelivered
    from emotion_batch.run.distributed.ledger import Awaited
    from emotion_batch.run.storage.manifest import now_utc
    from emotion_batch.schemas import TABLES

    store = ResultStore(str(tmp_path / "out"))
    config = RunConfig(device="cpu")
    empty = pa.Table.from_pylist([], schema=TABLES["timelines"])
    ctx = _ctx(store, config, "mv")
    result = VideoResult("b", "/b.mp4", "ok", timeline=empty)
    written = record(ctx, result, started_at=now_utc())
    assert written.t_write is not None and result.timings == {}  # the row has the write time; the result is as built
    row, stored = settle_undelivered(ctx, Awaited("b", "/b.mp4", 20, written=True))
    assert stored and row == written
    row, stored = settle_undelivered(ctx, Awaited("c", "/c.mp4", 30))
    assert not stored and (row.status, row.size_bytes) == ("failed", 30)
    assert row.error == "worker lost while analysing /c.mp4; no result came back: run again to retry it"
    assert store.done_record("c").status == "failed"
    # the ledger saw it written, but storage has no readable row: failed as well, not dropped
    row, stored = settle_undelivered(ctx, Awaited("d", "/d.mp4", 40, written=True))
    assert not stored and row.status == "failed" and store.done_record("d").status == "failed"
    assert sorted(store.video_ids()) == ["b", "c", "d"]

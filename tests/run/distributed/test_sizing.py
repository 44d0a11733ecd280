"""Sizing the actor pool and the driver's summary (no cluster started)."""

from __future__ import annotations

import pytest

from emotion_batch.config import ConfigError, RunConfig
from emotion_batch.run.distributed.sizing import DEFAULT_SEGMENT_S, FILL_SEGMENT_S, segment_length, size_actors
from emotion_batch.run.engine import EngineConfig
from emotion_batch.run.record import BatchSummary
from emotion_batch.run.storage.manifest import ManifestRow


def size(config, totals, fixed=False, **kw):
    msgs: list[str] = []
    opts = dict(min_actors=1, max_actors=None, cpus_per_actor=None, gpus_per_actor=1.0, resources=None, concurrency=1)
    opts.update(kw)
    engine = EngineConfig(min_actors=opts["min_actors"], actors=opts["max_actors"], cpus_per_actor=opts["cpus_per_actor"],
                          gpus_per_actor=opts["gpus_per_actor"], resources=opts["resources"],
                          actor_concurrency=opts["concurrency"])
    shape = size_actors(engine, config, totals=totals, max_node_cpus=8, n_paths=100, fixed_cluster=fixed,
                        echo=msgs.append)
    return shape, msgs


def test_cuda_actors_wait_for_gpus_that_are_not_there_yet():
    """An autoscaling cluster starts without its GPU nodes: --device cuda must not fall
    back to CPU actors; the pool starts empty-handed and the actors wait for GPUs."""
    shape, msgs = size(RunConfig(device="cuda"), {"CPU": 2.0}, cpus_per_actor=4)
    assert (shape.num_gpus, shape.num_cpus) == (1.0, 4)
    assert shape.max_size is None and shape.min_size == 1
    assert any("waiting for nodes to join" in m for m in msgs)


def test_auto_device_without_gpus_says_it_uses_cpu_actors():
    shape, msgs = size(RunConfig(device="auto"), {"CPU": 16.0})
    assert shape.num_gpus == 0 and shape.num_cpus == 4
    assert shape.initial == 4  # as many as fit now (16 CPUs / 4)
    assert any("no GPU now" in m and "--device cuda" in m for m in msgs)


def test_gpu_cluster_gets_one_actor_per_gpu_and_grows_with_it():
    shape, msgs = size(RunConfig(device="auto"), {"CPU": 32.0, "GPU": 4.0}, cpus_per_actor=6)
    assert (shape.num_gpus, shape.num_cpus, shape.torch_threads, shape.initial) == (1.0, 6, 6, 4)
    assert shape.max_size is None
    assert not msgs


def test_units_running_at_once_share_the_actors_threads():
    """Each of the units an actor runs at once gets CPUs // concurrency torch / onnxruntime
    threads, at least one: no more busy threads than the actor has CPUs."""
    # (CPUs per actor (None: as the node allows, 4 here), units at once, threads per unit)
    for cpus, concurrency, threads in [(None, 1, 4), (None, 2, 2), (2, 2, 1), (2, 1, 2), (4, 3, 1), (1, 2, 1)]:
        shape, _ = size(RunConfig(device="cpu"), {"CPU": 16.0}, cpus_per_actor=cpus, concurrency=concurrency)
        assert shape.torch_threads == threads, (cpus, concurrency)


def test_a_fixed_cluster_that_cannot_fit_the_actors_is_an_error():
    with pytest.raises(ConfigError, match="no room for 1 analysis worker"):
        size(RunConfig(device="cuda"), {"CPU": 2.0}, fixed=True)
    with pytest.raises(ConfigError, match="no room for 3 analysis workers"):
        size(RunConfig(device="cpu"), {"CPU": 2.0}, fixed=True, cpus_per_actor=1, min_actors=3)
    with pytest.raises(ConfigError, match="--min-actors"):
        size(RunConfig(device="cpu"), {"CPU": 8.0}, min_actors=3, max_actors=2)


def test_min_max_and_initial_size():
    shape, _ = size(RunConfig(device="cpu"), {"CPU": 8.0}, cpus_per_actor=1, min_actors=2, max_actors=3)
    assert (shape.min_size, shape.max_size, shape.initial) == (2, 3, 3)
    assert shape.describe() == "2 to 3 analysis workers (1 CPU each, starting with 3)"


def _row(ok: bool, i: int) -> ManifestRow:
    return ManifestRow(video_id=f"v{i}", path=f"/v{i}.mp4", size_bytes=1, status="ok" if ok else "failed",
                       error=None if ok else "bad", warning=None, duration_s=2.0, fps=5.0, n_frames=10, width=64,
                       height=48, has_video=True, has_audio=False, faces_found=0, face_seconds=0, av_offset_s=None,
                       av_confidence=None, av_method=None, model_version="m", config_hash="c", config_json=None,
                       schema_version="1", t_detect=0.5)


def test_the_summary_keeps_failures_and_totals_but_not_every_row():
    s = BatchSummary(keep_ok=3)
    for i in range(10):
        s.add(_row(True, i))
    s.add(_row(False, 10))
    assert s.n_ok == 10 and len(s.rows) == 4
    assert [r.video_id for r in s.failed] == ["v10"]
    assert s.video_seconds == 20.0
    assert s.stage_totals()["detect"] == pytest.approx(5.5)


def test_an_embedded_ray_that_cannot_start_is_one_line_with_what_to_try(monkeypatch):
    import ray

    from emotion_batch.config import ConfigError
    from emotion_batch.run.distributed import connect as distributed
    from emotion_batch.run.distributed.connect import connect

    def failing_init(*a, **kw):
        raise RuntimeError("Failed to start the GCS server.\n  File gcs_server.cc:120 ... (a page of detail)")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", failing_init)
    monkeypatch.setattr(distributed, "_force_loopback", lambda: None)  # no process-wide Ray settings
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.raises(ConfigError) as e:
        connect(None)
    msg = str(e.value)
    assert "\n" not in msg and "Failed to start the GCS server" in msg
    assert "ray stop" in msg and "--engine local" in msg


def test_segments_are_cut_finer_only_when_slots_would_sit_idle():
    said = []
    # one long video, one actor running two units at once: two slots, so 60 s segments
    assert segment_length(None, 1, 2, said.append) == FILL_SEGMENT_S == 60.0
    assert said and "split into 60 s parts" in said[0]
    # as many files as slots, or more: the usual length, nothing said
    said.clear()
    assert segment_length(None, 2, 2, said.append) == DEFAULT_SEGMENT_S == 300.0
    assert segment_length(None, 40, 8, said.append) == DEFAULT_SEGMENT_S and not said
    # an explicit --segment-s always wins
    assert segment_length(120.0, 1, 16, said.append) == 120.0 and not said

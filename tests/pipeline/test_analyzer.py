import numpy as np
import pyarrow as pa
import pytest

from emotion_batch.config import ConfigError
from emotion_batch.pipeline import VideoAnalyzer, resolve_device
from emotion_batch.schemas import TIMELINE_SCHEMA


def test_face_video_gives_one_track_per_second(analyzer, made_videos):
    res = analyzer(made_videos["face"][0])
    assert res.ok, res.error
    rows = res.timeline.to_pylist()
    assert res.timeline.schema == TIMELINE_SCHEMA
    assert [(r["face_id"], r["second"]) for r in rows] == [(0, 0), (0, 1), (0, 2)]
    assert all(r["n_frames"] == 5 for r in rows)  # 5 analysed fps
    for r in rows:
        p = np.array([r[f"p_{k}"] for k in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")])
        assert p.sum() == pytest.approx(1.0, abs=1e-4) and r["face_score"] > 0.9
    assert res.faces_found == 1 and res.face_seconds == 3
    assert set(res.timings) >= {"decode", "detect", "align", "models", "total"}


def test_noface_video_has_only_no_face_rows(analyzer, made_videos):
    res = analyzer(made_videos["noface"][0])
    assert res.ok
    rows = res.timeline.to_pylist()
    assert [(r["face_id"], r["second"]) for r in rows] == [(-1, 0), (-1, 1)]
    assert res.faces_found == 0


def test_vfr_video(analyzer, made_videos):
    res = analyzer(made_videos["vfr"][0])
    assert res.ok
    rows = res.timeline.to_pylist()
    assert sorted({r["second"] for r in rows if r["face_id"] == 0}) == [0, 1, 2]
    # the last frame (t=2.95, shown for 0.15 s) reaches into second 3, which gets a row too
    assert max(r["second"] for r in rows) == int(res.info.duration_s)


def test_segments_give_the_same_rows(analyzer, made_videos):
    path = made_videos["face"][0]
    whole = analyzer(path).timeline
    parts = pa.concat_tables([analyzer(path, start_s=s, end_s=s + 1).timeline for s in range(3)])
    assert parts.column("second").to_pylist() == whole.column("second").to_pylist()
    # chunks differ (15 frames vs 3 x 5), so convolutions batch differently: float noise only
    np.testing.assert_allclose(parts.column("p_happy").to_numpy(), whole.column("p_happy").to_numpy(), atol=1e-3)


def test_bad_file_is_a_failed_result_not_an_exception(analyzer, tmp_path):
    p = tmp_path / "junk.mp4"
    p.write_bytes(b"\x00" * 1000)
    res = analyzer(str(p))
    assert res.status == "failed" and "\n" not in res.error and res.timeline is None


def test_hook_sees_every_stage_with_its_typed_artifact(made_videos):
    import pyarrow as pa

    from emotion_batch.audio.analyse import SecondAudio
    from emotion_batch.config import RunConfig
    from emotion_batch.fusion.timeline import Timeline
    from emotion_batch.media import FrameChunk, MediaInfo
    from emotion_batch.pipeline import AlignedFaces, ChunkFaces
    from emotion_batch.sync import SyncAnalysis

    seen = []
    a = VideoAnalyzer(RunConfig(device="cpu", chunk_frames=4))
    res = a(made_videos["face"][0], hook=lambda step, art, **kw: seen.append((step, art, kw)))
    assert res.ok, res.error
    steps = [s for s, _, _ in seen]
    # 15 analysed frames in chunks of 4: four chunks, each decoded, detected and aligned
    assert steps == ["probe"] + ["frames", "faces", "align"] * 4 + ["sync", "audio", "timeline", "explain"]
    kinds = {"probe": MediaInfo, "frames": FrameChunk, "faces": ChunkFaces, "align": AlignedFaces,
             "sync": SyncAnalysis, "audio": SecondAudio, "timeline": Timeline, "explain": pa.Table}
    assert all(isinstance(art, kinds[s]) for s, art, _ in seen)
    progress = [kw for s, _, kw in seen if "completed" in kw]
    assert len(progress) == 4 and all(s == "faces" for s, _, kw in seen if "completed" in kw)
    assert [p["completed"] for p in progress] == sorted(p["completed"] for p in progress)
    assert progress[-1]["completed"] <= progress[-1]["total"]
    timeline = next(art for s, art, _ in seen if s == "timeline")
    assert timeline.to_arrow().equals(res.timeline)


def test_device_resolution():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            resolve_device("cuda")


def test_seconds_outside_the_audio_track_have_no_audio(analyzer, tmp_path):
    from videogen import make_video, tone

    path = tmp_path / "short_audio.mp4"
    make_video(path, seconds=4.0, fps=10, audio=tone(1.6))  # audio ends at 1.6 s, video at 4 s
    rows = analyzer(str(path)).timeline.to_pylist()
    with_audio = sorted({r["second"] for r in rows if r["a_neutral"] is not None})
    assert with_audio == [0, 1]  # middles 0.5 and 1.5 lie inside the track; 2.5 and 3.5 do not
    assert all(r["speech"] == 0.0 for r in rows if r["second"] >= 2)

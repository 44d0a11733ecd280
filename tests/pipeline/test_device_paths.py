"""The GPU code path, checked on the CPU: device selection, batching and dtypes."""

import numpy as np
import pytest
import torch

from emotion_batch.config import ConfigError, RunConfig
from emotion_batch.vision.detect import FaceDetector
from emotion_batch.pipeline import VideoAnalyzer
from videogen import face_photo


def _frames(n=4):
    f = np.full((240, 320, 3), 90, np.uint8)
    f[:, 40:280] = face_photo(240)
    return np.stack([np.roll(f, 3 * k, axis=1) for k in range(n)])


def test_detector_batch_equals_single_frames_and_accepts_tensors():
    det = FaceDetector(torch.device("cpu"))
    frames = _frames()
    batched = det.detect(torch.from_numpy(frames))  # a uint8 tensor, as the GPU path passes it
    single = [det.detect(frames[i : i + 1])[0] for i in range(len(frames))]
    for b, s in zip(batched, single):
        assert len(b) == len(s) == 1
        np.testing.assert_allclose(b.boxes, s.boxes, atol=0.5)
        np.testing.assert_allclose(b.landmarks, s.landmarks, atol=0.5)
        assert b.boxes.dtype == np.float32 and b.landmarks.dtype == np.float32


def test_chunk_size_does_not_change_the_timeline(made_videos):
    path = made_videos["face"][0]
    a = VideoAnalyzer(RunConfig(device="cpu", chunk_frames=1, explain="none"))(path).timeline
    b = VideoAnalyzer(RunConfig(device="cpu", chunk_frames=32, explain="none"))(path).timeline
    assert a.column("face_id").to_pylist() == b.column("face_id").to_pylist()
    np.testing.assert_allclose(a.column("v_happy").to_numpy(), b.column("v_happy").to_numpy(), atol=1e-3)


def test_models_live_on_the_resolved_device():
    a = VideoAnalyzer(RunConfig(device="cpu"))
    for model in (a.visual, a.audio, a.detector.mtcnn):
        assert {p.device.type for p in model.parameters()} == {"cpu"}
        assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is visible")
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_gpu_is_a_clear_error(device):
    with pytest.raises(ConfigError, match="no CUDA GPU is visible; use --device cpu or auto"):
        VideoAnalyzer(RunConfig(device=device))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_path_matches_cpu(made_videos):
    path = made_videos["face"][0]
    cpu = VideoAnalyzer(RunConfig(device="cpu", explain="none"))(path).timeline
    gpu = VideoAnalyzer(RunConfig(device="cuda", explain="none"))(path).timeline
    np.testing.assert_allclose(cpu.column("v_happy").to_numpy(), gpu.column("v_happy").to_numpy(), atol=1e-2)

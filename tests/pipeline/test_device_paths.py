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
    a = VideoAnalyzer(RunConfig.from_flat(device="cpu", chunk_frames=1, explain="none"))(path).timeline
    b = VideoAnalyzer(RunConfig.from_flat(device="cpu", chunk_frames=32, explain="none"))(path).timeline
    assert a.column("face_id").to_pylist() == b.column("face_id").to_pylist()
    np.testing.assert_allclose(a.column("v_happy").to_numpy(), b.column("v_happy").to_numpy(), atol=1e-3)


def test_models_live_on_the_resolved_device():
    a = VideoAnalyzer(RunConfig(device="cpu", runtime="torch"))
    for model in (a.visual, a.audio, a.detector.pnet, a.detector.rnet, a.detector.onet):
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
    cpu = VideoAnalyzer(RunConfig.from_flat(device="cpu", explain="none"))(path).timeline
    gpu = VideoAnalyzer(RunConfig.from_flat(device="cuda", explain="none"))(path).timeline
    np.testing.assert_allclose(cpu.column("v_happy").to_numpy(), gpu.column("v_happy").to_numpy(), atol=1e-2)


def test_analyzer_runtime_wraps_inference_but_keeps_torch_for_explanations():
    """--runtime onnx runs detection and the experts' inference in onnxruntime; attribution
    needs gradients, so the analyzer keeps the torch modules beside the sessions."""
    from emotion_batch.models.runtime import OrtNet

    a = VideoAnalyzer(RunConfig(device="cpu", runtime="onnx"))
    assert a.runtime.name == "onnx"
    for net in (a.visual_net, a.audio_net, a.detector.pnet, a.detector.rnet, a.detector.onet):
        assert isinstance(net, OrtNet)
    for model in (a.visual, a.audio):
        assert isinstance(model, torch.nn.Module) and all(p.requires_grad for p in model.parameters())
    t = VideoAnalyzer(RunConfig(device="cpu", runtime="torch"))
    assert t.visual_net is t.visual and t.audio_net is t.audio
    for net in (t.detector.pnet, t.detector.rnet, t.detector.onet):
        assert isinstance(net, torch.nn.Module) and not net.training


def test_onnx_and_torch_runtimes_give_the_same_timeline(made_videos):
    path = made_videos["face"][0]
    a = VideoAnalyzer(RunConfig.from_flat(device="cpu", runtime="torch", explain="all"))(path)
    b = VideoAnalyzer(RunConfig.from_flat(device="cpu", runtime="onnx", explain="all"))(path)
    assert a.ok and b.ok and a.face_seconds == b.face_seconds
    ta, tb = a.timeline, b.timeline
    assert ta.column("face_id").to_pylist() == tb.column("face_id").to_pylist()
    # float32 rounding in the nets moves boxes by ~1e-4 px and probabilities by ~1e-6; 1e-3
    # (as for chunk sizes above) is far below any real difference between the paths
    for col in ("v_happy", "v_neutral", "a_neutral", "p_happy"):
        np.testing.assert_allclose(ta.column(col).to_numpy(), tb.column(col).to_numpy(), atol=1e-3)
    # explanations ran (through the torch models) under both runtimes, for the same rows
    assert b.attributions.num_rows == a.attributions.num_rows > 0
    np.testing.assert_allclose(a.attributions.column("shap_visual").to_numpy(),
                               b.attributions.column("shap_visual").to_numpy(), atol=1e-3)

"""The committed ONNX exports compute what the torch nets compute, and are up to date.

Tolerances: onnxruntime and torch sum in different orders (and fuse conv + BN / PReLU), so
float32 outputs differ by rounding only: measured <= 3e-6 on these nets; 1e-4 absolute (on
probabilities and box regressions of order 1) leaves room for other CPUs' kernels and still
fails on any real graph difference (a wrong pad, axis or op moves outputs by >= 1e-2).
"""

import numpy as np
import pytest
import torch

from emotion_batch.models.runtime import SPECS, OrtNet, Runtime, StaleExportError
from emotion_batch.models.runtime.export import example_input
from emotion_batch.models.runtime.specs import torch_net, weights_digest

TOL = 1e-4

SHAPES = {
    "pnet": [(1, 3, 12, 12), (3, 3, 151, 203), (8, 3, 97, 58)],  # pyramid levels: any H, W
    "rnet": [(1, 3, 24, 24), (7, 3, 24, 24), (64, 3, 24, 24)],
    "onet": [(1, 3, 48, 48), (7, 3, 48, 48), (64, 3, 48, 48)],
    "visual": [(1, 1, 64, 64), (7, 1, 64, 64), (64, 1, 64, 64)],
    "audio": [(1, 64, 200), (7, 64, 157), (3, 64, 16)],  # any window length >= 16 frames
}


def _tuple(y):
    return y if isinstance(y, tuple) else (y,)


def _random(shape, name, seed):
    g = torch.Generator().manual_seed(seed)
    if name == "audio":
        return torch.randn(shape, generator=g) * 3 - 5
    return torch.rand(shape, generator=g) * 2 - 1


@pytest.fixture(scope="module")
def nets():
    rt = Runtime.resolve("onnx", "cpu")
    out = {}
    for name in SPECS:
        module = torch_net(name)
        out[name] = (module, rt.net(name, module))
    return out


@pytest.mark.parametrize("name", list(SPECS))
def test_onnx_matches_torch_on_every_input_shape(nets, name):
    module, ort_net = nets[name]
    assert isinstance(ort_net, OrtNet)
    for k, shape in enumerate(SHAPES[name]):
        x = _random(shape, name, k)
        with torch.no_grad():
            want = _tuple(module(x))
        got = _tuple(ort_net(x))
        assert len(got) == len(want) == len(SPECS[name].outputs)
        for w, g in zip(want, got):
            assert g.dtype == torch.float32 and g.device.type == "cpu" and g.shape == w.shape
            assert float((w - g).abs().max()) < TOL, (name, shape)


def test_ort_net_takes_other_float_dtypes_and_refuses_non_cpu_tensors(nets):
    module, ort_net = nets["visual"]
    x = _random((2, 1, 64, 64), "visual", 0)
    np.testing.assert_allclose(ort_net(x.double()).numpy(), ort_net(x).numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="runs on the CPU"):
        ort_net(x.to("meta"))


def test_a_stale_export_is_refused():
    """ONNX made from other weights than the package's must not run silently."""
    module = torch_net("visual")
    with torch.no_grad():
        module.head.bias += 0.1
    with pytest.raises(StaleExportError, match="export_onnx.py"):
        Runtime.resolve("onnx", "cpu").net("visual", module)
    # under auto (the default) the net falls back to its torch module, with a warning
    with pytest.warns(UserWarning, match="exported from other weights.*running visual in torch"):
        assert Runtime.resolve("auto", "cpu").net("visual", module) is module


@pytest.mark.parametrize("name", list(SPECS))
def test_committed_exports_are_up_to_date(tmp_path, name):
    """Re-export from the committed weights into a temp dir: the committed file carries the same
    weights digest and gives the same outputs (within rounding, not byte-for-byte)."""
    pytest.importorskip("onnx")
    from emotion_batch.models.runtime.export import export_float

    fresh = OrtNet(export_float(name, tmp_path), threads=1)
    committed = OrtNet(SPECS[name].path(), threads=1)
    assert committed.digest == fresh.digest == weights_digest(torch_net(name))
    x = example_input(name, seed=3)
    for a, b in zip(_tuple(committed(x)), _tuple(fresh(x))):
        assert float((a - b).abs().max()) < 1e-5


def test_int8_tooling_quantises_a_net_close_to_float(tmp_path):
    """The evaluation tooling (no runtime serves int8): static QDQ of R-Net from calibration
    batches stays a working graph of the same weights. Tolerance 0.1 on face probabilities:
    uint8 activations over a calibrated range move them by a few 1e-2 (measured on real crops:
    max 0.26, mean 0.015), so this checks the tooling, not that int8 is good enough."""
    pytest.importorskip("onnx")
    import shutil

    from emotion_batch.models.runtime.quantize import quantize

    shutil.copy(SPECS["rnet"].path(), tmp_path / "rnet.onnx")
    cal = [_random((16, 3, 24, 24), "rnet", k) for k in range(4)]
    q = OrtNet(quantize("rnet", cal, "static", folder=tmp_path), threads=1)
    assert q.path.name == "rnet.int8.onnx" and q.digest == weights_digest(torch_net("rnet"))
    x = _random((16, 3, 24, 24), "rnet", 9)
    with torch.no_grad():
        want = torch_net("rnet")(x)[1]
    assert float((q(x)[1] - want).abs().mean()) < 0.1


def _detections(path: str, runtime: str):
    """Per analysed frame (5 fps), the product detector's boxes, and the face-seconds they give
    through the product's tracker ((track id, second) pairs, as in tests/reference_detect.py)."""
    from emotion_batch.media import iter_frames
    from emotion_batch.vision.detect import FaceDetector
    from emotion_batch.vision.track import IoUTracker

    det, tracker, seen, boxes = FaceDetector(torch.device("cpu"), runtime=runtime), IoUTracker(), set(), []
    for chunk in iter_frames(path, 5.0, 16):
        for t, f in zip(chunk.times, det.detect(chunk.frames)):
            boxes.append(f.boxes)
            seen |= {(int(i), int(np.floor(t))) for i in tracker.update(float(t), f.boxes)}
    return boxes, len(seen)


@pytest.mark.shared
@pytest.mark.slow
@pytest.mark.parametrize("name", ["WolfgangLanger_Pexels.mp4", "face_noface.mov", "noface_face.mov",
                                  "multi_face_walk.mp4", "no_face.mp4", "single_face.mp4"])
def test_onnx_detector_keeps_face_seconds_of_torch(name):
    """The face-seconds parity bar for a runtime: within 1 % of torch on each sample video
    (measured: identical), with every frame's boxes within 0.5 px (rounding moves them ~1e-4 px;
    a box that appears in one runtime only fails the count check)."""
    from conftest import SAMPLE_VIDEOS

    path = str(SAMPLE_VIDEOS / name)
    tb, ts = _detections(path, "torch")
    ob, os_ = _detections(path, "onnx")
    assert abs(os_ - ts) <= 0.01 * ts, (os_, ts)
    assert [len(b) for b in ob] == [len(b) for b in tb]
    for a, b in zip(tb, ob):
        if len(a):
            np.testing.assert_allclose(np.sort(a, 0), np.sort(b, 0), atol=0.5)


@pytest.mark.parametrize("name, max_batch", [("pnet", 1), ("onet", 16), ("audio", 3)])
def test_sliced_sessions_give_the_whole_batch_result(name, max_batch):
    """OrtNet runs inputs larger than max_batch in slices (P-Net frame by frame: its maps stay in
    the cache); rows are independent, so only kernel choice per shape can differ: 1e-5."""
    shape = {"pnet": (5, 3, 61, 87), "onet": (40, 3, 48, 48), "audio": (7, 64, 120)}[name]
    x = _random(shape, name, 4)
    whole = OrtNet(SPECS[name].path(), threads=1)
    sliced = OrtNet(SPECS[name].path(), threads=1, max_batch=max_batch)
    for a, b in zip(_tuple(whole(x)), _tuple(sliced(x))):
        assert a.shape == b.shape and float((a - b).abs().max()) < 1e-5
    assert Runtime.resolve("onnx", "cpu").net(name, torch_net(name)).max_batch == SPECS[name].ort_batch

"""The layering the architecture promises: the per-video pipeline and the stages never import Ray
or the batch/run layer, so they can be tested, profiled and reused alone."""

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "emotion_batch"
STAGES = ("media", "vision", "audio", "sync", "fusion", "explain", "models", "pipeline")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_stages_import_neither_ray_nor_the_run_layer():
    offenders = []
    for stage in STAGES:
        for f in (PKG / stage).rglob("*.py"):
            bad = {m for m in _imports(f) if m.split(".")[0] == "ray" or m.startswith(("emotion_batch.run", "emotion_batch.cli"))}
            offenders += [f"{f.relative_to(PKG)}: {m}" for m in sorted(bad)]
    assert not offenders, offenders


def test_importing_the_pipeline_loads_no_ray():
    code = "import sys, emotion_batch.pipeline; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PKG.parent, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


def test_no_module_is_too_long_to_read_in_one_sitting():
    long = [f"{f.relative_to(PKG)}: {n}" for f in PKG.rglob("*.py") if (n := len(f.read_text().splitlines())) > 450]
    assert not long, long


def test_the_driver_and_planning_tasks_do_not_load_torch():
    """The Ray driver and the planning tasks (fingerprint, probe, split) never run a model:
    importing what they run must not load torch (1.5 GB and seconds per worker process; it
    made every planning worker as heavy as an actor). Only the analysis actor loads it."""
    code = ("import sys, emotion_batch.cli.run, emotion_batch.run.distributed.driver, emotion_batch.run.distributed.planning, emotion_batch.run.core, emotion_batch.run.local.runner; "
            "from emotion_batch.pipeline import VideoResult, model_version; model_version(); "
            "print(sorted(m for m in ('torch', 'torchaudio', 'onnxruntime', 'facenet_pytorch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
    code = "import sys; from emotion_batch.pipeline import VideoAnalyzer; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"  # the lazy package still gives the analyzer


def test_an_onnx_analyzer_does_not_load_torchvision():
    """Under the onnx runtime the detector's nets are onnxruntime sessions: building the analyzer
    must not import facenet-pytorch or torchvision (torchvision's import costs ~1.6 s of CPU in
    every analysis process; vision/mtcnn_ops.py loads the two compiled ops it needs)."""
    code = ("import sys; from emotion_batch.pipeline import VideoAnalyzer; from emotion_batch.config import RunConfig; "
            "a = VideoAnalyzer(RunConfig.from_flat(device='cpu', runtime='onnx', explain='none')); "
            "from emotion_batch.vision import mtcnn_ops; import torch; "
            "b = torch.tensor([[0., 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]]); "
            "keep = mtcnn_ops.nms(b, torch.tensor([0.9, 0.8, 0.7]), 0.5).tolist(); "
            "print(keep, sorted(m for m in ('torchvision', 'facenet_pytorch', 'torch._dynamo') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[0, 2] []", out


def _structure_check():
    spec = importlib.util.spec_from_file_location("structure_check", PKG.parent / "scripts" / "structure_check.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["structure_check"] = mod  # its dataclass looks its module up while it loads
    spec.loader.exec_module(mod)
    return mod


def test_no_part_of_the_package_imports_a_higher_layer():
    """Dependencies point down (scripts/structure_check.py LAYERS): models never import the stages
    that feed them, stages never the pipeline, the pipeline never the run layer; lazy imports
    inside functions count too. Every top-level part must have a layer."""
    fig = _structure_check().measure()
    assert fig.upward_imports == [] and fig.unranked == [], (fig.upward_imports, fig.unranked)


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The check above can fail: a model that lazily imports a stage, a stage that imports the
    pipeline with a relative import, and an unknown part are all reported."""
    check = _structure_check()
    pkg = tmp_path / "emotion_batch"
    for sub in ("models", "vision", "pipeline", "newpart"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "models" / "net.py").write_text("def f():\n    from emotion_batch.vision import detect\n")
    (pkg / "vision" / "detect.py").write_text("from ..pipeline import analyzer\nfrom . import net\n")
    (pkg / "pipeline" / "analyzer.py").write_text("from emotion_batch.models import net\n")
    (pkg / "newpart" / "x.py").write_text("")
    fig = check.measure(pkg)
    assert fig.upward_imports == ["models/net.py: emotion_batch.vision (layer 1 -> 2)",
                                  "vision/detect.py: emotion_batch.pipeline (layer 2 -> 5)"], fig.upward_imports
    assert fig.unranked == ["newpart"]


def test_the_package_stays_within_the_readability_limits():
    """Issue 23's measure, kept: no module over 400 lines, no function over 60, at most 8
    functions with more than 5 positional parameters, no subpackage over 10 modules
    (scripts/structure_check.py prints the figures)."""
    fig = _structure_check().measure()
    assert fig.over_limits() == [], fig.over_limits()


def test_the_readability_check_can_fail(tmp_path):
    check = _structure_check()
    pkg = tmp_path / "emotion_batch"
    (pkg / "big").mkdir(parents=True)
    (pkg / "big" / "__init__.py").write_text("")
    for i in range(11):
        (pkg / "big" / f"m{i}.py").write_text("")
    body = "\n".join(f"    x{i} = {i}" for i in range(61))
    (pkg / "big" / "m0.py").write_text(f"def long(a, b, c, d, e, f):\n{body}\n")
    over = check.measure(pkg).over_limits()
    assert "function big/m0.py:long has 62 lines" in over and "subpackage emotion_batch/big (11 modules)" in over, over

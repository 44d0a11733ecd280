"""The GPU check: everything a session lent a GPU machine should measure, in ONE call.

    bash benchmarks/gpu_check.sh                   # on the device (carry .gpu_wheels, see below)
    python benchmarks/gpu_check.py --dry-run       # the same code paths on the CPU, tiny inputs

The device has Python 3.12 with torch, torchvision, torchaudio, onnxruntime, pandas, pyarrow,
scipy, scikit-learn, click, tqdm and psutil, no package registry, no Ray and no ../shared. So
the check installs the wheels that scripts/fetch_gpu_wheels.sh downloaded into .gpu_wheels/
(PyAV, facenet-pytorch, dtaidistance, safetensors, shap, slicer, cloudpickle; --no-deps),
makes its own test videos (benchmarks/gpu_media.py) and runs the product through
`cli.py run --engine local`, several processes at once to load the GPU. Every phase is timed
against --budget-s and records its error instead of ending the check, so one call gives all
the figures it can. It writes $OUT/gpu_check.json and prints (and writes) a table:

  env         date (UTC), host, GPU (nvidia-smi -L), torch / Python versions, package import
  throughput  per resolution (640x360, 1920x1080) and per process count: real-time factor
              (video seconds / analysis seconds, per video and all processes together),
              analysed frames per second, GPU utilisation (`nvidia-smi dmon`, SM % mean)
  agreement   the same video analysed on the CPU and on the GPU: face-seconds, the largest
              probability difference (tolerance PROB_TOL) and the A/V offsets
  detector    stock facenet-pytorch MTCNN vs our detector on the device: ms per frame, faces
  explain     `--explain sample` cost over `--explain none` (needs shap, which needs numba)
  runtimes    torch vs onnx runtime, analysis seconds of one video each

Every analysis here runs with `--identity off`: the face-recognition embedder (dlib-bin and the
face-recognition-models weights, ~100 MB) cannot travel within the carry limit, and it runs on
the CPU on any machine (dlib-bin has no CUDA build); its cost is benchmarks/identity_cost.py's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import gpu_report  # noqa: E402
from gpu_media import make_video  # noqa: E402

WHEELS = ["av", "facenet-pytorch", "dtaidistance", "safetensors", "shap", "slicer", "cloudpickle"]
MODULES = {"av": "av", "facenet-pytorch": "facenet_pytorch", "dtaidistance": "dtaidistance",
           "safetensors": "safetensors", "shap": "shap", "slicer": "slicer", "cloudpickle": "cloudpickle"}
PROB_TOL = 0.02  # fused / visual probabilities, GPU vs CPU (float32 kernels; detector boxes move by < 1 px)
FPS = 5.0
SITE = ROOT / ".gpu_site"  # where the wheels go when the interpreter's site-packages is read-only


def ensure_packages(wheels: Path) -> dict:
    """pip-install (no index, no dependencies) the carried wheels of the packages that do not import."""
    missing = [w for w in WHEELS if importlib.util.find_spec(MODULES[w]) is None]
    out = {"missing_before": missing, "wheels_dir": str(wheels)}
    if missing and wheels.is_dir():
        cmd = [sys.executable, "-m", "pip", "install", "--no-index", "--no-deps", "--find-links", str(wheels), *missing]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:  # site-packages not writable: a folder of our own on the path
            p = subprocess.run(cmd + ["--target", str(SITE)], capture_output=True, text=True)
            sys.path.insert(0, str(SITE))
        out["pip_rc"], out["pip_tail"] = p.returncode, p.stdout[-800:] + p.stderr[-800:]
        importlib.invalidate_caches()
    out["missing_after"] = [w for w in WHEELS if importlib.util.find_spec(MODULES[w]) is None]
    return out


def environment(device: str) -> dict:
    import torch

    env = {"date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "host": platform.node(),
           "python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
           "cpus": os.cpu_count(), "device": device}
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
        env["nvidia_smi_L"] = _run(["nvidia-smi", "-L"])
    import emotion_batch.cli.run  # noqa: F401  (the package imports under this Python and torch)
    from emotion_batch.pipeline import VideoAnalyzer  # noqa: F401

    env["package_imports"] = True
    return env


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable: {e}"


class Dmon:
    """`nvidia-smi dmon -s u` in the background; mean SM utilisation (%) while it ran."""

    def __init__(self, enabled: bool, log: Path):
        self.enabled, self.log, self.proc = enabled, log, None

    def __enter__(self):
        if self.enabled:
            try:
                self.proc = subprocess.Popen(["nvidia-smi", "dmon", "-s", "u", "-d", "1"], stdout=self.log.open("w"),
                                             stderr=subprocess.DEVNULL)
            except OSError:
                self.proc = None
        return self

    def __exit__(self, *exc):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def mean_sm(self) -> float | None:
        return gpu_report.mean_sm(self.log.read_text()) if self.proc is not None and self.log.exists() else None


def throughput(work: Path, size: tuple[int, int], seconds: float, procs: int, device: str, dmon: bool) -> dict:
    """`procs` CLI processes at once, each analysing its own video of `size`, local engine."""
    import pyarrow.dataset as ds

    tag = f"{size[0]}x{size[1]}_p{procs}"
    dirs = []
    for i in range(procs):
        d = work / tag / f"in{i}"
        d.mkdir(parents=True, exist_ok=True)
        make_video(d / f"v{i}.mp4", seconds, size, seed=100 * procs + i)
        dirs.append(d)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + ([str(SITE)] if SITE.is_dir() else [])))
    cmds = [[sys.executable, str(ROOT / "cli.py"), "run", str(d), "--out", str(d.parent / f"out{i}"), "--engine",
             "local", "--device", device, "--explain", "none", "--identity", "off", "--fps", str(FPS), "--no-progress"]
            for i, d in enumerate(dirs)]
    t0 = time.perf_counter()
    with Dmon(dmon, work.parent / f"dmon_{tag}.log") as mon:
        ps = [subprocess.Popen(c, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for c in cmds]
        logs = [p.communicate()[0] for p in ps]
    wall = time.perf_counter() - t0
    rows = []
    for i, p in enumerate(ps):
        if p.returncode != 0:
            return {"tag": tag, "error": f"process {i} exit {p.returncode}: {logs[i][-600:]}"}
        rows += ds.dataset(str(dirs[i].parent / f"out{i}" / "videos"), format="parquet").to_table().to_pylist()
    dur = sum(r["duration_s"] for r in rows)
    analysis = [r["t_total"] for r in rows]
    return {"tag": tag, "size": f"{size[0]}x{size[1]}", "procs": procs, "videos": len(rows), "video_s": dur,
            "wall_s": wall, "rtf_all": dur / wall, "frames_per_s_all": dur * FPS / wall,
            "rtf_per_video": [r["duration_s"] / r["t_total"] for r in rows],
            "analysis_s": analysis, "stages": [{k[2:]: r[k] for k in r if k.startswith("t_")} for r in rows],
            "face_seconds": sum(int(r.get("face_seconds") or 0) for r in rows), "gpu_sm_pct": mon.mean_sm()}


def agreement(path: Path, device: str) -> dict:
    """One video on the CPU and on `device`: same face-seconds, probabilities within PROB_TOL."""
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer
    from emotion_batch.schemas import prob_columns

    res = {d: VideoAnalyzer(RunConfig.from_flat(device=d, explain="none", identity="off"))(str(path)) for d in ("cpu", device)}
    a, b = (res[d].timeline.to_pandas() for d in ("cpu", device))
    key = ["face_id", "second"]
    m = a.merge(b, on=key, suffixes=("_c", "_g"))
    cols = prob_columns("p") + prob_columns("v")  # fused and visual probabilities (not the label columns)
    diff = max((float((m[c + "_c"] - m[c + "_g"]).abs().max()) for c in cols), default=0.0)
    keys_c, keys_g = (set(map(tuple, t[t.face_id >= 0][key].values.tolist())) for t in (a, b))
    return {"face_seconds_cpu": len(keys_c), "face_seconds_dev": len(keys_g), "same_face_seconds": keys_c == keys_g,
            "max_prob_diff": diff, "tolerance": PROB_TOL, "agree": keys_c == keys_g and diff <= PROB_TOL,
            "av_offset_cpu": res["cpu"].av_offset_s, "av_offset_dev": res[device].av_offset_s}


def detector_ab(paths: list[Path], device: str, frames: int = 40) -> list[dict]:
    """Stock facenet-pytorch MTCNN (its own cascade, torch nets) vs our detector, same frames."""
    import numpy as np
    import torch
    from facenet_pytorch import MTCNN
    from facenet_pytorch.models.utils.detect_face import detect_face

    from emotion_batch.media import iter_frames
    from emotion_batch.vision.detect import FaceDetector

    dev = torch.device(device)
    ours, stock = FaceDetector(dev), MTCNN(keep_all=True, device=dev).eval()
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    out = []
    for p in paths:
        chunks = [c.frames for c in iter_frames(str(p), FPS, min(8, frames))]
        chunks = chunks[: max(1, frames // min(8, frames))]
        n = sum(len(c) for c in chunks)
        t = {"stock": 0.0, "ours": 0.0}
        faces = {"stock": 0, "ours": 0}
        with torch.inference_mode():
            ours.detect(chunks[0]), detect_face(torch.as_tensor(chunks[0]), stock.min_face_size, stock.pnet, stock.rnet,
                                                stock.onet, stock.thresholds, stock.factor, dev)  # warm-up
            for c in chunks:
                sync(); t0 = time.perf_counter()  # noqa: E702
                boxes, _ = detect_face(torch.as_tensor(c), stock.min_face_size, stock.pnet, stock.rnet, stock.onet,
                                       stock.thresholds, stock.factor, dev)
                sync(); t["stock"] += time.perf_counter() - t0  # noqa: E702
                faces["stock"] += sum(int((np.asarray(b).reshape(-1, 5)[:, 4] >= 0.9).sum()) for b in boxes)
                t0 = time.perf_counter()
                faces["ours"] += sum(len(f) for f in ours.detect(c))
                sync(); t["ours"] += time.perf_counter() - t0  # noqa: E702
        out.append({"video": p.name, "frames": n, "stock_ms_per_frame": 1000 * t["stock"] / n,
                    "ours_ms_per_frame": 1000 * t["ours"] / n, "stock_faces": faces["stock"], "ours_faces": faces["ours"]})
    return out


def explain_cost(path: Path, device: str) -> dict:
    """Analysis seconds with --explain sample against --explain none, same video, same process."""
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    out = {}
    for mode in ("none", "sample"):
        a = VideoAnalyzer(RunConfig.from_flat(device=device, explain=mode, identity="off"))
        t0 = time.perf_counter()
        r = a(str(path))
        out[mode] = {"analysis_s": time.perf_counter() - t0, "explain_s": r.timings.get("explain"),
                     "status": r.status, "error": r.error}
    out["extra_s"] = out["sample"]["analysis_s"] - out["none"]["analysis_s"]
    return out


def runtimes(path: Path, device: str) -> dict:
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    out = {}
    for rt in ("torch", "onnx"):
        try:
            a = VideoAnalyzer(RunConfig.from_flat(device=device, explain="none", runtime=rt, identity="off"))
            if device != "cpu":
                a(str(path))  # warm-up: CUDA kernels and sessions (nothing to warm on the CPU)
            t0 = time.perf_counter()
            r = a(str(path))
            out[rt] = {"analysis_s": time.perf_counter() - t0, "status": r.status, "runtime": a.runtime.name}
        except Exception as e:  # e.g. no CUDA provider in this onnxruntime
            out[rt] = {"error": f"{type(e).__name__}: {e}"[:300]}
    return out


def _phase(res: dict, name: str, deadline: float, fn, *args):
    """Run one phase into res[name]: its figures, or its error, or 'skipped' past the budget."""
    if time.perf_counter() > deadline:
        res[name] = {"error": "skipped: time budget spent"}
        return
    t0 = time.perf_counter()
    try:
        res[name] = fn(*args)
    except Exception as e:  # one failed phase must not lose the others' figures
        import traceback

        res[name] = {"error": f"{type(e).__name__}: {e}"[:500], "trace": traceback.format_exc()[-1500:]}
    print(f"[gpu_check] {name}: {time.perf_counter() - t0:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT") or "gpu_check_out")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny videos, no nvidia-smi: every other code path")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of each throughput video")
    ap.add_argument("--procs", type=int, default=4, help="processes at once for the loaded throughput run")
    ap.add_argument("--budget-s", type=float, default=480.0, help="phases not started by then are skipped")
    ap.add_argument("--wheels", default=str(ROOT / ".gpu_wheels"))
    a = ap.parse_args(argv)
    deadline = time.perf_counter() + a.budget_s
    if a.dry_run:
        a.device, a.seconds, a.procs = "cpu", 2.0, 2
    sizes = [(320, 180), (480, 270)] if a.dry_run else [(640, 360), (1920, 1080)]
    # process counts per size: alone and loaded (dry run: the loaded path once, 2 processes)
    counts = [[a.procs], []] if a.dry_run else [sorted({1, a.procs})] * 2
    out = Path(a.out)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"args": vars(a), "install": ensure_packages(Path(a.wheels))}
    _phase(res, "env", deadline, environment, a.device)
    small = work / "agree.mp4"
    make_video(small, 2.0 if a.dry_run else 20.0, sizes[0], seed=7)
    big = work / "big.mp4"
    make_video(big, 2.0 if a.dry_run else 8.0, sizes[1], seed=8)
    res["throughput"] = []
    for size, procs_list in zip(sizes, counts):
        for procs in procs_list:
            _phase(res, "_t", deadline, throughput, work, size, a.seconds, procs, a.device, not a.dry_run)
            res["throughput"].append(res.pop("_t"))
    _phase(res, "agreement", deadline, agreement, small, a.device)
    _phase(res, "detector", deadline, detector_ab, [small, big], a.device, 2 if a.dry_run else 40)
    _phase(res, "explain", deadline, explain_cost, small, a.device)
    _phase(res, "runtimes", deadline, runtimes, small, a.device)
    (out / "gpu_check.json").write_text(json.dumps(res, indent=1, default=str))
    text = gpu_report.table(res)
    (out / "gpu_check.txt").write_text(text + "\n")
    print(text)
    return res


if __name__ == "__main__":
    main()

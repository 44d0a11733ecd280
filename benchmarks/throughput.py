"""Throughput of the product's real per-video path (VideoAnalyzer, the code Ray actors run).

Each video runs in a fresh subprocess so that start-up (imports + model loading) and peak
RSS are measured per video and not flattered by a warm process. Per video it prints:
start-up seconds, steady-state analysis seconds, real-time factor (video s / wall s),
analysed frames/s, per-stage seconds, peak RSS, and the decode-only real-time factor of
the same file (every frame in order, with the pipeline's decoder, PyAV; decord's beside it)
measured in the same run.

    python benchmarks/throughput.py [VIDEOS...] [--fps 5] [--explain none] [--device cpu]
                                    [--runtime torch,onnx] [--repeats 1]

--runtime takes one or several runtimes (comma separated): each video runs once per runtime
per repeat, the runtimes interleaved (A B A B ...), so machine load hits them alike; with
--repeats > 1 the medians are printed too.

With no VIDEOS it uses ../shared/data/videos. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

T0 = time.perf_counter()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one
DEFAULT_DIR = ROOT.parent / "shared" / "data" / "videos"


def decode_only_rtf(path: str) -> tuple[float, int]:
    """Every frame decoded in order and converted to RGB, with the decoder and settings
    media.iter_frames uses (PyAV, FFmpeg frame + slice threads): the ceiling for analysis."""
    import av

    t = time.perf_counter()
    n, last = 0, 0.0
    with av.open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        origin = s.start_time or 0
        for frame in c.decode(s):
            frame.to_ndarray(format="rgb24")
            n += 1
            if frame.pts is not None:
                last = max(last, float((frame.pts - origin) * s.time_base) + 1.0 / float(s.average_rate or 30))
    wall = time.perf_counter() - t
    return last / wall, n


def decode_only_rtf_decord(path: str) -> float:
    """The same with decord (the peer figures in issue 8 were measured this way)."""
    import decord
    import numpy as np

    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=0)
    n = len(vr)
    ts = vr.get_frame_timestamp(np.arange(n))
    t = time.perf_counter()
    for i in range(0, n, 32):
        vr.get_batch(list(range(i, min(n, i + 32)))).asnumpy()
    return float(ts[-1, 1]) / (time.perf_counter() - t)


def count_analysed_frames(path: str, fps: float, duration_s: float) -> int:
    import decord
    import numpy as np

    from emotion_batch.media import sample_indices

    vr = decord.VideoReader(path)
    starts = np.asarray(vr.get_frame_timestamp(np.arange(len(vr))))[:, 0]
    return len(sample_indices(starts, fps, 0.0, duration_s + 1e-6))


class Sampler:
    """Calls `sample()` every `period` seconds in a thread while the `with` block runs."""

    period = 0.05

    def __init__(self):
        import threading

        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while self.sample() is not False and not self.stop.wait(self.period):
            pass

    def sample(self):
        raise NotImplementedError

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class RssSampler(Sampler):
    """Peak RSS (MB) of this process while the analysis runs."""

    def __init__(self):
        import psutil

        super().__init__()
        self.proc, self.peak = psutil.Process(), 0.0

    def sample(self):
        self.peak = max(self.peak, self.proc.memory_info().rss / 2**20)


class GpuSampler(Sampler):
    """Mean GPU utilisation (%) while analysing, from NVML via torch.cuda.utilization()."""

    period = 0.2

    def __init__(self, device: str):
        super().__init__()
        self.device, self.samples = device, []

    def sample(self):
        import torch

        try:
            self.samples.append(float(torch.cuda.utilization(self.device)))
        except Exception:  # no NVML (pynvml) here: report n/a
            return False

    @property
    def mean(self) -> float | None:
        return sum(self.samples) / len(self.samples) if self.samples else None


def one(path: str, fps: float, explain: str, device: str, threads: int, runtime: str = "auto") -> dict:
    """Runs inside the child process."""
    import resource

    import torch

    torch.set_num_threads(threads)
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    t_import = time.perf_counter() - T0
    t = time.perf_counter()
    analyzer = VideoAnalyzer(RunConfig.from_flat(fps=fps, explain=explain, device=device, runtime=runtime))
    t_load = time.perf_counter() - t
    t = time.perf_counter()
    with RssSampler() as rss:
        if analyzer.device.type == "cuda":
            with GpuSampler(str(analyzer.device)) as gpu:
                res = analyzer(path)
            gpu_util = gpu.mean
        else:
            res, gpu_util = analyzer(path), None
    wall = time.perf_counter() - t
    if not res.ok:
        return {"path": path, "error": res.error}
    face_frames = int(res.timeline.column("n_frames").to_numpy().sum())
    analysed = count_analysed_frames(path, fps, res.info.duration_s)
    dec_rtf, _ = decode_only_rtf(path)
    dec_rtf_decord = decode_only_rtf_decord(path)
    return {
        "path": path,
        "duration_s": res.info.duration_s,
        "resolution": f"{res.info.width}x{res.info.height}",
        "startup_s": t_import + t_load,
        "import_s": t_import,
        "load_s": t_load,
        "analysis_s": wall,
        "rtf": res.info.duration_s / wall,
        "analysed_frames": analysed,
        "frames_per_s": analysed / wall,
        "face_frames": face_frames,
        "stages": {k: round(v, 3) for k, v in res.timings.items() if k != "total"},
        "peak_rss_mb": rss.peak,  # during the analysis (start-up included, decode-only pass not)
        "process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "decode_only_rtf": dec_rtf,
        "decode_only_rtf_decord": dec_rtf_decord,
        "device": str(analyzer.device),
        "runtime": analyzer.runtime.name,
        "face_seconds": res.face_seconds,
        "gpu_util_pct": gpu_util,
    }


def run_child(v: str, a, runtime: str) -> dict | None:
    cmd = [sys.executable, __file__, "--one", v, "--fps", str(a.fps), "--explain", a.explain,
           "--device", a.device, "--threads", str(a.threads), "--runtime", runtime]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if not line:
        print(f"{Path(v).name} ({runtime}): benchmark child failed:\n{out.stderr[-2000:]}")
        return None
    return json.loads(line[0][7:])


def print_row(r: dict) -> None:
    if "error" in r:
        print(f"{Path(r['path']).name:28} FAILED {r['error']}")
        return
    st = " ".join(f"{k}={v:.2f}" for k, v in r["stages"].items() if v > 0.005)
    if r.get("gpu_util_pct") is not None:
        st += f"  GPU util {r['gpu_util_pct']:.0f} %"
    print(f"{Path(r['path']).name:28} {r['runtime']:>9} {r['resolution']:>9} {r['duration_s']:6.1f} {r['startup_s']:7.1f} "
          f"{r['analysis_s']:7.2f} {r['rtf']:6.2f} {r['frames_per_s']:6.1f} {r['peak_rss_mb']:7.0f} "
          f"{r['face_seconds']:6d} {r['decode_only_rtf']:7.1f} {r['decode_only_rtf_decord']:6.1f}  {st}")


def print_medians(rows: list[dict]) -> None:
    import statistics

    print("medians over repeats:")
    keys = sorted({(r["path"], r["runtime"]) for r in rows if "error" not in r})
    for path, rt in keys:
        mine = [r for r in rows if r.get("path") == path and r.get("runtime") == rt and "error" not in r]
        med = lambda k: statistics.median(r[k] for r in mine)  # noqa: E731
        stages = {k: statistics.median(r["stages"].get(k, 0.0) for r in mine) for k in mine[0]["stages"]}
        st = " ".join(f"{k}={v:.2f}" for k, v in stages.items() if v > 0.005)
        print(f"{Path(path).name:28} {rt:>9} n={len(mine)} start {med('startup_s'):.1f} s  analysis {med('analysis_s'):.2f} s  "
              f"{med('frames_per_s'):.1f} fr/s  RSS {med('peak_rss_mb'):.0f} MB  {st}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--fps", type=float, default=5.0)
    ap.add_argument("--explain", default="none", choices=["all", "sample", "none"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--runtime", default="auto", help="one or several of auto, torch, onnx, onnx-int8 (comma separated)")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="print one JSON object per video")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        print("RESULT " + json.dumps(one(a.one, a.fps, a.explain, a.device, a.threads, a.runtime)))
        return
    videos = a.videos or sorted(str(p) for p in DEFAULT_DIR.glob("*") if p.suffix.lower() in (".mp4", ".mov"))
    runtimes = [r.strip() for r in a.runtime.split(",") if r.strip()]
    rows = []
    for v in videos:
        for _ in range(a.repeats):
            for rt in runtimes:  # interleaved: A B A B ...
                r = run_child(v, a, rt)
                if r is not None:
                    rows.append(r)
                    if a.json:
                        print(json.dumps(r))
    if a.json or not rows:
        return
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"fps={a.fps} explain={a.explain} device={a.device} threads={a.threads} load average (end) {load}")
    print(f"{'video':28} {'runtime':>9} {'res':>9} {'dur s':>6} {'start s':>7} {'anal s':>7} {'RTF':>6} {'fr/s':>6} "
          f"{'RSS MB':>7} {'face s':>6} {'dec RTF':>7} {'decord':>6}  stages (s)")
    for r in rows:
        print_row(r)
    if a.repeats > 1:
        print_medians(rows)


if __name__ == "__main__":
    main()

"""PyAV vs decord for the sync windows: speed and pixel agreement of the downscaled frames.

    python benchmarks/window_decode.py [videos...]   (default: ../shared/data/videos)

For each video, every frame (capped at 30 fps) of the whole file is read downscaled to a
longest side of 256 px, in 20 s windows, by `media.windows.WindowReader` (PyAV) and by
decord's resizing VideoReader with `get_batch` (what the sync stage used before). Prints wall
seconds of each (best of `--repeat`), and the mean / max absolute pixel difference between
the two outputs (they resize with different code paths, so they are not bit-identical).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emotion_batch.media import probe, sample_indices  # noqa: E402
from emotion_batch.media.windows import MAX_MOTION_FPS, WindowReader  # noqa: E402


def windows(duration: float, window_s: float = 20.0) -> list[tuple[float, float]]:
    edges = list(np.arange(0.0, duration, window_s)) + [duration]
    return list(zip(edges[:-1], edges[1:]))


def read_pyav(info) -> tuple[np.ndarray, np.ndarray]:
    r = WindowReader(info)
    ts, fs = [], []
    for a, b in windows(info.duration_s):
        for t, f in r.frames(a, b):
            ts.append(t)
            fs.append(f)
    r.close()
    return np.concatenate(ts), np.concatenate(fs)


def read_decord(info) -> tuple[np.ndarray, np.ndarray]:
    import decord

    r = WindowReader(info)
    size = r._size
    r.close()
    kw = {} if size is None else {"width": size[0], "height": size[1]}
    vr = decord.VideoReader(info.path, ctx=decord.cpu(0), num_threads=0, **kw)
    ts, fs = [], []
    for a, b in windows(info.duration_s):
        idx = sample_indices(info.frame_starts, MAX_MOTION_FPS, a, b)
        for i in range(0, len(idx), 32):
            bt = idx[i : i + 32]
            ts.append(info.frame_starts[bt])
            fs.append(vr.get_batch(bt.tolist()).asnumpy())
    return np.concatenate(ts), np.concatenate(fs)


def best_of(fn, info, repeat: int):
    """(best CPU seconds of the process, all threads; best wall seconds), last output. CPU time
    is the figure to compare on a shared machine: wall time there measures the neighbours."""
    cpu, wall, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn(info)
        cpu, wall = min(cpu, time.process_time() - c), min(wall, time.perf_counter() - t)
    return (cpu, wall), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    shared = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "videos"
    paths = a.videos or sorted(str(p) for p in shared.resolve().glob("*") if p.suffix in (".mp4", ".mov"))
    print(f"{'video':28} {'frames':>6} {'size':>9} {'PyAV cpu/wall s':>15} {'decord cpu/wall s':>17} {'mean|d|':>7} {'max|d|':>6}")
    for p in paths:
        info = probe(p)
        t_av, (ts_av, f_av) = best_of(read_pyav, info, a.repeat)
        try:
            t_dc, (ts_dc, f_dc) = best_of(read_decord, info, a.repeat)
        except Exception as e:  # decord rejects some files PyAV reads
            print(f"{Path(p).name:28} {len(ts_av):6d} {f_av.shape[2]:4d}x{f_av.shape[1]:<4d} "
                  f"{t_av[0]:7.2f}/{t_av[1]:<7.2f} {'fails':>17}  ({str(e).splitlines()[0][:60]})")
            continue
        same = len(ts_av) == len(ts_dc) and np.allclose(ts_av, ts_dc, atol=1e-4)
        d = np.abs(f_av.astype(np.int16) - f_dc.astype(np.int16)) if same and f_av.shape == f_dc.shape else None
        diff = f"{d.mean():7.2f} {d.max():6d}" if d is not None else "  frames differ"
        print(f"{Path(p).name:28} {len(ts_av):6d} {f_av.shape[2]:4d}x{f_av.shape[1]:<4d} "
              f"{t_av[0]:7.2f}/{t_av[1]:<7.2f} {t_dc[0]:9.2f}/{t_dc[1]:<7.2f} {diff}")


if __name__ == "__main__":
    main()

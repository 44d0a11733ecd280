"""What one decode per video saves: decode + sync CPU seconds, the old way (the analysis decode,
then sync decoding its windows a second time with `media.windows.WindowReader`) against the new
(mouth motion measured from the analysis decode, `sync.stream.MotionStream`), interleaved in one
process, min of --repeats. Detection is not run: both ways get the same face tracks (detected
once beforehand), so only the decode and sync work differ. Also the offsets both ways find.

    python benchmarks/one_decode.py [VIDEOS...] [--repeats 3]

CPU seconds (process_time), not wall: the machine is shared. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from emotion_batch import media
from emotion_batch.sync import MotionStream, analyze_sync
from emotion_batch.vision.detect import FaceDetector
from emotion_batch.vision.mouths import TrackLog
from emotion_batch.vision.track import IoUTracker

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT.parent / "shared" / "data" / "videos" / n
           for n in ("WolfgangLanger_Pexels.mp4", "face_noface.mov", "multi_face_walk.mp4")]
FPS = 5.0


def tracks_of(path: str) -> TrackLog:
    det, log, tracker = FaceDetector(torch.device("cpu"), runtime="auto"), TrackLog(), IoUTracker()
    for c in media.iter_frames(path, FPS, 8):
        for t, f in zip(c.times, det.detect(c.frames)):
            log.add(float(t), tracker.update(float(t), f.boxes), f.landmarks)
    return log


def old_way(info, log: TrackLog):
    for _ in media.iter_frames(info.path, FPS, 32):
        pass
    return analyze_sync(info, log.tracks(min_obs=1), None, duration_s=info.duration_s)


def new_way(info, log: TrackLog):
    stream = MotionStream(info)
    for c in media.iter_frames(info.path, FPS, 32, tap=stream.frame):
        stream.advance(log, float(c.times[-1]))  # all tracks are known here: the settled frames go
    return analyze_sync(info, log.tracks(min_obs=1), None, duration_s=info.duration_s, motion=stream.finish(log))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("videos", nargs="*", default=[str(p) for p in DEFAULT])
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for v in a.videos:
        info, log = media.probe(v), tracks_of(v)
        cpu = {"old": [], "new": []}
        found = {}
        for _ in range(a.repeats):
            for name, fn in (("old", old_way), ("new", new_way)):
                t = time.process_time()
                found[name] = fn(info, log).result
                cpu[name].append(time.process_time() - t)
        o, n = min(cpu["old"]), min(cpu["new"])
        print(f"{Path(v).name:28} {info.width}x{info.height} {info.fps:.0f} fps {info.duration_s:5.1f} s: decode+sync CPU "
              f"old {o:.2f} s, new {n:.2f} s ({100 * (1 - n / o):+.0f} % saved); offset old "
              f"{found['old'].offset_s:+.4f} ({found['old'].method}), new {found['new'].offset_s:+.4f} "
              f"({found['new'].method})", flush=True)


if __name__ == "__main__":
    main()

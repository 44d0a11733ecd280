"""Cost of A/V sync per minute of video, against the pipeline's decode time.

Builds a talking-face video (tests/talking_face.py: RAVDESS speech, the astronaut's mouth driven
by it, 25 fps, upscaled to --scale x 320x240, audio lagging by 120 ms), then times:

* pipeline decode: media.iter_frames at the analysis rate (5 fps) over the whole file + read_audio,
  what VideoAnalyzer spends on decoding anyway;
* sync decode: the extra full-rate (<= 30 fps), downscaled decode of the sync windows;
* sync total: analyze_sync end to end; alignment = sync total - sync decode (mouth motion, audio
  envelope, DTW, refinement, drift fit, speaking scores).

Usage: .venv/bin/python benchmarks/sync_bench.py [--minutes 1] [--scale 2] [--max-windows 8]
Needs ../shared (RAVDESS). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-speech-16k"

from emotion_batch import media, sync  # noqa: E402
from emotion_batch.vision.mouths import mouth_boxes  # noqa: E402


def build(path: Path, minutes: float, scale: int) -> tuple[dict, float]:
    import talking_face as tf

    clips = sorted(RAVDESS.glob("Actor_0[1-9]/*-01-01.flac"))[::7]
    speech = tf.load_speech(clips)
    need = int(minutes * 60 * tf.SR)
    speech = np.tile(speech, need // len(speech) + 1)[:need]
    n = int(len(speech) / tf.SR * 25)
    times = np.arange(n) / 25
    opening = tf.mouth_envelope(speech, times)
    frames = tf.make_frames(opening)
    if scale > 1:
        frames = frames.repeat(scale, 1).repeat(scale, 2)
    tf.write_mp4(path, frames, tf.shift_audio(speech, len(speech), 0.12))
    lm = np.zeros((1, 5, 2))
    lm[0, 3:5] = tf.mouth_corners()[0] * scale
    t_obs = np.arange(0, len(speech) / tf.SR, 0.2)
    return {0: (t_obs, np.repeat(mouth_boxes(lm), len(t_obs), 0))}, len(speech) / tf.SR


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--max-windows", type=int, default=8)
    ap.add_argument("--window-s", type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "talk.mp4"
        tracks, dur = build(path, args.minutes, args.scale)
        info = media.probe(str(path))
        print(f"video: {dur:.1f} s, {info.width}x{info.height} @ {info.fps:.0f} fps, audio lags by 120 ms")

        w0, c0 = time.perf_counter(), time.process_time()
        for _ in media.iter_frames(str(path), 5.0):
            pass
        clip = media.read_audio(str(path))
        dec_wall, dec_cpu = time.perf_counter() - w0, time.process_time() - c0
        res = sync.analyze_sync(info, tracks, clip, window_s=args.window_s, max_windows=args.max_windows,
                                duration_s=info.duration_s)

    per_min = 60.0 / dur
    r, tm = res.result, res.timings
    covered = sum(b - a for a, b in res.windows)
    print(f"estimate: offset {r.offset_s * 1000:+.1f} ms (truth +120.0), confidence {r.confidence:.2f}, {r.method}")
    print(f"windows decoded at full rate: {len(res.windows)} covering {covered:.0f} s of {dur:.0f} s")
    print("seconds per video-minute            wall      CPU")
    print(f"pipeline decode (5 fps + audio)  {dec_wall * per_min:7.2f}  {dec_cpu * per_min:7.2f}")
    print(f"sync: full-rate window decode    {tm['decode_s'] * per_min:7.2f}  {tm['decode_cpu_s'] * per_min:7.2f}")
    print(f"sync: alignment (signals, DTW)   {tm['align_s'] * per_min:7.2f}  {tm['align_cpu_s'] * per_min:7.2f}")
    print(f"alignment / pipeline decode: {tm['align_s'] / dec_wall:.1%} wall, {tm['align_cpu_s'] / dec_cpu:.1%} CPU")
    print(f"sync total / pipeline decode: {(tm['align_s'] + tm['decode_s']) / dec_wall:.1%} wall, "
          f"{(tm['align_cpu_s'] + tm['decode_cpu_s']) / dec_cpu:.1%} CPU")


if __name__ == "__main__":
    main()

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
    return {0: (t_obs, np.repeat(sync.mouth_boxes(lm), len(t_obs), 0))}, len(speech) / tf.SR


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

        t0 = time.perf_counter()
        for _ in media.iter_frames(str(path), 5.0):
            pass
        clip = media.read_audio(str(path))
        t_decode = time.perf_counter() - t0

        t0 = time.perf_counter()
        res = sync.analyze_sync(str(path), tracks, clip, window_s=args.window_s, max_windows=args.max_windows,
                                 duration_s=info.duration_s)
        t_sync = time.perf_counter() - t0

        t0 = time.perf_counter()
        widths = [float(np.median(b[:, 2] - b[:, 0])) for _, b in tracks.values()]
        vr, _, starts = sync.open_downscaled(str(path), min(widths))
        for w0, w1 in res.windows:
            for _ in sync.iter_window_frames(vr, starts, w0, w1):
                pass
        t_sync_decode = time.perf_counter() - t0
        t_align = max(0.0, t_sync - t_sync_decode)

    per_min = 60.0 / dur
    r = res.result
    covered = sum(b - a for a, b in res.windows)
    print(f"estimate: offset {r.offset_s * 1000:+.1f} ms (truth +120.0), confidence {r.confidence:.2f}, {r.method}")
    print(f"windows decoded at full rate: {len(res.windows)} covering {covered:.0f} s of {dur:.0f} s")
    print(f"pipeline decode (5 fps + audio): {t_decode * per_min:7.2f} s per video-minute")
    print(f"sync full-rate decode:           {t_sync_decode * per_min:7.2f} s per video-minute")
    print(f"sync alignment (no decode):      {t_align * per_min:7.2f} s per video-minute")
    print(f"alignment / pipeline decode = {t_align / t_decode:.1%}; "
          f"(alignment + its decode) / pipeline decode = {t_sync / t_decode:.1%}")


if __name__ == "__main__":
    main()

"""Cost of A/V sync per minute of video, against the pipeline's decode time.

Builds a talking-face video (tests/talking_face.py: RAVDESS speech, the astronaut's mouth driven
by it, 25 fps, upscaled to --scale x 320x240, audio lagging by 120 ms; a clip of up to a minute
copied back to back for longer videos), then times:

* pipeline decode: media.iter_frames at the analysis rate (5 fps) over the whole file + read_audio,
  what VideoAnalyzer spends on decoding anyway;
* the sync stage (analyze_sync as the pipeline calls it, audio read per window) in a fresh
  process, whose peak memory is printed (it should not grow with the video's length):
* pass 1 (the offset): the extra full-rate (<= 30 fps), downscaled decode of the sync windows,
  and its alignment (mouth motion, audio envelope, DTW, refinement, drift fit, scores there);
* pass 2 (speaking scores for every face-second): the decode and scoring of the seconds with a
  face that pass 1 did not cover (the whole video beyond 8 x 20 s);
* the analysis: VideoAnalyzer end to end on the same file (--analysis-fps, explain none), what
  the extra cost of pass 2 is set against. --no-analysis skips it.

Usage: .venv/bin/python benchmarks/sync_bench.py [--minutes 1] [--scale 2] [--max-windows 8]
Needs ../shared (RAVDESS). Prints figures per video-minute; asserts nothing about time.
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
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-speech-16k"

from emotion_batch import media, sync  # noqa: E402
from emotion_batch.config import SyncConfig  # noqa: E402
from emotion_batch.vision.mouths import mouth_boxes  # noqa: E402


def build(path: Path, minutes: float, scale: int) -> tuple[dict, float]:
    """The talking-face video (a clip of at most one minute, copied back to back up to `minutes`
    by remuxing, so a long video costs no encoding) and its one face track at 5 fps."""
    import talking_face as tf

    clips = sorted(RAVDESS.glob("Actor_0[1-9]/*-01-01.flac"))[::7]
    speech = tf.load_speech(clips)
    need = int(min(minutes, 1.0) * 60 * tf.SR)
    speech = np.tile(speech, need // len(speech) + 1)[:need]
    n = int(len(speech) / tf.SR * 25)
    times = np.arange(n) / 25
    opening = tf.mouth_envelope(speech, times)
    frames = tf.make_frames(opening)
    if scale > 1:
        frames = frames.repeat(scale, 1).repeat(scale, 2)
    clip = path.with_name("clip.mp4")
    tf.write_mp4(clip, frames, tf.shift_audio(speech, len(speech), 0.12), b_frames=False)
    del frames
    dur = tf.concat_copies(clip, path, max(1, int(np.ceil(minutes * 60 / (len(speech) / tf.SR)))))
    lm = np.zeros((1, 5, 2))
    lm[0, 3:5] = tf.mouth_corners()[0] * scale
    t_obs = np.arange(0, dur, 0.2)
    return {0: (t_obs, np.repeat(mouth_boxes(lm), len(t_obs), 0))}, dur


def _sync_child(path: str, tracks: dict, window_s: float, max_windows: int, out) -> None:
    """analyze_sync in a fresh process (audio read per window, as the pipeline does): its peak
    memory (VmHWM: ru_maxrss would carry over the parent's peak across fork) is the stage's own
    plus the imports."""
    info = media.probe(path)
    res = sync.analyze_sync(info, tracks, None, settings=SyncConfig(window_s=window_s, max_windows=max_windows),
                            duration_s=info.duration_s)
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM"))
    out.put((res, int(hwm.split()[1]) / 1024))


def run_sync(path: Path, tracks: dict, window_s: float, max_windows: int):
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_sync_child, args=(str(path), tracks, window_s, max_windows, q))
    p.start()
    res, peak_mb = q.get()
    p.join()
    return res, peak_mb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--max-windows", type=int, default=8)
    ap.add_argument("--window-s", type=float, default=20.0)
    ap.add_argument("--analysis-fps", type=float, default=5.0)
    ap.add_argument("--no-analysis", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "talk.mp4"
        tracks, dur = build(path, args.minutes, args.scale)
        info = media.probe(str(path))
        print(f"video: {dur:.1f} s, {info.width}x{info.height} @ {info.fps:.0f} fps, audio lags by 120 ms")

        w0, c0 = time.perf_counter(), time.process_time()
        for _ in media.iter_frames(str(path), 5.0):
            pass
        media.read_audio(str(path))
        dec_wall, dec_cpu = time.perf_counter() - w0, time.process_time() - c0
        res, peak_mb = run_sync(path, tracks, args.window_s, args.max_windows)
        analysis = None if args.no_analysis else run_analysis(path, args.analysis_fps)

    per_min = 60.0 / dur
    r, tm = res.result, res.timings
    covered = sum(b - a for a, b in res.windows)
    covered2 = sum(b - a for a, b in res.speaking_windows)
    n_scored = sum(len(d) for d in res.speaking.values())
    print(f"estimate: offset {r.offset_s * 1000:+.1f} ms (truth +120.0), confidence {r.confidence:.2f}, {r.method}")
    print(f"sync stage peak RSS (own process with its imports, both passes): {peak_mb:.0f} MB")
    print(f"pass 1: {len(res.windows)} windows covering {covered:.0f} s of {dur:.0f} s; pass 2: "
          f"{len(res.speaking_windows)} more covering {covered2:.0f} s; {n_scored} face-seconds scored")
    print("seconds per video-minute               wall      CPU")
    print(f"pipeline decode (5 fps + audio)     {dec_wall * per_min:7.2f}  {dec_cpu * per_min:7.2f}")
    for name, pre in (("pass 1", ""), ("pass 2", "speaking_")):
        print(f"sync {name}: full-rate decode       {tm[pre + 'decode_s'] * per_min:7.2f}  "
              f"{tm[pre + 'decode_cpu_s'] * per_min:7.2f}")
        print(f"sync {name}: alignment / scores     {tm[pre + 'align_s'] * per_min:7.2f}  "
              f"{tm[pre + 'align_cpu_s'] * per_min:7.2f}")
    extra = tm["speaking_decode_s"] + tm["speaking_align_s"]
    extra_cpu = tm["speaking_decode_cpu_s"] + tm["speaking_align_cpu_s"]
    print(f"pass 2 (speaking everywhere), extra  {extra * per_min:7.2f}  {extra_cpu * per_min:7.2f}")
    if analysis is not None:
        wall, cpu = analysis
        print(f"analysis (VideoAnalyzer, {args.analysis_fps:g} fps)     {wall * per_min:7.2f}  {cpu * per_min:7.2f}")
        print(f"pass 2 / analysis: {extra / wall:.1%} wall, {extra_cpu / cpu:.1%} CPU")
    print(f"sync total / pipeline decode: {sum(tm[k] for k in ('decode_s', 'align_s')) / dec_wall:.1%} wall (pass 1), "
          f"{sum(v for k, v in tm.items() if not k.endswith('cpu_s')) / dec_wall:.1%} wall (both passes)")


def run_analysis(path: Path, fps: float) -> tuple[float, float]:
    """Wall and CPU seconds of VideoAnalyzer on the file (models loaded beforehand)."""
    from emotion_batch.config import RunConfig
    from emotion_batch.pipeline import VideoAnalyzer

    analyzer = VideoAnalyzer(RunConfig.from_flat(device="cpu", fps=fps, explain="none"))
    w0, c0 = time.perf_counter(), time.process_time()
    res = analyzer(str(path))
    if not res.ok:
        raise SystemExit(f"analysis failed: {res.error}")
    return time.perf_counter() - w0, time.process_time() - c0


if __name__ == "__main__":
    main()

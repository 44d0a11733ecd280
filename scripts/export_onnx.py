"""Export the detector's three nets and both experts to ONNX for ``--runtime onnx``.

Sources: facenet-pytorch's P-/R-/O-Net weights bundled in its wheel, and the committed
``emotion_batch/models/weights/*.safetensors``. Downloads nothing. Writes
``emotion_batch/models/onnx/NAME.onnx`` (float32, each stamped with its weights' digest, which
the runtime checks); run it after changing any weights, then commit the files.

    python scripts/export_onnx.py                 # float exports (needs the onnx package)
    python scripts/export_onnx.py --int8 --out /tmp/int8   # also int8 graphs, for evaluation

``--int8`` quantises each net statically (emotion_batch/models/runtime/quantize.py) with calibration
batches of real inputs: the nets' inputs on the first 16 analysed frames (every 2nd) of each
sample video in DATA/videos, and log-mel windows of 4 clips of each RAVDESS actor 01-16 in
DATA/ravdess-speech-16k (the audio expert's training actors). benchmarks/int8_parity.py and
benchmarks/runtime_ab.py --int8-dir then measure them; no runtime serves int8 (they missed the
bars: emotion_batch/models/onnx/README.md), so they are not committed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emotion_batch.models.runtime.export import export_float  # noqa: E402
from emotion_batch.models.runtime.specs import ONNX_DIR, SPECS  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def calibration(data: Path) -> dict:
    from emotion_batch.training.capture import capture_video, speech_windows

    videos = sorted(str(p) for p in (data / "videos").glob("*") if p.suffix.lower() in (".mp4", ".mov"))
    if not videos:
        raise SystemExit(f"no sample videos under {data / 'videos'} (pass --data)")
    cap = capture_video(videos, max_frames=16, stride=2).batches
    mels, _ = speech_windows(data / "ravdess-speech-16k", set(range(1, 17)), per_actor=4)
    return {"pnet": cap["pnet"][::2], "rnet": cap["rnet"][::3], "onet": cap["onet"], "visual": cap["visual"],
            "audio": list(mels.split(64))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ONNX_DIR, help="folder for the .onnx files")
    ap.add_argument("--int8", action="store_true", help="also write NAME.int8.onnx (needs --data)")
    ap.add_argument("--data", type=Path, default=DATA, help="folder with videos/ and ravdess-speech-16k/")
    a = ap.parse_args()
    for name in SPECS:
        t = time.perf_counter()
        path = export_float(name, a.out)
        print(f"{path}  {path.stat().st_size / 1e3:7.0f} kB  {time.perf_counter() - t:4.1f} s")
    if a.int8:
        from emotion_batch.models.runtime.quantize import quantize

        cal = calibration(a.data)
        for name in SPECS:
            path = quantize(name, cal[name], "static", folder=a.out)
            n = sum(len(b) for b in cal[name])
            print(f"{path}  {path.stat().st_size / 1e3:7.0f} kB  calibrated on {n} inputs")


if __name__ == "__main__":
    main()

"""Build labelled audio-visual clips for `evaluate av` from RAVDESS speech (audio only here).

Each clip is one RAVDESS utterance (`03-01-EE-II-SS-RR-AA.flac`) spoken by the talking face of
tests/talking_face.py (a real photo whose mouth follows the speech envelope), 25 fps, 320x240,
written as `01-01-EE-II-SS-RR-AA.mp4` (RAVDESS's name for an audio-visual clip) so that
`evaluate av` and `train fusion` read its label and actor from the name.

What these clips can and cannot measure: the voice carries the acted emotion; the face is the
same smiling photo in every clip, so the visual expert carries no information about the label
(it reads "happy" whatever the voice says). They measure how fusion behaves when one expert is
confidently uninformative, which is what a fixed gate gets wrong and a fitted one should learn.

Usage: python scripts/make_av_clips.py OUT [--actors 17,18,19,20] [--per-emotion 1] [--seed 0]
(actors 17-20 are the audio expert's held-out validation actors; 21-24 are never used here.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-speech-16k"


def pick(actor: int, per_emotion: int, rng: np.random.Generator) -> list[Path]:
    """`per_emotion` utterances of each of the actor's emotions (calm and neutral both map to
    neutral in our labels; both are kept, as RAVDESS has them)."""
    files = sorted((RAVDESS / f"Actor_{actor:02d}").glob("03-01-*.flac"))
    by_emotion: dict[str, list[Path]] = {}
    for f in files:
        by_emotion.setdefault(f.name.split("-")[2], []).append(f)
    out = []
    for emo in sorted(by_emotion):
        choice = rng.choice(len(by_emotion[emo]), size=min(per_emotion, len(by_emotion[emo])), replace=False)
        out += [by_emotion[emo][i] for i in sorted(choice)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--actors", default="17,18,19,20")
    ap.add_argument("--per-emotion", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from talking_face import load_speech, make_talking_video

    actors = [int(a) for a in args.actors.split(",")]
    if any(a > 20 for a in actors):
        sys.exit("actors 21-24 are held out for judging the model: use actors 01-20")
    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    n = 0
    for actor in actors:
        for src in pick(actor, args.per_emotion, rng):
            dst = args.out / ("01" + src.stem[2:] + ".mp4")
            make_talking_video(dst, load_speech([src]), seed=n)
            n += 1
    print(f"{n} clips of actors {actors} -> {args.out}")


if __name__ == "__main__":
    main()

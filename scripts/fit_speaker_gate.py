"""Fit the speaker gate: speaker_p = sigmoid(a + b * score + c * (score - other)), on labelled
face-seconds (`score`: the face's speaking score; `other`: the highest score of the other faces
seen in the same second, 0 if none; c = 0 is the plain one-feature gate).

Data: talking-face scenes built with tests/talking_face.py (`make_conversation`) from RAVDESS
speech (../shared/data/ravdess-speech-16k): turns of two clips (~5 s), 25 fps, 320x240, the
audio shifted by a random offset in [-0.2, 0.2] s; six kinds, in turn:

    turns      two visible faces taking turns (left speaks, then right, then left)
    talk_still one face talks, the other holds still
    mouthing   one face talks, the other mouths speech that is never heard
    offscreen  an off-screen voice over one or two still faces
    voiceover_mouthing  an off-screen voice over one face that mouths other, unheard speech
    single     one visible face that talks

The pipeline's own steps make the scores: MTCNN faces (at 2 fps), `vision.mouths` boxes,
`sync.analyze_sync` (pass 1 offset, pass 2 scores everywhere, audio read per window as the
pipeline does) and the voice-activity fraction of each aligned second (`audio.features`).
Labelled seconds: those with speech (fraction >= min_speech, the fusion's own threshold) whose
speaker is known from the scene (the turn playing in most of the second); label 1 for the face
that speaks, 0 for every other visible face (still, listening, mouthing silently, or under an
off-screen voice).

Split by actor, never by clip: training scenes use actors 01-16 only, held-out scenes actors
17-20 (actors 21-24 are never used). Two logistic regressions (balanced class weights, C = 100,
i.e. hardly regularised): `score` alone and `score + competition` (c free). Which one is shipped
is decided on the training actors alone, by 5-fold cross-validation grouped by scene (balanced
accuracy; the simpler model unless the other is better by more than 1 point); the held-out
actors then only measure it. Prints the score and mouth-motion distributions per kind and
label, both models' figures, and the choice.

Usage: python scripts/fit_speaker_gate.py [--train-scenes 36] [--test-scenes 18] [--seed 0]
       [--write]   (--write saves emotion_batch/models/weights/speaker_gate.json)
       [--dump FILE] (every labelled second as JSON lines)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
RAVDESS = ROOT / ".." / "shared" / "data" / "ravdess-speech-16k"
TRAIN_ACTORS = range(1, 17)
TEST_ACTORS = range(17, 21)
KINDS = ("turns", "talk_still", "mouthing", "offscreen", "voiceover_mouthing", "single")


@dataclass
class Second:
    kind: str
    scene: int
    face: int  # 0 = left (or the only face)
    second: int
    score: float
    other: float  # highest score of the other faces seen in the same second (0 if none)
    speech: float
    label: int
    speaking_at: str
    offset_err: float  # estimated minus true A/V offset, s (NaN when sync fell back)
    motion: float  # the mouth's motion p95 - median over the second's 2 s window, gray levels


def _clips(actors: range) -> list[Path]:
    return sorted(p for a in actors for p in (RAVDESS / f"Actor_{a:02d}").glob("03-01-*.flac"))


def _scene(kind: str, rng: np.random.Generator, clips: list[Path], tf) -> tuple[list, int, dict]:
    """(turns, n_faces, mouthing) of one scene of `kind` from random clips."""
    pick = lambda k: [clips[i] for i in rng.choice(len(clips), k, replace=False)]  # noqa: E731
    speech = lambda: tf.load_speech(pick(2))  # noqa: E731  (~5 s a turn)
    if kind == "turns":
        return [(0, speech()), (1, speech()), (0, speech())], 2, {}
    if kind == "talk_still":
        return [(int(rng.integers(2)), speech())], 2, {}
    if kind == "mouthing":
        who = int(rng.integers(2))
        return [(who, speech())], 2, {1 - who: tf.load_speech(pick(3))}
    if kind == "offscreen":
        return [(None, speech())], int(rng.integers(1, 3)), {}
    if kind == "voiceover_mouthing":
        return [(None, speech())], 1, {0: tf.load_speech(pick(3))}
    return [(0, speech())], 1, {}


def _face_index(tracks: dict) -> dict[int, int]:
    """track id -> 0 (left) / 1 (right) by the mouth box's mean x."""
    xs = sorted((float(np.mean(b[:, 0])), fid) for fid, (_, b) in tracks.items())
    return {fid: (0 if x < 160 else 1) for x, fid in xs}


def _detect_tracks(detector, path: str, fps: float = 2.0) -> dict:
    from emotion_batch import media
    from emotion_batch.vision.mouths import TrackLog
    from emotion_batch.vision.track import IoUTracker

    log, tracker = TrackLog(), IoUTracker()
    for chunk in media.iter_frames(path, fps):
        for t, f in zip(chunk.times, detector.detect(chunk.frames)):
            log.add(float(t), tracker.update(float(t), f.boxes), f.landmarks)
    return log.tracks(min_obs=1)


def _motion_amplitude(info, tracks: dict) -> dict[int, dict[int, float]]:
    """face -> {second: p95 - median of its mouth motion over the second's 2 s window} (the
    static-mouth statistic of sync.speakers), from one full-rate pass over the scene."""
    from emotion_batch import sync
    from emotion_batch.media.windows import WindowReader

    reader = WindowReader(info, min(float(np.median(b[:, 2] - b[:, 0])) for _, b in tracks.values()))
    acc = sync.MotionAccumulator(tracks, reader.scale)
    for times, frames in reader.frames(0.0, info.duration_s):
        acc.add(times, frames)
    grid = sync.uniform_grid(0.0, info.duration_s)
    out = {}
    for fid in tracks:
        v = acc.signal(fid, grid)
        per = {}
        for s in range(int(np.ceil(info.duration_s))):
            w = v[(grid >= s - 0.5) & (grid < s + 1.5)]
            w = w[np.isfinite(w)]
            per[s] = float(np.percentile(w, 95) - np.median(w)) if len(w) > 10 else float("nan")
        out[fid] = per
    return out


def measure(kind: str, scene: int, rng: np.random.Generator, clips: list[Path], detector, tf, d: Path,
            min_speech: float) -> list[Second]:
    """Build one scene and return its labelled face-seconds with speech."""
    from emotion_batch import media, sync
    from emotion_batch.audio import features as feats

    turns, n_faces, mouthing = _scene(kind, rng, clips, tf)
    path = str(d / f"{kind}_{scene}.mp4")
    truth = tf.make_conversation(path, turns, n_faces, offset_s=float(rng.uniform(-0.2, 0.2)), mouthing=mouthing,
                                 seed=scene)
    info = media.probe(path)
    tracks = _detect_tracks(detector, path)
    res = sync.analyze_sync(info, tracks, None, duration_s=info.duration_s)
    clip = media.read_audio(path)
    act = feats.voice_activity(clip.samples)
    n_sec = int(np.ceil(info.duration_s))
    who = tf.speaker_per_second(truth, n_sec)
    index = _face_index(tracks)
    motion = _motion_amplitude(info, tracks)
    out = []
    for fid, per in res.speaking.items():
        for s, score in per.items():
            c = float(res.result.audio_time(s + 0.5)) - clip.start_s
            sp = feats.speech_fraction(act, c - 0.5, c + 0.5)
            if sp < min_speech or who[s] == -2:
                continue
            other = max([d[s] for f, d in res.speaking.items() if f != fid and s in d], default=0.0)
            err = res.result.offset_s - truth["offset_s"] if res.result.method != "container" else float("nan")
            out.append(Second(kind, scene, index[fid], s, score, other, sp, int(who[s] == index[fid]),
                              res.speaking_at, err, motion[fid].get(s, float("nan"))))
    return out


def collect(actors: range, n_scenes: int, seed: int, min_speech: float, log=print) -> list[Second]:
    import torch

    import talking_face as tf
    from emotion_batch.vision.detect import FaceDetector

    rng = np.random.default_rng(seed)
    clips = _clips(actors)
    detector = FaceDetector(torch.device("cpu"))
    out: list[Second] = []
    with tempfile.TemporaryDirectory() as d:
        for k in range(n_scenes):
            kind = KINDS[k % len(KINDS)]
            t0 = time.perf_counter()
            got = measure(kind, k, rng, clips, detector, tf, Path(d), min_speech)
            out += got
            log(f"  scene {k:2d} {kind:10s} {len(got):3d} labelled seconds ({time.perf_counter() - t0:.1f} s)")
    return out


MODELS = {"score": lambda r: [r.score], "score+competition": lambda r: [r.score, r.score - r.other]}


def _arrays(rows: list[Second], model: str = "score") -> tuple[np.ndarray, np.ndarray]:
    return np.array([MODELS[model](r) for r in rows]), np.array([r.label for r in rows])


def _fit(rows: list[Second], model: str) -> tuple[float, float, float]:
    """(a, b, c) of the balanced logistic regression; c = 0 for the one-feature model."""
    from sklearn.linear_model import LogisticRegression

    x, y = _arrays(rows, model)
    lr = LogisticRegression(C=100.0, class_weight="balanced").fit(x, y)
    coef = list(lr.coef_[0]) + [0.0]
    return float(lr.intercept_[0]), float(coef[0]), float(coef[1])


def _balanced(rows: list[Second], abc: tuple[float, float, float]) -> float:
    m = evaluate(rows, *abc)
    return m["balanced_accuracy"]


def cross_validate(rows: list[Second], model: str, folds: int = 5) -> float:
    """Mean balanced accuracy over `folds` folds of the training scenes (grouped by scene, each
    fold holding whole blocks of one scene of every kind)."""
    blocks = sorted({r.scene // len(KINDS) for r in rows})  # a block holds one scene of each kind
    out = []
    for k in range(folds):
        held = {sc for sc in {r.scene for r in rows} if sc // len(KINDS) in blocks[k::folds]}
        fit_rows = [r for r in rows if r.scene not in held]
        test_rows = [r for r in rows if r.scene in held]
        out.append(_balanced(test_rows, _fit(fit_rows, model)))
    return float(np.mean(out))


def describe(rows: list[Second], title: str) -> None:
    for name in ("score", "motion"):
        print(f"\n{title}: {name} quantiles (5, 25, 50, 75, 95 %) per kind and label")
        for kind in KINDS:
            for lab in (1, 0):
                x = np.array([getattr(r, name) for r in rows if r.kind == kind and r.label == lab])
                x = x[np.isfinite(x)]
                if len(x):
                    q = " ".join(f"{v:5.2f}" for v in np.percentile(x, [5, 25, 50, 75, 95]))
                    print(f"  {kind:10s} label {lab}: n={len(x):4d}  {q}")


def evaluate(rows: list[Second], a: float, b: float, c: float = 0.0) -> dict:
    x, y = _arrays(rows, "score+competition")
    p = 1 / (1 + np.exp(-(a + b * x[:, 0] + c * x[:, 1])))
    pred = p >= 0.5
    tpr, tnr = float(pred[y == 1].mean()), float((~pred[y == 0]).mean())
    per_kind = {k: float((pred == y)[[r.kind == k for r in rows]].mean()) for k in KINDS if any(r.kind == k for r in rows)}
    return {"n": int(len(y)), "n_speaking": int(y.sum()), "accuracy": float((pred == y).mean()),
            "balanced_accuracy": (tpr + tnr) / 2, "speaker_recall": tpr, "listener_recall": tnr,
            "listener_mean_p": float(p[y == 0].mean()), "speaker_mean_p": float(p[y == 1].mean()),
            "listener_w_audio_le_0.1": float((0.6 * p[y == 0] <= 0.1).mean()), "accuracy_per_kind": per_kind}


def main() -> None:
    from emotion_batch.models.fusion import load_default_params

    ap = argparse.ArgumentParser()
    ap.add_argument("--train-scenes", type=int, default=36)
    ap.add_argument("--test-scenes", type=int, default=18)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--dump", type=Path, default=None, help="write every labelled second as JSON lines")
    args = ap.parse_args()
    min_speech = load_default_params().min_speech
    t0 = time.perf_counter()
    print(f"training scenes (actors {TRAIN_ACTORS.start:02d}-{TRAIN_ACTORS.stop - 1:02d}):")
    train = collect(TRAIN_ACTORS, args.train_scenes, args.seed, min_speech)
    print(f"held-out scenes (actors {TEST_ACTORS.start:02d}-{TEST_ACTORS.stop - 1:02d}):")
    test = collect(TEST_ACTORS, args.test_scenes, args.seed + 1, min_speech)
    if args.dump:
        from dataclasses import asdict

        with open(args.dump, "w") as f:
            for split, rows in (("train", train), ("held_out", test)):
                for r in rows:
                    f.write(json.dumps({"split": split, **asdict(r)}) + "\n")
    describe(train, "training")
    describe(test, "held-out")
    results = {}
    for model in MODELS:
        abc = _fit(train, model)
        results[model] = {"params": dict(zip("abc", abc)), "cv_balanced_accuracy": cross_validate(train, model),
                          "train": evaluate(train, *abc), "held_out": evaluate(test, *abc)}
        print(f"\n== {model}: speaker_p = sigmoid({abc[0]:.3f} + {abc[1]:.3f} * score + {abc[2]:.3f} * (score - other))")
        print(json.dumps({k: v for k, v in results[model].items() if k != "params"}, indent=2))
    cv = {m: r["cv_balanced_accuracy"] for m, r in results.items()}
    chosen = "score+competition" if cv["score+competition"] > cv["score"] + 0.01 else "score"
    print(f"\ncross-validated balanced accuracy (training actors): {cv}; chosen: {chosen}")
    a, b, c = (results[chosen]["params"][k] for k in "abc")
    print(f"total {time.perf_counter() - t0:.0f} s")
    if args.write:
        from emotion_batch.fusion.speaker import DEFAULT_GATE_PATH, SpeakerGate

        SpeakerGate(a, b, c).save(DEFAULT_GATE_PATH, provenance={
            "script": "scripts/fit_speaker_gate.py", "seed": args.seed, "min_speech": min_speech,
            "train": {"actors": "01-16", "scenes": args.train_scenes, "kinds": list(KINDS)},
            "held_out": {"actors": "17-20", "scenes": args.test_scenes},
            "class_weight": "balanced", "C": 100.0, "chosen": chosen, "models": results,
        })
        print(f"wrote {DEFAULT_GATE_PATH}")


if __name__ == "__main__":
    main()

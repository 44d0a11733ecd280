"""Classification metrics (accuracy, macro-F1, per-class recall, confusion) and clip prediction.

``classification_report(y_true, probs)`` works for any expert (audio, visual, fused): the lead's
``evaluate av`` passes per-clip fused probabilities to it. ``predict_clip`` scores one clip
with the audio expert by averaging the probabilities of 2 s windows 0.5 s apart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np
import torch

from emotion_batch.audio.features import SAMPLE_RATE, audio_window, log_mel, speech_fraction, voice_activity
from emotion_batch.labels import LABELS, N_LABELS


@dataclass
class Report:
    n: int
    accuracy: float
    macro_f1: float
    recall: dict[str, float]  # per class; NaN where the class has no examples
    precision: dict[str, float]
    support: dict[str, int]
    confusion: list[list[int]]  # rows = true label, columns = predicted, LABELS order
    labels: tuple[str, ...] = LABELS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        # JSON has no NaN: classes without examples get null.
        for key in ("recall", "precision"):
            d[key] = {k: (None if np.isnan(v) else v) for k, v in d[key].items()}
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format(self) -> str:
        lines = [f"clips: {self.n}   accuracy: {self.accuracy:.4f}   macro-F1: {self.macro_f1:.4f}", ""]
        lines.append(f"{'class':<10}{'support':>8}{'recall':>8}{'prec.':>8}")
        for lab in self.labels:
            r, p = self.recall[lab], self.precision[lab]
            rs = "   -" if np.isnan(r) else f"{r:8.3f}"
            ps = "   -" if np.isnan(p) else f"{p:8.3f}"
            lines.append(f"{lab:<10}{self.support[lab]:>8}{rs:>8}{ps:>8}")
        lines += ["", "confusion (rows true, columns predicted):", " " * 10 + "".join(f"{l[:5]:>6}" for l in self.labels)]
        for lab, row in zip(self.labels, self.confusion):
            lines.append(f"{lab:<10}" + "".join(f"{v:>6}" for v in row))
        return "\n".join(lines)


def classification_report(y_true, probs_or_pred) -> Report:
    """Metrics over the 7 LABELS. ``probs_or_pred``: (n, 7) probabilities or (n,) label indices.

    Macro-F1 averages F1 over the classes present in ``y_true`` (RAVDESS has all 7, CREMA-D 6).
    """
    y = np.asarray(y_true, dtype=np.int64)
    p = np.asarray(probs_or_pred)
    pred = p.argmax(axis=1) if p.ndim == 2 else p.astype(np.int64)
    if y.shape != pred.shape:
        raise ValueError(f"{y.shape[0]} labels but {pred.shape[0]} predictions")
    cm = np.zeros((N_LABELS, N_LABELS), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    tp = np.diag(cm).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(predicted > 0, tp / predicted, np.where(support > 0, 0.0, np.nan))
        f1 = np.where(tp > 0, 2 * tp / (support + predicted), 0.0)
    present = support > 0
    return Report(
        n=int(y.shape[0]),
        accuracy=float((pred == y).mean()) if y.size else float("nan"),
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
        recall={lab: float(v) for lab, v in zip(LABELS, recall)},
        precision={lab: float(v) for lab, v in zip(LABELS, precision)},
        support={lab: int(v) for lab, v in zip(LABELS, support)},
        confusion=cm.tolist(),
    )


def clip_windows(wave: np.ndarray, window_s: float = 2.0, hop_s: float = 0.5, sr: int = SAMPLE_RATE) -> np.ndarray:
    """(n_windows, window samples): windows ``hop_s`` apart covering the clip; short clips are
    zero-padded around the centre."""
    x = np.asarray(wave, dtype=np.float32)
    n, hop = int(round(window_s * sr)), int(round(hop_s * sr))
    if x.shape[0] <= n:
        out = np.zeros((1, n), dtype=np.float32)
        off = (n - x.shape[0]) // 2
        out[0, off : off + x.shape[0]] = x
        return out
    starts = list(range(0, x.shape[0] - n + 1, hop))
    if starts[-1] != x.shape[0] - n:
        starts.append(x.shape[0] - n)
    return np.stack([x[s : s + n] for s in starts])


@torch.no_grad()
def predict_clips(model: torch.nn.Module, waves: list[np.ndarray], window_s: float = 2.0, hop_s: float = 0.5,
                  batch: int = 256) -> np.ndarray:
    """(n_clips, 7): per clip, the mean of the audio expert's probabilities over its 2 s windows
    (0.5 s hop). ``model`` is put in eval mode; windows of many clips are batched together."""
    model.eval()
    if not waves:
        return np.zeros((0, N_LABELS), dtype=np.float32)
    device = next(model.parameters()).device
    windows = [clip_windows(w, window_s, hop_s) for w in waves]
    owner = np.concatenate([np.full(len(w), i) for i, w in enumerate(windows)])
    flat = np.concatenate(windows)
    probs = np.concatenate([
        model(log_mel(torch.from_numpy(flat[i : i + batch])).to(device)).float().cpu().numpy()
        for i in range(0, len(flat), batch)
    ])
    out = np.zeros((len(waves), N_LABELS), dtype=np.float64)
    np.add.at(out, owner, probs)
    return (out / np.bincount(owner, minlength=len(waves))[:, None]).astype(np.float32)


def predict_clip(model: torch.nn.Module, wave: np.ndarray, window_s: float = 2.0, hop_s: float = 0.5) -> np.ndarray:
    """(7,) mean of the audio expert's window probabilities over one clip."""
    return predict_clips(model, [wave], window_s, hop_s)[0]


@torch.no_grad()
def per_second_report(model: torch.nn.Module, waves: list[np.ndarray], labels: list[int], *, min_speech: float = 0.1,
                      window_s: float = 2.0, batch: int = 256) -> Report:
    """Metrics of single windows as the pipeline uses them: one ``window_s`` window centred on
    each second's middle (second + 0.5), kept where that second's speech fraction >= min_speech;
    every kept second counts once, labelled with its clip's label."""
    model.eval()
    windows, ys = [], []
    for wave, y in zip(waves, labels):
        act = voice_activity(wave)
        for s in range(int(np.ceil(len(wave) / SAMPLE_RATE))):
            if speech_fraction(act, s, s + 1) >= min_speech:
                windows.append(audio_window(wave, s + 0.5, window_s))
                ys.append(y)
    if not windows:
        return classification_report(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    flat = np.stack(windows)
    probs = np.concatenate([model(log_mel(torch.from_numpy(flat[i : i + batch]))).numpy() for i in range(0, len(flat), batch)])
    return classification_report(ys, probs)

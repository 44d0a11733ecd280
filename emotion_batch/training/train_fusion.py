"""Fit the fusion gate's few scalars on labelled audio-visual seconds, and write its defaults.

``fit_fusion(records)`` minimises the negative log-likelihood of the true label under the fused
distribution over the seconds where BOTH modalities are present (elsewhere fusion is a fixed
selection and has nothing to learn), with a small L2 pull towards the starting parameters so
that a handful of clips cannot push them to extremes. Optimiser: L-BFGS on the 5 scalars.

``records_from_timeline(table, label)`` turns the pipeline's timeline rows of one labelled clip
into records; ``fit_from_clips(paths, analyse)`` is the thin driver the CLI wires to the
pipeline (``analyse(path) -> timeline Arrow table``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from emotion_batch.labels import LABELS, N_LABELS
from emotion_batch.models.fusion import DEFAULT_PARAMS_PATH, PROB_FLOOR, FusionModel, FusionParams
from emotion_batch.schemas import prob_columns

VISUAL_PUBLISHED_ACC = 0.66  # mini-Xception on FER2013 test (oarriaga/face_classification)
# min_speech candidates a fit on clips chooses from (the other scalars fitted at each): whether a
# second with little speech under it is still worth the audio expert's reading, which hears the
# 2 s around it, depends on the footage.
MIN_SPEECH_GRID = (0.0, 0.05, 0.1, 0.2)


@dataclass
class FusionRecord:
    """One (face, second) with both expert outputs and its true label (index into LABELS)."""

    v_probs: np.ndarray | None  # (7,) or None without a face
    a_probs: np.ndarray | None  # (7,) or None without audio
    face_score: float
    face_size_px: float
    speech: float
    label: int
    speaker_p: float = float("nan")  # the row's speaker gate (NaN: not measured = 1, ungated)


def _stack(records: list[FusionRecord]) -> dict[str, torch.Tensor]:
    nan7 = np.full(N_LABELS, np.nan, dtype=np.float32)
    return {
        "v": torch.tensor(np.stack([r.v_probs if r.v_probs is not None else nan7 for r in records]), dtype=torch.float32),
        "a": torch.tensor(np.stack([r.a_probs if r.a_probs is not None else nan7 for r in records]), dtype=torch.float32),
        "score": torch.tensor([r.face_score for r in records], dtype=torch.float32),
        "size": torch.tensor([r.face_size_px for r in records], dtype=torch.float32),
        "speech": torch.tensor([r.speech for r in records], dtype=torch.float32),
        "has_face": torch.tensor([r.v_probs is not None for r in records]),
        "has_audio": torch.tensor([r.a_probs is not None for r in records]),
        "speaker_p": torch.tensor([r.speaker_p for r in records], dtype=torch.float32),
        "y": torch.tensor([r.label for r in records], dtype=torch.long),
    }


def cues(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A stacked batch's reliability cues, presence masks and speaker gate, under the names
    `FusionModel.fuse_probs` and `FusionModel.weights` take them."""
    return {"face_score": batch["score"], "face_size_px": batch["size"], "speech": batch["speech"],
            "has_face": batch["has_face"], "has_audio": batch["has_audio"], "speaker_p": batch["speaker_p"]}


def _fuse(model: FusionModel, batch: dict[str, torch.Tensor]):
    return model.fuse_probs(batch["v"], batch["a"], **cues(batch))


def fusion_nll(model: FusionModel, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    out = _fuse(model, batch)
    p = out.fused.gather(1, batch["y"][:, None]).squeeze(1)
    return -torch.log(p.clamp(min=PROB_FLOOR)).mean()


def _fit_gate(recs: list[FusionRecord], init: FusionParams, l2: float, max_iter: int) -> FusionParams:
    """The 5 continuous scalars for a fixed min_speech: L-BFGS, or Adam if L-BFGS's line search
    overflows (it can, when one expert is confidently uninformative and the optimum is far out)."""
    batch = _stack(recs)
    for method in ("lbfgs", "adam"):
        model = FusionModel(None, None, init)
        start = [p.detach().clone() for p in model.parameters()]

        def loss_fn():
            return fusion_nll(model, batch) + l2 * sum(((p - s) ** 2).sum() for p, s in zip(model.parameters(), start))

        try:
            if method == "lbfgs":
                opt = torch.optim.LBFGS(list(model.parameters()), lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

                def closure():
                    opt.zero_grad()
                    loss = loss_fn()
                    loss.backward()
                    return loss

                opt.step(closure)
            else:
                opt = torch.optim.Adam(model.parameters(), lr=0.05)
                for _ in range(10 * max_iter // 4):
                    opt.zero_grad()
                    loss_fn().backward()
                    opt.step()
        except RuntimeError:
            continue
        if all(math.isfinite(v) for v in asdict(model.params).values()):
            return model.params
    raise ValueError("the fit did not converge (non-finite parameters): check the records' probabilities")


def _usable(records: Iterable[FusionRecord], min_speech: float) -> list[FusionRecord]:
    """Records fusion pools at this min_speech: a face, audio with enough speech, not a listener."""
    return [r for r in records if r.v_probs is not None and r.a_probs is not None and r.speech >= min_speech
            and not r.speaker_p <= 0]


def fit_fusion(records: Iterable[FusionRecord], init: FusionParams | None = None, l2: float = 1e-3,
               max_iter: int = 200, min_speech_grid: Iterable[float] = ()) -> FusionParams:
    """Parameters minimising the fused NLL over records with both modalities present.

    With `min_speech_grid`, min_speech (below which a second's audio is not used) is chosen too:
    the gate is fitted at each candidate and the one with the lowest NLL over ALL records that
    have a modality is kept (min_speech decides which rows are pooled and which are
    visual-only, so only the whole set compares candidates fairly)."""
    init = init or FusionParams()
    records = list(records)
    candidates = sorted({init.min_speech, *min_speech_grid})
    scored = []
    for ms in candidates:
        recs = _usable(records, ms)
        if not recs:
            continue
        params = _fit_gate(recs, replace(init, min_speech=ms), l2, max_iter)
        if len(candidates) == 1:
            return params
        rows = [r for r in records if r.v_probs is not None or r.a_probs is not None]
        with torch.no_grad():
            scored.append((float(fusion_nll(FusionModel(None, None, params), _stack(rows))), ms, params))
    if not scored:
        raise ValueError("no record has both a face and usable audio: nothing to fit")
    return min(scored, key=lambda t: (t[0], t[1]))[2]


def default_params(audio_json: str | Path | None = None, visual_acc: float = VISUAL_PUBLISHED_ACC) -> tuple[FusionParams, dict]:
    """Defaults from measured accuracies: a_v, a_a = log-odds of each expert's accuracy."""
    from emotion_batch.models.audio import CONFIG_PATH

    rec = json.loads(Path(audio_json or CONFIG_PATH).read_text())
    # Fusion works per second on single 2 s windows: use the expert's per-second accuracy
    # (windows with speech) when recorded, else its clip accuracy.
    per_second = "validation_per_second" in rec
    audio_acc = float(rec["validation_per_second" if per_second else "validation"]["accuracy"])
    params = FusionParams.from_accuracies(visual_acc, audio_acc)
    provenance = {
        "derived_from": {
            "visual_accuracy": visual_acc, "visual_source": "FER2013 test, published (mini-Xception 0.66)",
            "audio_accuracy": audio_acc,
            "audio_source": f"RAVDESS validation actors {rec['val_actors']} (held out from training), "
            + ("single 2 s windows centred on seconds with speech >= 0.1" if per_second else "clip level"),
        },
        "rule": "a_v = logit(visual_acc), a_a = logit(audio_acc); b_* are priors, not fitted",
    }
    return params, provenance


def write_default_params(out: str | Path = DEFAULT_PARAMS_PATH, audio_json: str | Path | None = None) -> Path:
    params, provenance = default_params(audio_json)
    params.save(out, **provenance)
    return Path(out)


def records_from_timeline(table, label: int) -> list[FusionRecord]:
    """FusionRecords from one clip's timeline (pyarrow Table with TIMELINE_SCHEMA columns)."""
    d = table.to_pydict()
    v_cols, a_cols = prob_columns("v"), prob_columns("a")
    out = []
    for i in range(table.num_rows):
        v = [d[c][i] for c in v_cols]
        a = [d[c][i] for c in a_cols]
        has_v, has_a = all(x is not None for x in v), all(x is not None for x in a)
        w = (d["box_x2"][i] or 0) - (d["box_x1"][i] or 0)
        h = (d["box_y2"][i] or 0) - (d["box_y1"][i] or 0)
        out.append(FusionRecord(
            v_probs=np.asarray(v, dtype=np.float32) if has_v else None,
            a_probs=np.asarray(a, dtype=np.float32) if has_a else None,
            face_score=float(d["face_score"][i]) if d["face_score"][i] is not None else float("nan"),
            face_size_px=math.sqrt(max(w * h, 0.0)) if has_v else float("nan"),
            speech=float(d["speech"][i] or 0.0),
            label=label,
            speaker_p=float(d["speaker_p"][i]) if d["speaker_p"][i] is not None else float("nan"),
        ))
    return out


def refuse(records: list[FusionRecord], params: FusionParams) -> np.ndarray:
    """The fused distribution of each record under `params`, exactly as the pipeline fuses it
    (speaker gate included); NaN rows where neither modality is usable. (N, 7) float32."""
    if not records:
        return np.zeros((0, N_LABELS), np.float32)
    with torch.no_grad():
        out = _fuse(FusionModel(None, None, params), _stack(records))
    p = out.fused.numpy().astype(np.float32)
    p[((out.w_visual + out.w_audio) <= 0).numpy()] = np.nan
    return p


def fit_from_clips(paths: Iterable[str | Path], analyse: Callable[[Path], object], label_of: Callable[[Path], int],
                   init: FusionParams | None = None) -> tuple[FusionParams, int]:
    """Run ``analyse`` (the pipeline, returning a timeline table) on each labelled clip and fit.

    Returns the fitted parameters and the number of records used.
    """
    records: list[FusionRecord] = []
    for p in paths:
        records.extend(records_from_timeline(analyse(Path(p)), label_of(Path(p))))
    params = fit_fusion(records, init=init, min_speech_grid=MIN_SPEECH_GRID)
    used = sum(r.v_probs is not None and r.a_probs is not None for r in records)
    return params, used


__all__ = ["FusionRecord", "fit_fusion", "fusion_nll", "default_params", "write_default_params",
           "records_from_timeline", "refuse", "fit_from_clips", "LABELS"]

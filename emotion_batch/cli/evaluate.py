"""`emotion-batch evaluate audio --data DIR`: score the audio expert on labelled clips."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def evaluate() -> None:
    """Measure accuracy on labelled clips (RAVDESS / CREMA-D file names)."""


def evaluate_audio(data: Path, weights: Path | None = None, window_s: float = 2.0, hop_s: float = 0.5) -> dict:
    """Audio-expert metrics over every labelled clip with audio under ``data`` (recursive).

    Returns ``{"report": Report.to_dict(), "clips": [{path, actor, label, predicted, probs}], ...}``.
    """
    import torch

    from emotion_batch.labels import LABELS
    from emotion_batch.models.audio import AUDIO_WEIGHTS_SHA, load_audio_model
    from emotion_batch.training.datasets import find_clips, load_audio
    from emotion_batch.training.evaluate import classification_report, predict_clips

    torch.set_num_threads(min(2, torch.get_num_threads()))
    clips = find_clips(data)
    if not clips:
        raise click.ClickException(f"no labelled RAVDESS/CREMA-D clips with audio under {data}")
    model = load_audio_model("cpu", weights)
    probs = predict_clips(model, [load_audio(c.path) for c in clips], window_s, hop_s)
    report = classification_report([c.label for c in clips], probs)
    return {
        "model": str(weights) if weights else f"audio_expert {AUDIO_WEIGHTS_SHA}",
        "data": str(data),
        "report": report.to_dict(),
        "text": report.format(),
        "clips": [
            {"path": str(c.path), "corpus": c.corpus, "actor": c.actor, "label": c.label_name,
             "predicted": LABELS[int(p.argmax())], "probs": [round(float(x), 6) for x in p]}
            for c, p in zip(clips, probs)
        ],
    }


@evaluate.command("audio")
@click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
              help="A labelled clip or a folder of them (audio or video), searched recursively.")
@click.option("--weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Audio-expert safetensors (default: the committed weights).")
@click.option("--json", "as_json", is_flag=True, help="Print the report and per-clip predictions as JSON.")
def evaluate_audio_cmd(data: Path, weights: Path | None, as_json: bool) -> None:
    """Accuracy, macro-F1, per-class recall and confusion of the audio expert."""
    result = evaluate_audio(data, weights)
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "text"}, indent=2))
    else:
        click.echo(f"model: {result['model']}\ndata: {result['data']}\n")
        click.echo(result["text"])


VIDEO_SUFFIXES = (".mp4", ".flv", ".avi", ".mov", ".mkv", ".webm", ".m4v")


def clip_prediction(timeline, prefix: str):
    """Mean of the `prefix`_* probabilities over a clip's rows where they exist (None if none)."""
    from emotion_batch.schemas import prob_columns

    m = timeline.select(prob_columns(prefix)).to_pandas().dropna().to_numpy()
    return m.mean(axis=0) if len(m) else None


def evaluate_av(data: Path, device: str = "cpu", fusion: Path | None = None, cross_fit: bool = True) -> dict:
    """Visual-only, audio-only and fused metrics per labelled audio-visual clip (RAVDESS
    `01-01-...`, CREMA-D `.flv`/`.mp4`). A clip's prediction is the mean probability over
    its seconds; clips where a modality never produced an output count as wrong for it.

    `fused` uses the gate in use (`fusion`: a file from `train fusion`, default the shipped
    one); with clips of two or more actors, `fused_cv` is fusion under a gate fitted on the
    OTHER actors' clips (leave-one-actor-out, training/fusion_eval.py): what fitting the gate to
    this kind of footage gives, never scored on what it was fitted on."""
    import numpy as np

    from emotion_batch.config import RunConfig
    from emotion_batch.labels import LABELS
    from emotion_batch.pipeline import VideoAnalyzer
    from emotion_batch.training import fusion_eval
    from emotion_batch.training.datasets import find_clips
    from emotion_batch.training.evaluate import classification_report
    from emotion_batch.training.train_fusion import records_from_timeline

    clips = [c for c in find_clips(data, require_audio=False) if c.path.suffix.lower() in VIDEO_SUFFIXES]
    if not clips:
        raise click.ClickException(f"no labelled RAVDESS/CREMA-D video clips under {data}")
    analyzer = VideoAnalyzer(RunConfig.from_flat(device=device, explain="none", fusion_params=str(fusion or "")))
    uniform = np.full(len(LABELS), 1.0 / len(LABELS))
    rows, preds, analysed = [], {"visual": [], "audio": [], "fused": []}, []
    for c in clips:
        res = analyzer(c.path)
        row = {"path": str(c.path), "actor": c.actor, "label": c.label_name, "status": res.status, "error": res.error}
        for name, prefix in (("visual", "v"), ("audio", "a"), ("fused", "p")):
            p = clip_prediction(res.timeline, prefix) if res.ok else None
            # no output for this modality: a uniform guess, scored like any other prediction
            p = uniform if p is None else p
            preds[name].append(p)
            row[name] = LABELS[int(np.argmax(p))]
        records = records_from_timeline(res.timeline, c.label) if res.ok else []
        analysed.append(fusion_eval.LabelledClip(str(c.path), c.actor, c.label, records))
        rows.append(row)
    folds = None
    if cross_fit and len({c.actor for c in clips}) >= 2:
        cv, folds = fusion_eval.cross_fit(analysed, analyzer.fusion_params)
        preds["fused_cv"] = [uniform if p is None else p for p in cv]
        for row, p in zip(rows, preds["fused_cv"]):
            row["fused_cv"] = LABELS[int(np.argmax(p))]
    labels = [c.label for c in clips]
    reports = {name: classification_report(labels, np.stack(p)) for name, p in preds.items()}
    all_records = [r for c in analysed for r in c.records]
    return {
        "data": str(data),
        "model_version": analyzer.model_version,
        "fusion": str(fusion) if fusion else "shipped defaults",
        "mean_w_audio": fusion_eval.mean_w_audio(analyzer.fusion_params, all_records),
        "reports": {k: r.to_dict() for k, r in reports.items()},
        "text": {k: r.format() for k, r in reports.items()},
        "cross_fit_folds": folds,
        "clips": rows,
    }


@evaluate.command("av")
@click.option("--data", type=click.Path(exists=True, path_type=Path), required=True,
              help="A folder of labelled audio-visual clips (RAVDESS 01-01-*.mp4, CREMA-D *.flv/*.mp4).")
@click.option("--device", default="auto", show_default=True)
@click.option("--fusion", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A fusion gate file from `train fusion` (default: the shipped gate).")
@click.option("--cross-fit/--no-cross-fit", default=True, show_default=True,
              help="Also score fusion with the gate fitted on the other actors' clips (fused_cv).")
@click.option("--json", "as_json", is_flag=True, help="Print reports and per-clip predictions as JSON.")
def evaluate_av_cmd(data: Path, device: str, fusion: Path | None, cross_fit: bool, as_json: bool) -> None:
    """Visual-only, audio-only and fused accuracy side by side, per clip."""
    result = evaluate_av(data, device, fusion, cross_fit)
    if as_json:
        click.echo(json.dumps({k: v for k, v in result.items() if k != "text"}, indent=2))
        return
    click.echo(f"model: {result['model_version']}\ndata: {result['data']}  ({len(result['clips'])} clips)")
    w = result["mean_w_audio"]
    click.echo(f"fusion gate: {result['fusion']}" + (f" (mean audio weight {w:.2f})" if w is not None else "") + "\n")
    acc = {k: r["accuracy"] for k, r in result["reports"].items()}
    click.echo("accuracy  " + "  ".join(f"{k} {v:.1%}" for k, v in acc.items()))
    if result["cross_fit_folds"]:
        click.echo("fused_cv: gate fitted on the other actors, per held-out actor: " + ", ".join(
            f"{f['held_out_actor']} (w_audio {f['mean_w_audio']:.2f})" if f["mean_w_audio"] is not None
            else f"{f['held_out_actor']}" for f in result["cross_fit_folds"]))
    click.echo("")
    for name, text in result["text"].items():
        click.echo(f"== {name} ==\n{text}\n")

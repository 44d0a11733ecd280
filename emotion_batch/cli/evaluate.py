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

"""Plotly figures of one video page, rendered as HTML snippets (plotly.js loaded once per page).

Every function takes already-binned frames (see data.py), so the number of points drawn is
bounded whatever the video's length. Only labels, numbers and fixed titles go into the
figures; file names never do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from emotion_batch.labels import LABELS
from emotion_batch.schemas import AUDIO_GROUPS, FACE_GROUPS
from emotion_batch.report.data import COLORS, label_matrix

CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["toImage"]}
MARGIN = dict(l=55, r=15, t=30, b=35)


def time_axis(index: pd.Index, span_s: int) -> tuple[np.ndarray, str]:
    """x values and axis title: seconds for short videos, minutes for long ones."""
    x = np.asarray(index, dtype=np.float32)
    if span_s > 900:
        return x / np.float32(60), "time (min)"
    return x, "time (s)"


def x_range(span_s: int) -> list[float]:
    return [0, span_s / 60 if span_s > 900 else span_s]


def to_html(fig: go.Figure, height: int) -> str:
    fig.update_layout(height=height, margin=MARGIN, template="plotly_white",
                      legend=dict(orientation="h", y=1.12, x=0))
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config=CONFIG)


def fused_area(b: pd.DataFrame, span_s: int) -> str:
    """Stacked areas of the fused probabilities p_* of one face."""
    x, title = time_axis(b.index, span_s)
    fig = go.Figure()
    for lab in LABELS:
        fig.add_trace(go.Scatter(
            x=x, y=b[f"p_{lab}"].to_numpy(), name=lab, stackgroup="p", mode="lines",
            line=dict(width=0.5, color=COLORS[lab], shape="hvh"),  # bins are flat steps
            hovertemplate=f"{lab} %{{y:.2f}}<extra></extra>",
        ))
    fig.update_yaxes(range=[0, 1], title="fused p")
    fig.update_layout(legend_traceorder="normal")
    fig.update_xaxes(title=title, range=x_range(span_s))
    return to_html(fig, 260)


def experts(b: pd.DataFrame, span_s: int) -> str:
    """Visual and audio expert probabilities as two heat strips, plus the fusion weights."""
    x, title = time_axis(b.index, span_s)
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.4, 0.4, 0.2],
                        subplot_titles=("visual expert", "audio expert", "fusion weight"))
    for row, prefix in ((1, "v"), (2, "a")):
        fig.add_trace(go.Heatmap(
            x=x, y=list(LABELS), z=label_matrix(b, prefix), zmin=0, zmax=1,
            colorscale="Viridis", showscale=row == 1, colorbar=dict(len=0.6, y=0.7),
            hovertemplate="%{y} %{z:.2f}<extra></extra>",
        ), row=row, col=1)
    for col, color in (("w_visual", "#2a9d8f"), ("w_audio", "#e76f51")):
        fig.add_trace(go.Scatter(x=x, y=b[col].to_numpy(), name=col, mode="lines",
                                 line=dict(color=color, width=1)), row=3, col=1)
    fig.update_yaxes(range=[0, 1], row=3, col=1)
    fig.update_xaxes(range=x_range(span_s))
    fig.update_xaxes(title=title, row=3, col=1)
    return to_html(fig, 420)


def speaking(b: pd.DataFrame, span_s: int, face: bool = True) -> str:
    """When a face speaks: a heat strip of its speaker_p (mean per bin) and of the share of the
    bin's seconds in which its row carries the voice (voice_owner); the no-face row has only
    the latter."""
    x, title = time_axis(b.index, span_s)
    rows = [("carries the voice", "voice_owner")] + ([("speaker_p", "speaker_p")] if face else [])
    fig = go.Figure(go.Heatmap(
        x=x, y=[name for name, _ in rows], z=np.stack([b[col].to_numpy() for _, col in rows]), zmin=0, zmax=1,
        colorscale="Oranges", colorbar=dict(len=0.9, thickness=10),
        hovertemplate="%{y} %{z:.2f}<extra></extra>",
    ))
    fig.update_xaxes(title=title, range=x_range(span_s))
    return to_html(fig, 90 + 35 * len(rows))


def modality(b: pd.DataFrame, span_s: int) -> str:
    """Exact modality Shapley values of the explained label over time."""
    x, title = time_axis(b.index, span_s)
    fig = go.Figure()
    for col, name, color in (("shap_visual", "visual", "#2a9d8f"),
                             ("shap_audio", "audio", "#e76f51")):
        fig.add_trace(go.Scatter(x=x, y=b[col].to_numpy(), name=name, mode="lines",
                                 line=dict(color=color, width=1.2)))
    fig.add_trace(go.Scatter(x=x, y=b["p_label"].to_numpy(), name="p(label)", mode="lines",
                             line=dict(color="#555", width=1, dash="dot")))
    fig.update_yaxes(title="Shapley value")
    fig.update_xaxes(title=title, range=x_range(span_s))
    return to_html(fig, 240)


def group_bars(at: pd.DataFrame, faces: list[int]) -> str:
    """Mean |attribution| per feature group, one bar series per face."""
    groups = [f"g_{g}" for g in FACE_GROUPS + AUDIO_GROUPS]
    fig = go.Figure()
    for face in faces:
        rows = at[at["face_id"] == face]
        if rows.empty:
            continue
        means = rows[groups].abs().mean().to_numpy()
        fig.add_trace(go.Bar(x=[g[2:] for g in groups], y=means, name=f"face {face}"))
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="mean |attribution|")
    return to_html(fig, 280)

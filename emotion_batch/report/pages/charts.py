"""Plotly figure specs (plain dicts, JSON-ready) of a face's detail charts.

The page carries them in its data island and assets/report.js draws one with the shared
plotly.js when its `<details>` is opened: no figure is built in Python (plotly's graph objects
cost tens of milliseconds each) and a page loads without laying out charts nobody opened.
To keep pages light a trace's y (or z) is in hundredths (`values`) and its x is the figure's
one shared "x" list; assets/report.js puts both back before drawing. Every chart's x axis is whole seconds from 0 to the video's span, the same axis as the swim
lanes: a bin is drawn as a step from its first second. Only labels, numbers and fixed titles
go into the specs; file names never do.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emotion_batch.labels import LABELS
from emotion_batch.schemas import AUDIO_GROUPS, FACE_GROUPS
from emotion_batch.report.data import COLORS, label_matrix

MARGIN = {"l": 170, "r": 12, "t": 30, "b": 35}  # the lanes' label column and right padding: x axes line up


def values(a) -> list:
    """Hundredths as integers (the page divides by 100: a third of the bytes of 3-decimal
    floats, and finer than a chart can show), NaN as null."""
    arr = np.round(np.asarray(a, dtype=np.float64) * 100)
    nan = np.isnan(arr)
    ints = np.where(nan, 0, arr).astype(np.int64)  # a row of a 2-D array: a list of its own
    if not nan.any():
        return ints.tolist()
    out = ints.astype(object)
    out[nan] = None
    return out.tolist()


def starts(b: pd.DataFrame, width: int) -> list:
    """Whole-second start of each bin (binned_means indexes bins by their centre)."""
    return np.round(b.index.to_numpy(np.float64) - width / 2).astype(np.int64).tolist()


def centres(x: list, width: int) -> list:
    """A heatmap's x: cell centres, so a cell covers its bin's whole seconds."""
    return (np.asarray(x, dtype=np.float64) + width / 2).tolist()


def _fig(data: list[dict], layout: dict, x: list | None = None, width: int = 1) -> dict:
    """A spec whose traces share the figure's x (dropped from each trace that uses it); the
    steps of those traces get one more point at the end of the last bin, so the last step is
    drawn as wide as the others."""
    for t in data:
        if x is not None and t.get("x") is x:
            del t["x"]
            t["y"] = t["y"] + t["y"][-1:]
    return {"data": data, "layout": layout, "x": None if x is None else (x + [x[-1] + width] if x else x)}


def _xaxis(span_s: int, title: bool = True) -> dict:
    axis = {"range": [0, max(span_s, 1)], "rangemode": "tozero", "tick0": 0, "zeroline": False,
            "gridcolor": "#eceff2"}
    if title:
        axis["title"] = {"text": "time (s)"}
    return axis


def _layout(height: int, span_s: int, **extra) -> dict:
    layout = {"height": height, "margin": MARGIN, "paper_bgcolor": "#fff", "plot_bgcolor": "#fff",
              "legend": {"orientation": "h", "y": 1.15, "x": 0}, "xaxis": _xaxis(span_s),
              "hovermode": "x"}
    layout.update(extra)
    return layout


def fused_area(b: pd.DataFrame, width: int, span_s: int) -> dict:
    """Stacked areas of the fused probabilities p_* of one face."""
    x = starts(b, width)
    data = [{"type": "scatter", "x": x, "y": values(b[f"p_{lab}"]), "name": lab, "stackgroup": "p",
             "mode": "lines", "line": {"width": 0.5, "color": COLORS[lab], "shape": "hv"},
             "hovertemplate": f"{lab} %{{y:.2f}}<extra></extra>"} for lab in LABELS]
    return _fig(data, _layout(260, span_s, yaxis={"range": [0, 1], "title": {"text": "fused p"}}), x, width)


def experts(b: pd.DataFrame, width: int, span_s: int) -> dict:
    """Visual and audio expert probabilities as two heat strips, plus the fusion weights."""
    x = starts(b, width)
    data = []
    for axis, prefix, name in (("y", "v", "visual expert"), ("y2", "a", "audio expert")):
        data.append({"type": "heatmap", "x": centres(x, width), "y": list(LABELS),
                     "z": values(label_matrix(b, prefix)), "zmin": 0, "zmax": 1, "colorscale": "Viridis",
                     "showscale": False, "yaxis": axis, "name": name,
                     "hovertemplate": name + " %{y} %{z:.2f}<extra></extra>"})
    for col, color in (("w_visual", "#2a9d8f"), ("w_audio", "#e76f51")):
        data.append({"type": "scatter", "x": x, "y": values(b[col]), "name": col, "mode": "lines",
                     "line": {"color": color, "width": 1, "shape": "hv"}, "yaxis": "y3"})
    return _fig(data, _layout(
        420, span_s,
        yaxis={"domain": [0.62, 1.0], "title": {"text": "visual"}},
        yaxis2={"domain": [0.26, 0.6], "title": {"text": "audio"}},
        yaxis3={"domain": [0.0, 0.2], "range": [0, 1], "title": {"text": "weight"}}), x, width)


def speaking(b: pd.DataFrame, width: int, span_s: int, face: bool = True) -> dict:
    """Share of each bin's seconds in which the row carries the voice, and (faces) speaker_p."""
    rows = [("carries the voice", "voice_owner")] + ([("speaker_p", "speaker_p")] if face else [])
    z = np.stack([b[col].to_numpy(np.float64) for _, col in rows])
    x = starts(b, width)
    data = [{"type": "heatmap", "x": centres(x, width), "y": [name for name, _ in rows], "z": values(z),
             "zmin": 0, "zmax": 1, "colorscale": "Oranges", "showscale": False,
             "hovertemplate": "%{y} %{z:.2f}<extra></extra>"}]
    return _fig(data, _layout(90 + 35 * len(rows), span_s), x, width)


def modality(b: pd.DataFrame, width: int, span_s: int) -> dict:
    """Exact modality Shapley values of the explained label over time."""
    x = starts(b, width)
    data = [{"type": "scatter", "x": x, "y": values(b[col]), "name": name, "mode": "lines",
             "line": {"color": color, "width": 1.2, "shape": "hv"}}
            for col, name, color in (("shap_visual", "visual", "#2a9d8f"), ("shap_audio", "audio", "#e76f51"))]
    data.append({"type": "scatter", "x": x, "y": values(b["p_label"]), "name": "p(label)", "mode": "lines",
                 "line": {"color": "#555", "width": 1, "dash": "dot", "shape": "hv"}})
    return _fig(data, _layout(240, span_s, yaxis={"title": {"text": "Shapley value"}}), x, width)


def group_bars(at: pd.DataFrame, faces: list[int]) -> dict | None:
    """Mean |attribution| per feature group, one bar series per face (None: nothing to draw)."""
    groups = [f"g_{g}" for g in FACE_GROUPS + AUDIO_GROUPS]
    data = []
    for face in faces:
        rows = at[at["face_id"] == face]
        if not rows.empty:
            data.append({"type": "bar", "x": [g[2:] for g in groups], "y": values(rows[groups].abs().mean()),
                         "name": f"face {face}"})
    if not data:
        return None
    return _fig(data, {"height": 280, "margin": MARGIN, "barmode": "group",
                                     "paper_bgcolor": "#fff", "plot_bgcolor": "#fff",
                                     "legend": {"orientation": "h", "y": 1.15, "x": 0},
                                     "yaxis": {"title": {"text": "mean |attribution|"}}})

"""Analyse one video, with no Ray: `VideoAnalyzer` runs the stages (stage.py) in order and
reports each step's typed artifact to the hook passed with the call (hooks.py; see
analyzer.py and docs/architecture.md).

Names are loaded on first use: `VideoResult`, the hooks and `model_version` need neither torch
nor the models (what planning tasks and the Ray driver import), `VideoAnalyzer` loads both."""

from __future__ import annotations

import importlib

_WHERE = {
    "AlignedFaces": "analyzer", "ChunkFaces": "analyzer", "VideoAnalyzer": "analyzer",
    "Hook": "hooks", "Hooks": "hooks", "ProgressHook": "hooks", "TimingHook": "hooks", "VideoRef": "hooks",
    "Stage": "stage", "resolve_device": "device", "Status": "result", "VideoResult": "result",
    "ALGORITHM_VERSION": "version", "model_version": "version",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value

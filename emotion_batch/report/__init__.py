"""Static offline HTML report of a results folder: `build_report(results_root, out_dir)`."""

from emotion_batch.report.build import build_report

__all__ = ["build_report"]

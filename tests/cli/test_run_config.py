"""The run's result-changing options (`config_options`, shared with jobs/analyze.py) reach the
typed RunConfig through `build_config`; a bad value stops `run` with one plain line."""

from __future__ import annotations

import click
from click.testing import CliRunner

from emotion_batch.cli import main
from emotion_batch.cli.run import build_config, config_options
from emotion_batch.config import RunConfig, SyncConfig


def _config(args: list[str]) -> RunConfig:
    seen = []

    @click.command()
    @config_options
    def cmd(**kw):
        seen.append(build_config(**kw))

    r = CliRunner().invoke(cmd, args)
    assert r.exit_code == 0, r.output
    return seen[0]


def test_the_sync_options_reach_the_run_config():
    c = _config(["--sync-window", "10", "--sync-windows", "0", "--sync-segment", "5", "--sync-min-confidence", "0.5",
                 "--max-av-shift", "2", "--explain", "all"])
    assert c.sync == SyncConfig(max_av_shift_s=2.0, window_s=10.0, max_windows=0, segment_s=5.0, min_confidence=0.5)
    assert c.explain.mode == "all" and c.explain.every == 5
    assert c.config_hash() != _config([]).config_hash()


def test_the_defaults_are_the_run_configs():
    assert _config([]) == RunConfig()


def test_a_sync_setting_out_of_range_stops_the_run_with_one_line(tmp_path):
    r = CliRunner().invoke(main, ["run", str(tmp_path), "--out", str(tmp_path / "r"), "--sync-window", "0.5"])
    assert r.exit_code == 2
    assert "--sync-window must be at least 1 s, got 0.5" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "r").exists()

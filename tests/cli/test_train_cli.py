"""`train` writes where it is told, and into the installed package only when asked (issue 22)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from emotion_batch.cli import main
from emotion_batch.cli.train import PACKAGE_DIR, WEIGHTS_DIR, _target, train_audio_cmd, train_fusion_cmd


def _default(cmd, name):
    return next(p.default for p in cmd.params if p.name == name)


def test_defaults_are_folders_in_the_working_directory_not_the_package():
    for cmd, name in ((train_audio_cmd, "out_dir"), (train_fusion_cmd, "out_path")):
        default = Path(_default(cmd, name))
        assert not default.is_absolute() and not (Path.cwd() / default).resolve().is_relative_to(PACKAGE_DIR)


@pytest.mark.parametrize("args", [["audio", "--out", str(WEIGHTS_DIR)],
                                  ["fusion", "--out", str(WEIGHTS_DIR / "fusion_fitted.json")]])
def test_a_path_inside_the_package_is_refused_before_any_work(tmp_path, args):
    before = sorted((p.name, p.stat().st_mtime_ns) for p in WEIGHTS_DIR.iterdir())
    r = CliRunner().invoke(main, ["train", args[0], "--data", str(tmp_path), *args[1:]])
    assert r.exit_code == 2 and "--into-package" in r.output and "inside the installed package" in r.output
    assert sorted((p.name, p.stat().st_mtime_ns) for p in WEIGHTS_DIR.iterdir()) == before


def test_into_package_is_the_explicit_way_in(tmp_path):
    assert _target(tmp_path / "w", True, WEIGHTS_DIR) == WEIGHTS_DIR
    assert _target(tmp_path / "w", False, WEIGHTS_DIR) == tmp_path / "w"

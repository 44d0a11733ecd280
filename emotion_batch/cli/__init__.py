"""The `emotion-batch` command line (same as `python cli.py`).

One module per command group, imported only when that command runs, so that
`emotion-batch query ...` does not pay for importing torch and Ray.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

# command name -> "module:attribute"; a module that is missing simply hides its command.
COMMANDS = {
    "run": "emotion_batch.cli.run:run",
    "samples": "emotion_batch.cli.samples:samples",
    "query": "emotion_batch.cli.query:query",
    "report": "emotion_batch.cli.report:report",
    "train": "emotion_batch.cli.train:train",
    "evaluate": "emotion_batch.cli.evaluate:evaluate",
}


def _available(name: str) -> bool:
    module = COMMANDS[name].split(":")[0]
    return importlib.util.find_spec(module) is not None


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [n for n in COMMANDS if _available(n)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _available(name):
            return None
        module, attr = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["argv"] = list(args)  # the command as given (`run` may start it again: cli/supervise.py)
        return super().parse_args(ctx, args)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="emotion-batch")
def main() -> None:
    """Per-second, per-face audio-visual emotion timelines for folders of videos."""

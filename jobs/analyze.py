#!/usr/bin/env python
"""Ray job entrypoint: analyse a folder of videos on the cluster this job runs on.

    ray job submit --address http://HEAD:8265 --working-dir . \
        --runtime-env jobs/runtime_env.yaml -- \
        python jobs/analyze.py /mnt/videos --out s3://my-bucket/emotion-results

INPUT must be readable at the same path on every node (a shared mount); --out may be a
shared path or any pyarrow filesystem URI (s3://, gs://, file://) that every node can write.
Same options as `emotion-batch run`, except that it joins the job's cluster (address
"auto", i.e. RAY_ADDRESS set by the job supervisor) instead of starting one.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Import the package from the uploaded working dir (--working-dir .), not an older install.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import click  # noqa: E402

from emotion_batch.cli.run import ENGINE_OPTIONS, build_config, config_options, engine_config, execute, ray_options  # noqa: E402


@click.command()
@click.argument("input_path", metavar="INPUT", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", required=True,
              help="Results location every node can write: a shared path or an s3://, gs://, file:// URI.")
@click.option("--force", is_flag=True, help="Redo videos that are already finished.")
@click.option("--progress/--no-progress", default=True, help="Progress bar in the job log.")
@ray_options
@config_options
def main(*, input_path, out, force, progress, **kw):
    """Analyse INPUT (files or folders) into per-second emotion timelines under --out."""
    engine = {k: kw.pop(k) for k in ENGINE_OPTIONS}
    engine = engine_config(progress=progress, **{**engine, "address": engine["address"] or "auto"})
    config = build_config(**kw)
    sys.exit(execute(list(input_path), out=out, config=config, engine=engine, force=force))


if __name__ == "__main__":
    main()

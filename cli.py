#!/usr/bin/env python
"""Thin front: `python cli.py ...` is the same as the `emotion-batch` console script."""

from emotion_batch.cli import main

if __name__ == "__main__":
    main()

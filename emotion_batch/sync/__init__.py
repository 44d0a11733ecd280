"""A/V sync: the video's audio offset (and drift) by DTW of mouth motion against the audio,
and per-second speaking scores of each face track."""

from emotion_batch.sync.analyse import *  # noqa: F401,F403

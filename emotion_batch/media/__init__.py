"""The media stage: what a file holds (`probe`), its frames at the analysis rate (`iter_frames`),
its audio by time range (`read_audio`), short full-rate windows for A/V sync (`windows`), and its
content identity (`fingerprint`).

`probe` indexes the video with decord (every frame's container timestamp, so variable frame
rate and 120 fps files are exact). Frames are streamed with PyAV at the analysis rate, each
with its real container timestamp (see `iter_frames` for why not decord). Frames with a
negative timestamp are codec pre-roll that players do not show (edit lists); they are dropped.

Audio is read with PyAV rather than decord's AudioReader, for two measured reasons:
decord's reader decodes the whole track into memory at construction (memory grows with
length), and it ignores the audio stream's start time (in a sample file whose audio starts
2.43 s into the video it returns the samples as if they started at 0, misplacing every
window). PyAV lets us seek, stream a time range, and place samples by their timestamps.
Where a read reaches the end of the track, the decoded duration is checked against the
duration the container declares, so a silently truncated track is reported, not used.
"""

from emotion_batch.media.audio import AUDIO_RATE, AudioClip, read_audio
from emotion_batch.media.frames import LUMA, FrameChunk, iter_frames, sample_indices
from emotion_batch.media.identity import fingerprint
from emotion_batch.media.probe import MediaError, MediaInfo, probe

__all__ = [
    "AUDIO_RATE", "AudioClip", "FrameChunk", "LUMA", "MediaError", "MediaInfo", "fingerprint", "iter_frames",
    "probe", "read_audio", "sample_indices",
]

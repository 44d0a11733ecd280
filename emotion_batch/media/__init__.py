"""The media stage: what a file holds (`probe`), its frames at the analysis rate (`iter_frames`),
its audio by time range (`read_audio`), short full-rate windows for A/V sync (`windows`), and its
content identity (`fingerprint`).

Everything is read with PyAV (FFmpeg), so every container and codec the FFmpeg build decodes is
analysed (H.264, HEVC incl. 10-bit, VP8/VP9, AV1, MPEG-4, MJPEG, ProRes, ...). `probe` indexes
the video by demuxing its packets (every frame's container timestamp, so variable frame rate and
120 fps files are exact) and decodes one picture for the rotation. Frames are streamed at the
analysis rate, upright, each with its real container timestamp (see `iter_frames` for why not
decord). Frames with a negative timestamp are codec pre-roll that players do not show (edit
lists); they are dropped. A file cut short is read up to where its data ends (a warning in
`MediaInfo.warnings` / `DecodeReport`); a file with audio but no video is `has_video=False`.

Audio is read with PyAV rather than decord's AudioReader, for two measured reasons:
decord's reader decodes the whole track into memory at construction (memory grows with
length), and it ignores the audio stream's start time (in a sample file whose audio starts
2.43 s into the video it returns the samples as if they started at 0, misplacing every
window). PyAV lets us seek, stream a time range, and place samples by their timestamps.
`probe` finds where the audio data really ends (`MediaInfo.audio_span`), so a track cut short
is used up to there and reported as truncated, never read past its end as silence.
"""

from emotion_batch.media.audio import AUDIO_RATE, AudioClip, read_audio
from emotion_batch.media.container import DecodeReport
from emotion_batch.media.frames import LUMA, FrameChunk, iter_frames, sample_indices
from emotion_batch.media.identity import fingerprint
from emotion_batch.media.probe import MediaError, MediaInfo, media_warning, probe

__all__ = [
    "AUDIO_RATE", "AudioClip", "DecodeReport", "FrameChunk", "LUMA", "MediaError", "MediaInfo", "fingerprint", "iter_frames", "media_warning",
    "probe", "read_audio", "sample_indices",
]

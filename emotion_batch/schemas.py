"""Declared Arrow schemas of the three output tables.

The tables join on (video_id, face_id, second). face_id -1 marks an audio-only row: a second
with no face, or a second whose speech no visible face owns (an off-screen voice; see
`fusion/timeline.py`). Probabilities are in `LABELS` order and are null when the modality
that produces them is absent.

Timeline columns about who speaks: `speaking` is the face's per-second speaking score (mouth
motion against the aligned audio, `sync/speakers.py`), measured for every (face, second);
`speaker_p` is the fitted probability that the face is the one speaking (`fusion/speaker.py`),
which scales the face's audio weight in fusion; `voice_owner` is True on exactly one row of
each second whose speech fusion uses (audio present, speech >= min_speech): the face with the
highest speaker_p when it is >= 0.5, else the face_id -1 row; False elsewhere.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from emotion_batch.labels import LABELS

# 2: manifest warning, has_video, duplicate_of; timeline speaker_p, voice_owner
# 3: timeline v_emotion, a_emotion (files of version 2 lack them: readers compute them, query.py)
SCHEMA_VERSION = "3"

NO_FACE = -1

PROB_PREFIXES = {"p": "fused", "v": "visual expert", "a": "audio expert"}


def prob_columns(prefix: str) -> list[str]:
    return [f"{prefix}_{label}" for label in LABELS]


def top_labels(probs: np.ndarray) -> pa.Array:
    """The label of each row's highest probability (`LABELS` order, the first on a tie), null
    where the row has no reading (NaN): how `emotion`, `v_emotion` and `a_emotion` are made."""
    probs = np.asarray(probs, np.float32).reshape(-1, len(LABELS))
    absent = np.isnan(probs).any(axis=1)
    top = np.argmax(np.nan_to_num(probs, nan=-1.0), axis=1)
    return pa.array(np.array(LABELS, object)[top], mask=absent, type=pa.string())


_KEY = [
    pa.field("video_id", pa.string(), nullable=False),
    pa.field("face_id", pa.int32(), nullable=False),
    pa.field("second", pa.int32(), nullable=False),
]

TIMELINE_SCHEMA = pa.schema(
    _KEY
    + [
        pa.field("t_start", pa.float64(), nullable=False),
        pa.field("t_end", pa.float64(), nullable=False),
        pa.field("n_frames", pa.int32(), nullable=False),  # analysed frames with this face
        pa.field("face_score", pa.float32()),  # mean MTCNN probability; null for face_id -1
        pa.field("box_x1", pa.float32()),  # mean face box in full-resolution pixels
        pa.field("box_y1", pa.float32()),
        pa.field("box_x2", pa.float32()),
        pa.field("box_y2", pa.float32()),
        pa.field("speech", pa.float32()),  # voice-activity fraction of the second, 0 without audio
        pa.field("speaking", pa.float32()),  # how well this face's mouth follows the aligned audio, [0, 1]
        pa.field("speaker_p", pa.float32()),  # P(this face is the one speaking); null for face_id -1
        pa.field("voice_owner", pa.bool_()),  # the row carrying this second's voice (usable speech only)
    ]
    + [pa.field(c, pa.float32()) for pfx in PROB_PREFIXES for c in prob_columns(pfx)]
    + [
        pa.field("emotion", pa.string()),  # argmax of p_*
        pa.field("confidence", pa.float32()),  # max of p_*
        pa.field("v_emotion", pa.string()),  # argmax of v_* (the visual expert's label); null without a face
        pa.field("a_emotion", pa.string()),  # argmax of a_* (the audio expert's label); null without audio
        pa.field("w_visual", pa.float32()),
        pa.field("w_audio", pa.float32()),
    ]
)

FACE_GROUPS = ("brows_eyes", "nose_cheeks", "mouth_jaw", "face_rest")
AUDIO_GROUPS = ("audio_low", "audio_mid", "audio_high", "audio_early", "audio_late")

ATTRIBUTION_SCHEMA = pa.schema(
    _KEY
    + [
        pa.field("label", pa.string(), nullable=False),  # the explained (predicted) label
        pa.field("p_label", pa.float32(), nullable=False),  # fused probability of that label
        pa.field("shap_visual", pa.float32(), nullable=False),
        pa.field("shap_audio", pa.float32(), nullable=False),
        pa.field("shap_base", pa.float32(), nullable=False),
    ]
    + [pa.field(f"g_{g}", pa.float32()) for g in FACE_GROUPS + AUDIO_GROUPS]
)

STAGES = ("decode", "detect", "align", "audio", "sync", "models", "explain", "write")

MANIFEST_SCHEMA = pa.schema(
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("size_bytes", pa.int64()),
        pa.field("status", pa.string(), nullable=False),  # ok | failed | duplicate
        pa.field("error", pa.string()),  # one line, null when ok
        # one line when the file was analysed but not whole, e.g. "truncated: video data ends at
        # 13.5 s of 19.7 s declared; analysed up to there" (several joined by " | "); null when
        # the file was read whole
        pa.field("warning", pa.string()),
        pa.field("duration_s", pa.float64()),
        pa.field("fps", pa.float64()),  # container average frame rate
        pa.field("n_frames", pa.int64()),
        pa.field("width", pa.int32()),  # as displayed (rotation applied); null without video
        pa.field("height", pa.int32()),
        pa.field("has_video", pa.bool_()),  # false: an audio-only file, analysed as voice-only rows
        pa.field("has_audio", pa.bool_()),
        pa.field("faces_found", pa.int32()),  # distinct face tracks
        pa.field("face_seconds", pa.int32()),  # timeline rows with a face
        pa.field("av_offset_s", pa.float64()),
        pa.field("av_confidence", pa.float64()),
        pa.field("av_method", pa.string()),
        pa.field("model_version", pa.string(), nullable=False),
        pa.field("config_hash", pa.string(), nullable=False),
        pa.field("config_json", pa.string()),
        pa.field("schema_version", pa.string(), nullable=False),
        pa.field("duplicate_of", pa.string()),  # status duplicate: the path analysed for this content
    ]
    + [pa.field(f"t_{s}", pa.float64()) for s in STAGES]
    + [
        pa.field("t_total", pa.float64()),
        pa.field("worker", pa.string()),
        pa.field("device", pa.string()),
        pa.field("started_at", pa.string()),  # ISO 8601 UTC
        pa.field("finished_at", pa.string()),
    ]
)

TABLES = {
    "timelines": TIMELINE_SCHEMA,
    "attributions": ATTRIBUTION_SCHEMA,
    "videos": MANIFEST_SCHEMA,
}

# ---- identity (issue 24; emotion_batch/identity, docs/identity.md). Not in TABLES: written by
# the identity step, under tracks/<video_id>.parquet and persons/persons.parquet.
EMBEDDING_DIM = 128
TRACK_SCHEMA = pa.schema(  # one row per (video_id, face_id): a track, its embedding and its person
    [
        pa.field("video_id", pa.string(), nullable=False),
        pa.field("face_id", pa.int32(), nullable=False),
        pa.field("person_id", pa.int64()),  # null: no usable view of the face (see reason)
        pa.field("video_person", pa.int32()),  # the person within this video (0, 1, ...), null likewise
        pa.field("t_first", pa.float64()),
        pa.field("t_last", pa.float64()),
        pa.field("seconds", pa.int32()),  # seconds with this track
        pa.field("n_crops", pa.int32()),  # chips averaged into the embedding
        pa.field("quality", pa.float32()),  # the best chip's score (size x frontality x detection)
        pa.field("crop_t", pa.float64()),  # the best chip: its frame time and box (a crop reference)
        pa.field("crop_box", pa.list_(pa.float32(), 4)),
        pa.field("embedding", pa.list_(pa.float32(), EMBEDDING_DIM)),  # unit dlib descriptor (biometric)
        pa.field("reason", pa.string()),  # why there is no embedding: too small | too blurred | ...
    ]
)
PERSON_SCHEMA = pa.schema(  # one row per person of a results folder; ids never change once given
    [
        pa.field("person_id", pa.int64(), nullable=False),
        pa.field("n_videos", pa.int32()),
        pa.field("videos", pa.list_(pa.string())),
        pa.field("n_tracks", pa.int32()),
        pa.field("seconds", pa.int64()),  # seconds seen, all videos
        pa.field("first_seen", pa.string()),  # ISO 8601 UTC of the run that gave the id
        pa.field("last_seen", pa.string()),  # ... and of the last run that matched a face to it
        pa.field("crop_video_id", pa.string()),  # representative crop: video, time, box
        pa.field("crop_face_id", pa.int32()),
        pa.field("crop_t", pa.float64()),
        pa.field("crop_box", pa.list_(pa.float32(), 4)),
        pa.field("centroid", pa.list_(pa.float32(), EMBEDDING_DIM)),  # mean unit embedding (biometric)
        pa.field("n_embeddings", pa.int64()),  # tracks averaged into the centroid
    ]
)

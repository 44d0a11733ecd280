"""Grouping embeddings into persons: within one video, and against a collection's persons.

Precision before recall: merging two people is worse than splitting one. Within a video,
tracks join by complete linkage (every pair of tracks in a person within the threshold), and
two tracks seen at the same time are never one person. Across videos a video's person joins
the collection's nearest person when their centroids are within the threshold, else it
becomes a new person. The threshold (cosine similarity of unit dlib descriptors) was chosen on
labelled faces: benchmarks/person_grouping.py, docs/identity.md.

`nearest` works in blocks of rows and columns, so 100,000 embeddings never make a 100,000 x
100,000 matrix (benchmarks/identity_scale.py).
"""

from __future__ import annotations

import numpy as np

MAX_LINKAGE = 2000  # tracks clustered at once; a video with more is taken in blocks of this many
SAME_PERSON_SIM = 0.94  # cosine similarity, chosen on labelled faces (docs/identity.md, benchmarks/embedder_compare.py)
BLOCK = 4096


def nearest(queries: np.ndarray, refs: np.ndarray, *, block: int = BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """For each query row (unit vectors), the index of the most similar ref row and the
    similarity (-1 and -inf when there are no refs). Memory: block x block floats."""
    n = len(queries)
    best = np.full(n, -1, np.int64)
    sim = np.full(n, -np.inf, np.float32)
    for i in range(0, n, block):
        q = queries[i : i + block]
        for j in range(0, len(refs), block):
            s = q @ refs[j : j + block].T
            k = s.argmax(axis=1)
            v = s[np.arange(len(q)), k]
            better = v > sim[i : i + block]
            sim[i : i + block][better] = v[better]
            best[i : i + block][better] = k[better] + j
    return best, sim


def _overlap(spans: np.ndarray) -> np.ndarray:
    """(N, N) bool: the spans [t_first, t_last] intersect (seen at the same time)."""
    a, b = spans[:, 0], spans[:, 1]
    return (a[:, None] <= b[None, :]) & (a[None, :] <= b[:, None])


def group_video(embeddings: np.ndarray, spans: np.ndarray, *, threshold: float = SAME_PERSON_SIM) -> np.ndarray:
    """Person labels 0, 1, ... (in order of first track) for one video's tracks: complete-linkage
    clusters of unit embeddings (N, D) whose every pair is at least `threshold` similar, with
    tracks whose time spans (N, 2) overlap kept apart."""
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, np.int32)
    if n == 1:
        return np.zeros(1, np.int32)
    if n > MAX_LINKAGE:
        return _group_in_blocks(embeddings, spans, threshold)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = 1.0 - np.clip(embeddings @ embeddings.T, -1.0, 1.0)
    together = _overlap(spans)
    np.fill_diagonal(together, False)
    dist[together] = 4.0  # beyond any threshold: complete linkage never joins them
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="complete")
    raw = fcluster(tree, t=1.0 - threshold, criterion="distance")
    first: dict[int, int] = {}
    for r in raw:  # relabel in order of the first track of each person
        first.setdefault(int(r), len(first))
    return np.array([first[int(r)] for r in raw], np.int32)


def centroids(embeddings: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Unit mean embedding per label 0..max."""
    k = int(labels.max()) + 1 if len(labels) else 0
    out = np.zeros((k, embeddings.shape[1] if embeddings.ndim == 2 else 0), np.float32)
    np.add.at(out, labels, embeddings)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def _group_in_blocks(embeddings: np.ndarray, spans: np.ndarray, threshold: float) -> np.ndarray:
    """A video with more than MAX_LINKAGE tracks (memory stays at MAX_LINKAGE^2): complete
    linkage per block of consecutive tracks, then each block's persons join the video's persons
    so far by centroid (best first, one to one, within the threshold) or start new ones."""
    labels = np.zeros(len(embeddings), np.int32)
    known = np.zeros((0, embeddings.shape[1]), np.float32)
    for start in range(0, len(embeddings), MAX_LINKAGE):
        part = slice(start, start + MAX_LINKAGE)
        local = group_video(embeddings[part], spans[part], threshold=threshold)
        cent = centroids(embeddings[part], local)
        best, sim = nearest(cent, known)
        glob = np.full(len(cent), -1, np.int64)
        taken: set[int] = set()
        for k in np.argsort(-sim):
            if sim[k] >= threshold and int(best[k]) not in taken:
                glob[k] = best[k]
                taken.add(int(best[k]))
        new = np.flatnonzero(glob < 0)
        glob[new] = len(known) + np.arange(len(new))
        known = np.vstack([known, cent[new]])
        labels[part] = glob[local]
    return labels

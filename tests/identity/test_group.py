"""Grouping: blocked nearest neighbours, complete linkage within a video, centroids."""

import numpy as np

from emotion_batch.identity.group import centroids, group_video, nearest


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_nearest_in_blocks_equals_the_full_matrix():
    rng = np.random.default_rng(0)
    q, r = _unit(rng.normal(size=(37, 16))), _unit(rng.normal(size=(53, 16)))
    best, sim = nearest(q, r, block=8)
    full = q @ r.T
    np.testing.assert_array_equal(best, full.argmax(axis=1))
    np.testing.assert_allclose(sim, full.max(axis=1), atol=1e-6)
    none_best, none_sim = nearest(q, r[:0])
    assert (none_best == -1).all() and np.isneginf(none_sim).all()


def test_group_video_joins_one_person_across_gaps_and_keeps_people_apart():
    rng = np.random.default_rng(1)
    a, b = _unit(rng.normal(size=(1, 32))), _unit(rng.normal(size=(1, 32)))
    noise = 0.05 * rng.normal(size=(5, 32))
    emb = _unit(np.vstack([a, b, a, b, a]) + noise)  # A | B | A | B | A, one after another
    spans = np.array([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], float)
    assert group_video(emb, spans, threshold=0.9).tolist() == [0, 1, 0, 1, 0]


def test_tracks_seen_at_the_same_time_are_never_one_person():
    rng = np.random.default_rng(2)
    a = _unit(rng.normal(size=(1, 32)))
    emb = _unit(np.vstack([a, a, a]) + 0.01 * rng.normal(size=(3, 32)))
    spans = np.array([[0, 5], [3, 8], [10, 12]], float)  # the first two overlap
    labels = group_video(emb, spans, threshold=0.9)
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])  # complete linkage: joins one of them only


def test_complete_linkage_does_not_chain():
    """a~b and b~c above the threshold but a, c below it: not one person (precision first)."""
    ang = np.deg2rad([0.0, 20.0, 40.0])
    emb = np.stack([np.cos(ang), np.sin(ang)], 1).astype(np.float32)  # cos 20 deg = 0.94, cos 40 = 0.77
    labels = group_video(emb, np.array([[0, 0], [1, 1], [2, 2]], float), threshold=0.9)
    assert len(set(labels.tolist())) == 2


def test_centroids_are_unit_means():
    emb = np.array([[1, 0], [0, 1], [1, 0]], np.float32)
    c = centroids(emb, np.array([0, 0, 1]))
    np.testing.assert_allclose(c, [[0.70710677, 0.70710677], [1, 0]], atol=1e-6)


def test_a_video_with_more_tracks_than_one_linkage_takes_is_grouped_in_blocks(monkeypatch):
    from emotion_batch.identity import group

    monkeypatch.setattr(group, "MAX_LINKAGE", 4)
    rng = np.random.default_rng(3)
    people = _unit(rng.normal(size=(3, 32)))
    who = [0, 1, 2, 0, 1, 0, 2, 2, 1, 0]
    emb = _unit(people[who] + 0.03 * rng.normal(size=(len(who), 32)))
    spans = np.stack([np.arange(10) * 2.0, np.arange(10) * 2.0 + 1], 1)
    labels = group.group_video(emb, spans, threshold=0.9)
    assert labels.tolist() == [0, 1, 2, 0, 1, 0, 2, 2, 1, 0]

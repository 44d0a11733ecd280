"""The one rule for which seconds get feature-group attributions."""

import numpy as np
import pytest

from emotion_batch.config import ExplainConfig
from emotion_batch.explain import explain_mask, wants_groups


def test_explain_mask_modes():
    s = np.arange(12)
    assert explain_mask(s, "all").all() and not explain_mask(s, "none").any()
    np.testing.assert_array_equal(np.flatnonzero(explain_mask(s, "sample", 5)), [0, 5, 10])
    with pytest.raises(ValueError):
        explain_mask(s, "some")


def test_wants_groups_modes():
    assert [wants_groups(ExplainConfig("sample", every=2), s) for s in range(4)] == [True, False, True, False]
    assert all(wants_groups(ExplainConfig("all"), s) for s in range(3))
    assert not any(wants_groups(ExplainConfig("none"), s) for s in range(3))


def test_the_pipeline_rule_and_the_mask_agree():
    seconds = np.arange(23)
    for mode in ("all", "sample", "none"):
        cfg = ExplainConfig(mode, every=4)
        assert explain_mask(seconds, mode, 4).tolist() == [wants_groups(cfg, int(s)) for s in seconds]

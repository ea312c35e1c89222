"""The Aave version table of chain.aave_v3: POOL_REVISION -> protocol version, cross-checked with the
getters each line added (no chain needed: the function is pure; the devnet reads are in test_aave36)."""

from __future__ import annotations

import pytest

from chain.aave_v3 import POOL_REVISION_VERSIONS, aave_version_from_revision
from risk.exact import aave_hf_rule, aave_liquidation_rule

# Getters a pool of each version answers (True = present).
FEATURES = {
    "aave-v3.0": dict(isolated_emode=False, ltvzero_bitmap=False, reserve_deficit=False, collateral_bitmap=False, grace_period=False),
    "aave-v3.1": dict(isolated_emode=False, ltvzero_bitmap=False, reserve_deficit=False, collateral_bitmap=False, grace_period=True),
    "aave-v3.2": dict(isolated_emode=False, ltvzero_bitmap=False, reserve_deficit=False, collateral_bitmap=True, grace_period=True),
    "aave-v3.3": dict(isolated_emode=False, ltvzero_bitmap=False, reserve_deficit=True, collateral_bitmap=True, grace_period=True),
    "aave-v3.4": dict(isolated_emode=False, ltvzero_bitmap=False, reserve_deficit=True, collateral_bitmap=True, grace_period=True),
    "aave-v3.5": dict(isolated_emode=False, ltvzero_bitmap=False, reserve_deficit=True, collateral_bitmap=True, grace_period=True),
    "aave-v3.6": dict(isolated_emode=False, ltvzero_bitmap=True, reserve_deficit=True, collateral_bitmap=True, grace_period=True),
    "aave-v3.7": dict(isolated_emode=True, ltvzero_bitmap=True, reserve_deficit=True, collateral_bitmap=True, grace_period=True),
}
EXPECTED = {1: "aave-v3.0", 2: "aave-v3.0", 3: "aave-v3.0", 4: "aave-v3.1", 5: "aave-v3.2", 6: "aave-v3.2",
            7: "aave-v3.3", 8: "aave-v3.4", 9: "aave-v3.5", 10: "aave-v3.6", 11: "aave-v3.7"}


def test_table_is_the_documented_one():
    assert dict(POOL_REVISION_VERSIONS) == EXPECTED


@pytest.mark.parametrize("revision", sorted(EXPECTED))
def test_revision_decides_when_the_getters_agree(revision):
    version = EXPECTED[revision]
    assert aave_version_from_revision(revision, **FEATURES[version]) == (version, "")


def test_v33_to_v35_only_the_revision_tells_apart():
    features = FEATURES["aave-v3.3"]
    assert [aave_version_from_revision(r, **features)[0] for r in (7, 8, 9)] == ["aave-v3.3", "aave-v3.4", "aave-v3.5"]
    version, note = aave_version_from_revision(None, **features)
    assert version == "aave-v3.3" and "did not answer" in note


@pytest.mark.parametrize(("revision", "features", "expected", "why"), [
    (2, "aave-v3.6", "aave-v3.6", "contradicts"),  # a fork counting its own revisions
    (42, "aave-v3.7", "aave-v3.7", "not in the version table"),  # a newer release
    (10, "aave-v3.3", "aave-v3.3", "contradicts"),
    (None, "aave-v3.1", "aave-v3.1", "did not answer"),
])
def test_getters_decide_when_the_revision_does_not_fit(revision, features, expected, why):
    version, note = aave_version_from_revision(revision, **FEATURES[features])
    assert version == expected and why in note


def test_engine_rules_per_version():
    hf = {v: aave_hf_rule(v) for v in FEATURES}
    sizing = {v: aave_liquidation_rule(v) for v in FEATURES}
    assert [v for v, r in hf.items() if r == "sum"] == ["aave-v3.5", "aave-v3.6", "aave-v3.7"]
    assert [v for v, r in sizing.items() if r == "v33"] == ["aave-v3.3", "aave-v3.4", "aave-v3.5", "aave-v3.6",
                                                             "aave-v3.7"]

import numpy as np
import pytest

from risk.liquidity import (
    MAX_IMPACT, ConstantDepth, ImpactTable, NoImpact, SquareRootImpact, default_constant_depth,
)


def test_constant_depth_hand_computed():
    model = ConstantDepth(np.array([250e6, 2e9]))
    # $500M sold into $250M-per-1% depth: 2%; $1B bought of a $2B-per-1% asset: price +0.5%
    np.testing.assert_allclose(model.impact(np.array([500e6, -1e9])), [0.02, -0.005])


def test_square_root_hand_computed():
    model = SquareRootImpact(np.array([0.04]), np.array([10e9]), y=1.0)
    # Q = $100M, V = $10B/day, sigma 4%/day: 0.04 * sqrt(0.01) = 0.4%
    assert model.impact(np.array([100e6]))[0] == pytest.approx(0.004)
    assert model.impact(np.array([-100e6]))[0] == pytest.approx(-0.004)


def test_impact_table_interpolates_and_extrapolates():
    table = ImpactTable(np.array([0.0, 1e6, 10e6]), np.array([[0.0], [0.01], [0.05]]))
    assert table.impact(np.array([0.5e6]))[0] == pytest.approx(0.005)
    assert table.impact(np.array([5.5e6]))[0] == pytest.approx(0.03)
    assert table.impact(np.array([19e6]))[0] == pytest.approx(0.05 + 0.04 / 9e6 * 9e6)
    assert table.impact(np.array([-1e6]))[0] == pytest.approx(-0.01)
    with pytest.raises(ValueError, match="increasing"):
        ImpactTable(np.array([0.0, 2.0, 1.0]), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="non-decreasing"):
        ImpactTable(np.array([0.0, 1.0]), np.array([[0.0], [-0.1]]))


def test_impacts_are_capped_and_broadcast_over_paths():
    model = ConstantDepth(np.array([1e6, 1e6]))
    out = model.impact(np.array([[1e12, 0.0], [-1e12, 5e7]]))  # (n_paths, n_assets)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out, [[MAX_IMPACT, 0.0], [-MAX_IMPACT, 0.5]])
    assert np.all(NoImpact().impact(np.ones((3, 4))) == 0)


def test_defaults_cover_known_assets_and_fall_back_for_unknown():
    model = default_constant_depth(("WETH", "USDC", "SHIB"))
    assert model.depth_usd_per_pct[0] == 250e6 and model.depth_usd_per_pct[1] == 2e9
    assert model.depth_usd_per_pct[2] == 5e6

"""Breakdown by market (issues 8 and 12): bands, cascades and Monte Carlo split per market id
(Aave Core, each Morpho market, each Comet...), with the market's rule as metadata.

Two kinds of checks: the parts add up to the totals *exactly* (the totals are defined as the sum
of the parts), and each market's part is what that market alone produces — without price impact
markets do not interact, so the part of market m equals the result for the sub-book of m's
positions, computed by the engine from scratch.
"""

from __future__ import annotations

import numpy as np
import pytest

from risk.bands import liquidation_bands, liquidation_map
from risk.book import PositionBook
from risk.cascade import cascade_grid, market_ids_of, market_rules
from risk.liquidity import ConstantDepth
from risk.montecarlo import simulate_liquidations
from risk.paths import gbm_paths
from risk.sample import sample_snapshot
from risk.snapshot import VENUES

BETAS = {"wstETH": 1.0, "WBTC": 0.0}
GRID = np.linspace(0.0, 0.5, 11)


@pytest.fixture(scope="module")
def book() -> PositionBook:
    return PositionBook.from_snapshot(sample_snapshot(400, seed=11))


def _sub(book: PositionBook, m: int) -> PositionBook:
    return book.select(np.flatnonzero(book.market == m))


def _markets_with_positions(book: PositionBook) -> list[int]:
    return sorted(set(book.market.tolist()))


def test_the_sample_has_several_markets_of_one_rule(book: PositionBook) -> None:
    rules = market_rules(book)
    assert len(market_ids_of(book)) == len(book.market_ids) >= 4
    # the point of a market split: markets that share a rule are still told apart
    used = [rules[m] for m in _markets_with_positions(book)]
    assert len(used) > len(set(used)) or len(set(used)) >= 3
    for m in _markets_with_positions(book):
        assert rules[m] == VENUES[int(book.venue[book.market == m][0])]


def test_liquidation_map_per_market_adds_up_and_matches_each_market_alone(book: PositionBook) -> None:
    lmap, *_ = liquidation_map(book, "WETH")
    assert lmap.market_ids == book.market_ids
    assert lmap.collateral_by_market_usd.shape == (lmap.edges_usd.size - 1, len(book.market_ids))
    np.testing.assert_array_equal(lmap.positions_by_market.sum(axis=1), lmap.positions.sum(axis=1))
    np.testing.assert_allclose(lmap.collateral_by_market_usd.sum(axis=1), lmap.collateral_usd.sum(axis=1),
                               rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(lmap.now_collateral_by_market_usd.sum(), lmap.now_collateral_usd, rtol=1e-12)
    for m in _markets_with_positions(book):
        alone, *_ = liquidation_map(_sub(book, m), "WETH", prices_usd=book.prices_usd)
        np.testing.assert_array_equal(lmap.positions_by_market[:, m], alone.positions.sum(axis=1))
        np.testing.assert_allclose(lmap.collateral_by_market_usd[:, m], alone.collateral_usd.sum(axis=1),
                                   rtol=1e-12, atol=1e-6)
    frame = lmap.to_frame()
    for market in book.market_ids:
        assert f"collateral_{market}_usd" in frame


def test_bands_carry_their_market_split(book: PositionBook) -> None:
    report = liquidation_bands(book, "WETH")
    assert report.bands
    for band in report.bands:
        assert band.by_market and {m for m, _ in band.by_market} <= set(book.market_ids)
        assert sum(v for _, v in band.by_market) == pytest.approx(band.collateral_usd, rel=1e-12)
    frame = report.to_frame()
    assert any(key.startswith("collateral_") for key in frame)


def test_cascade_without_impact_per_market_equals_each_market_alone(book: PositionBook) -> None:
    table = cascade_grid(book, driver="WETH", betas=BETAS, drawdowns=GRID)
    assert table.market_ids == book.market_ids and table.market_rules == market_rules(book)
    assert table.liquidated_debt_usd[-1] > 0 and len(_markets_with_positions(book)) >= 4
    for m in _markets_with_positions(book):
        alone = cascade_grid(_sub(book, m), driver="WETH", betas=BETAS, drawdowns=GRID)
        np.testing.assert_allclose(table.liquidated_debt_by_market_usd[:, m], alone.liquidated_debt_usd,
                                   rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(table.bad_debt_by_market_usd[:, m], alone.bad_debt_usd, rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(table.seized_by_market_usd[:, m], alone.seized_collateral_usd.sum(axis=1),
                                   rtol=1e-9, atol=1e-6)
        np.testing.assert_array_equal(table.positions_hit_by_market[:, m], alone.positions_hit)
    hit_markets = np.flatnonzero(table.liquidated_debt_by_market_usd[-1] > 0)
    assert hit_markets.size >= 3, "a 50% fall must reach several markets of the sample"


def test_cascade_with_impact_parts_sum_to_the_totals_exactly(book: PositionBook) -> None:
    # thin books: $2M moves WETH by 1%, stables deep
    depth = {"WETH": 2e6, "wstETH": 5e5, "WBTC": 1e6}
    impact = ConstantDepth(np.array([depth.get(s, 1e12) for s in book.symbols]))
    table = cascade_grid(book, driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=impact)
    assert np.any(table.final_drawdown > table.initial_drawdown + 1e-9), "impact must move prices"
    assert np.array_equal(table.liquidated_debt_by_market_usd.sum(axis=1), table.liquidated_debt_usd)
    assert np.array_equal(table.bad_debt_by_market_usd.sum(axis=1), table.bad_debt_usd)
    assert np.array_equal(table.positions_hit_by_market.sum(axis=1), table.positions_hit)
    np.testing.assert_allclose(table.seized_by_market_usd.sum(axis=1), table.seized_collateral_usd.sum(axis=1),
                               rtol=1e-12, atol=1e-6)
    long = table.by_market_frame()
    assert long["market_id"].size == len(table) * len(book.market_ids)
    frame = table.to_frame()
    for market in book.market_ids:
        assert f"liquidated_debt_{market}_usd" in frame


def _paths(book: PositionBook, n_paths: int = 64) -> np.ndarray:
    vol = np.where(np.isin(book.symbols, ["USDC", "USDT", "DAI"]), 0.0, 0.9)
    n = book.n_assets
    corr = np.eye(n)
    eth = [book.symbols.index(s) for s in ("WETH", "wstETH") if s in book.symbols]
    for a in eth:
        for b in eth:
            corr[a, b] = 1.0
    return gbm_paths(book.prices_usd, vol, corr, horizon_days=30, n_steps=16, n_paths=n_paths, seed=5)


def test_monte_carlo_per_market_adds_up_and_matches_each_market_alone(book: PositionBook) -> None:
    paths = _paths(book)
    result = simulate_liquidations(book, paths, compare_exogenous=False)
    endo = result.endogenous
    assert result.market_ids == book.market_ids
    assert np.array_equal(endo.liquidated_debt_by_market_usd.sum(axis=1), endo.liquidated_debt_usd)
    assert np.array_equal(endo.bad_debt_by_market_usd.sum(axis=1), endo.bad_debt_usd)
    assert np.array_equal(endo.seized_by_market_usd.sum(axis=1), endo.seized_collateral_usd)
    assert endo.liquidated_debt_usd.max() > 0
    for m in _markets_with_positions(book):
        alone = simulate_liquidations(_sub(book, m), paths, compare_exogenous=False).endogenous
        np.testing.assert_allclose(endo.liquidated_debt_by_market_usd[:, m], alone.liquidated_debt_usd,
                                   rtol=1e-9, atol=1e-6)
        np.testing.assert_allclose(endo.bad_debt_by_market_usd[:, m], alone.bad_debt_usd, rtol=1e-9, atol=1e-6)
    summaries = result.by_market()
    assert [s.market_id for s in summaries] == list(book.market_ids)
    liq = endo.liquidated_debt_by_market_usd
    for m, s in enumerate(summaries):
        assert s.lar_99_usd == pytest.approx(float(np.quantile(liq[:, m], 0.99)))
        assert s.mean_liquidated_usd == pytest.approx(float(liq[:, m].mean()))
    assert sum(s.mean_liquidated_usd for s in summaries) == pytest.approx(result.endogenous_summary.mean_liquidated_usd,
                                                                          rel=1e-12)
    frame = result.to_frame()
    assert all(f"endo_liquidated_debt_{market}_usd" in frame for market in book.market_ids)
    by_market = result.by_market_frame()
    assert list(by_market["market_id"]) == list(book.market_ids)

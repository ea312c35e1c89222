"""``to_pandas()`` on the scenario results of :mod:`liqrisk.run`, with their per-market splits
(issue 12 item 2: frames on every result; issues 8/12: breakdowns by market everywhere)."""

from __future__ import annotations

import numpy as np
import pytest

from liqrisk.report import ReportConfig, compute_report
from liqrisk.scenario import MonteCarloShock, SourceSpec
from liqrisk.sources import load_source

pd = pytest.importorskip("pandas", reason="pandas comes with the liqrisk[frames] extra (./setup.sh installs it)")


@pytest.fixture(scope="module")
def result():
    loaded = load_source(SourceSpec(kind="sample"))
    return compute_report(loaded, ReportConfig(monte_carlo=MonteCarloShock(kind="monte_carlo", model="gbm", paths=80,
                                                                           seed=4)))


def test_cascade_result_frames_carry_the_market_split(result) -> None:
    core = result.core
    table = core.cascade
    frame = core.to_pandas()
    assert len(frame) == len(table)
    np.testing.assert_array_equal(frame["liquidated_debt_usd"].to_numpy(), table.liquidated_debt_usd)
    long = core.by_market_pandas()
    assert set(long.columns) >= {"initial_drawdown", "market_id", "rule", "liquidated_debt_usd", "bad_debt_usd",
                                 "positions_hit"}
    sums = long.groupby("initial_drawdown", sort=True)["liquidated_debt_usd"].sum().to_numpy()
    np.testing.assert_allclose(sums, table.liquidated_debt_usd, rtol=1e-12, atol=1e-6)
    hits = long.groupby("initial_drawdown", sort=True)["positions_hit"].sum().to_numpy()
    np.testing.assert_array_equal(hits, table.positions_hit)
    assert set(long["market_id"]) == set(table.market_ids)
    for market in table.market_ids:
        assert f"liquidated_debt_{market}_usd" in frame.columns


def test_monte_carlo_result_frames_carry_the_market_split(result) -> None:
    run = result.monte_carlo.monte_carlo
    per_path = result.monte_carlo.to_pandas()
    assert len(per_path) == run.result.n_paths
    markets = run.result.market_ids
    parts = per_path[[f"endo_liquidated_debt_{m}_usd" for m in markets]].to_numpy().sum(axis=1)
    # (the library's totals are these parts summed; summed again here through pandas, in its own order)
    np.testing.assert_allclose(parts, per_path["endo_liquidated_debt_usd"].to_numpy(), rtol=1e-12, atol=1e-9)
    by_market = run.by_market_pandas()
    assert list(by_market["market_id"]) == list(markets)
    assert by_market["lar_99_usd"].max() > 0
    assert by_market["mean_liquidated_usd"].sum() == pytest.approx(run.result.endogenous_summary.mean_liquidated_usd,
                                                                   rel=1e-9)

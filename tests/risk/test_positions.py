"""The positions view (risk.positions) and the frames of every result (risk.frames):
distances checked by re-pricing the book at the move, filters against plain loops over the
Snapshot, the market breakdown against a pandas groupby, frames rectangular and equal to the
arrays they come from, and the core importable without pandas."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from risk.book import PositionBook
from risk.positions import market_breakdown, position_table
from risk.sample import sample_snapshot

BETAS = {"wstETH": 1.0, "WBTC": 0.8}


@pytest.fixture(scope="module")
def snapshot():
    return sample_snapshot()


@pytest.fixture(scope="module")
def book(snapshot):
    return PositionBook.from_snapshot(snapshot)


@pytest.fixture(scope="module")
def table(book):
    return position_table(book, "WETH", BETAS)


def _prices_at_move(book: PositionBook, move: float) -> np.ndarray:
    beta = book.asset_vector(BETAS)
    beta[book.asset_index("WETH")] = 1.0
    return book.prices_usd * (1.0 + beta * move)


def test_rows_are_the_borrowers_unless_asked(book, table) -> None:
    borrowers = np.flatnonzero(book.debt_usd() > 0)
    assert table.row.tolist() == borrowers.tolist()
    assert len(position_table(book, "WETH", BETAS, include_debt_free=True)) == book.n_positions
    assert len(table) < book.n_positions  # the sample has suppliers without debt


def test_the_move_to_liquidation_brings_hf_to_one(book, table) -> None:
    hit = np.flatnonzero(np.isin(table.side, ["long", "short"]))
    assert hit.size > 100 and set(table.side[hit]) == {"long", "short"}
    for k in hit[::7]:
        i, move = int(table.row[k]), float(table.move_to_liquidation[k])
        one = book.select([i])
        assert one.health_factor(_prices_at_move(book, move))[0] == pytest.approx(1.0, rel=1e-9)
        # A little less of the move keeps it healthy, a little more liquidates it.
        assert one.health_factor(_prices_at_move(book, move * 0.99))[0] > 1.0
        assert one.health_factor(_prices_at_move(book, move * 1.01))[0] < 1.0
        assert table.distance[k] == abs(move)
        assert (move < 0) == (table.side[k] == "long")
        assert table.driver_price_at_liquidation_usd[k] == pytest.approx(2000.0 * (1 + move))
    never = table.side == "never"
    assert never.any() and np.isinf(table.distance[never]).all()  # e.g. the wstETH/WETH loops under beta 1


def test_liquidation_price_alone_is_where_hf_is_one(book, table) -> None:
    j = book.asset_index("WETH")
    finite = np.flatnonzero(np.isfinite(table.liq_price_alone_usd))
    for k in finite[::11]:
        prices = book.prices_usd.copy()
        prices[j] = table.liq_price_alone_usd[k]
        assert book.select([int(table.row[k])]).health_factor(prices)[0] == pytest.approx(1.0, rel=1e-9)


def test_liquidatable_now_is_distance_zero() -> None:
    snap = sample_snapshot()
    book = PositionBook.from_snapshot(snap).with_prices({"WETH": 1_700.0})
    table = position_table(book, "WETH", BETAS)
    now = table.health_factor < 1
    assert now.any()
    assert (table.side[now] == "now").all() and (table.distance[now] == 0).all()
    assert (table.sorted_by_distance().side[: int(now.sum())] == "now").all()


def test_sorted_by_distance(table) -> None:
    s = table.sorted_by_distance()
    assert len(s) == len(table) and sorted(s.row.tolist()) == sorted(table.row.tolist())
    assert np.all(np.diff(s.distance[np.isfinite(s.distance)]) >= 0)
    assert np.isinf(s.distance[-1])
    assert s.head(5).row.tolist() == s.row[:5].tolist()


def test_filters_match_a_plain_loop_over_the_snapshot(snapshot, book, table) -> None:
    hf = book.health_factor()
    for market, asset, lo, hi in (("aave-core", "WBTC", None, None), ("spark", None, 1.0, 1.3),
                                  (None, "wstETH", 1.05, None), (None, None, None, 1.1)):
        got = table.filter(markets=[market] if market else [], assets=[asset] if asset else [], hf_min=lo, hf_max=hi)
        want = [i for i, p in enumerate(snapshot.positions)
                if p.debt and any(p.debt.values())
                and (market is None or p.market == market)
                and (asset is None or p.collateral.get(asset, 0) > 0 or p.debt.get(asset, 0) > 0)
                and (lo is None or hf[i] >= lo) and (hi is None or hf[i] < hi)]
        assert got.row.tolist() == want, (market, asset, lo, hi)
        assert len(want) > 0
    assert len(table.filter(sides=["short"])) == int((table.side == "short").sum()) > 0
    with pytest.raises(KeyError, match="DOGE"):
        table.filter(assets=["DOGE"])


def test_market_breakdown_equals_a_pandas_groupby(table) -> None:
    df = table.to_pandas()
    got = market_breakdown(table, within=(0.0, 0.1, 0.25)).to_pandas().set_index("market_id")
    g = df.groupby("market_id")
    np.testing.assert_allclose(got.loc[g.size().index, "positions"], g.size())
    np.testing.assert_allclose(got.loc[g.size().index, "debt_usd"], g["debt_usd"].sum(), rtol=1e-12)
    np.testing.assert_allclose(got.loc[g.size().index, "collateral_usd"], g["collateral_usd"].sum(), rtol=1e-12)
    np.testing.assert_allclose(got.loc[g.size().index, "min_health_factor"], g["health_factor"].min())
    near = df[df["distance"] <= 0.1].groupby("market_id")["debt_usd"].sum()
    np.testing.assert_allclose(got.loc[near.index, "debt_within_10pct_usd"], near, rtol=1e-12)
    assert list(got.index) == [m for m in table.market_ids if m in set(table.market_id)]  # book order
    assert got["debt_within_25pct_usd"].sum() > got["debt_within_10pct_usd"].sum() > 0


# ---------------------------------------------------------------------------------- frames


def test_snapshot_frame_is_the_holdings(snapshot, book) -> None:
    df = snapshot.to_pandas()
    coll = df[df["kind"] == "collateral"]
    assert coll["value_usd"].sum() == pytest.approx(book.collateral_usd().sum(), rel=1e-12)
    assert df[df["kind"] == "debt"]["value_usd"].sum() == pytest.approx(book.debt_usd().sum(), rel=1e-12)
    first = snapshot.positions[0]
    rows = df[df["position"] == 0]
    assert {(r.symbol, r.kind, int(r.amount_raw)) for r in rows.itertuples()} == \
        {(s, "collateral", a) for s, a in first.collateral.items() if a} | {(s, "debt", a) for s, a in first.debt.items() if a}
    assert set(df["venue"]) <= {"aave_v30", "aave_v33", "morpho_blue", "compound_v3"}


def test_book_frame(book) -> None:
    df = book.to_pandas()
    assert len(df) == book.n_positions
    np.testing.assert_array_equal(df["health_factor"], book.health_factor())
    np.testing.assert_array_equal(df["debt_WBTC"], book.debt[:, book.asset_index("WBTC")])
    assert df["market_id"].iloc[0] == book.market_ids[book.market[0]] and df["account"].iloc[0] == book.accounts[0]


def test_every_result_has_a_frame(book) -> None:
    from risk.bands import liquidation_bands
    from risk.cascade import cascade_grid
    from risk.liquidation_prices import driver_thresholds, liquidation_prices
    from risk.liquidity import default_constant_depth
    from risk.montecarlo import simulate_liquidations
    from risk.paths import gbm_paths

    bands = liquidation_bands(book, "WETH")
    cascade = cascade_grid(book, driver="WETH", drawdowns=[0.1, 0.2], betas=BETAS,
                           liquidity=default_constant_depth(book.symbols))
    paths = gbm_paths(book.prices_usd, 0.8, np.eye(book.n_assets), 1.0, 9, 12, seed=1)
    mc = simulate_liquidations(book, paths, liquidity=default_constant_depth(book.symbols))
    lp = liquidation_prices(book)
    dt = driver_thresholds(book, "WETH", BETAS)
    for result, rows in ((bands, len(bands.bands)), (bands.map, bands.map.edges_usd.size - 1), (cascade, 2), (mc, 12),
                         (lp, book.n_positions), (dt, book.n_positions)):
        df = result.to_pandas()
        assert len(df) == rows, type(result).__name__
        assert set(df.columns) == set(result.to_frame()), type(result).__name__
    np.testing.assert_array_equal(cascade.to_pandas()["liquidated_debt_usd"], cascade.liquidated_debt_usd)
    np.testing.assert_array_equal(mc.to_pandas()["endo_bad_debt_usd"], mc.endogenous.bad_debt_usd)
    assert bands.map.to_pandas()["collateral_usd"].sum() == pytest.approx(bands.map.collateral_usd.sum())
    np.testing.assert_array_equal(lp.to_pandas()["liq_price_WETH_usd"], lp.price_usd[:, book.asset_index("WETH")])
    assert set(dt.to_pandas()["side"]) <= {"never", "below", "above", "now"}


def test_progress_callback_does_not_change_the_answer(book) -> None:
    from risk.liquidity import default_constant_depth
    from risk.montecarlo import simulate_liquidations
    from risk.paths import gbm_paths

    paths = gbm_paths(book.prices_usd, 1.2, np.eye(book.n_assets), 1.0, 13, 23, seed=4)
    liquidity = default_constant_depth(book.symbols)
    calls: list[tuple[int, int]] = []
    chunked = simulate_liquidations(book, paths, liquidity=liquidity, chunk_paths=5, progress=lambda d, t: calls.append((d, t)))
    whole = simulate_liquidations(book, paths, liquidity=liquidity, chunk_paths=1024)
    # Both runs (exogenous comparison, then with impact) report their chunks: total = 2 x paths.
    assert calls == [(5, 46), (10, 46), (15, 46), (20, 46), (23, 46), (28, 46), (33, 46), (38, 46), (43, 46), (46, 46)]
    for name in ("liquidated_debt_usd", "bad_debt_usd", "positions_hit", "final_impact"):
        np.testing.assert_array_equal(getattr(chunked.endogenous, name), getattr(whole.endogenous, name))
        np.testing.assert_array_equal(getattr(chunked.exogenous, name), getattr(whole.exogenous, name))
    assert chunked.endogenous_summary == whole.endogenous_summary


def test_core_imports_and_frames_without_pandas() -> None:
    code = (
        "import sys\n"
        "sys.modules['pandas'] = None  # makes `import pandas` fail like a missing package\n"
        "import risk, risk.positions, liqrisk.cli, liqrisk.report\n"
        "from risk.sample import sample_snapshot\nfrom risk.book import PositionBook\n"
        "book = PositionBook.from_snapshot(sample_snapshot())\n"
        "cols = risk.positions.position_table(book, 'WETH').to_frame()\n"
        "assert len(cols['health_factor']) > 0\n"
        "try:\n    book.to_pandas()\nexcept ImportError as e:\n    print(e)\nelse:\n    raise SystemExit('no error')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "pip install 'liqrisk[frames]'" in out.stdout

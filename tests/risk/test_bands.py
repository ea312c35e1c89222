import json

import numpy as np
import pytest

from risk.bands import liquidation_bands, liquidation_map
from risk.book import VENUE_CODE, PositionBook
from risk.liquidation_prices import liquidation_prices_for
from risk.sample import ETH_CLUSTER_USD, synthetic_book

SYMBOLS = ("WETH", "USDC")


def cluster_book(seed=3):
    """A dense long cluster at $1,781-$1,862, a thin spread, and shorts at $2,300-$2,400."""
    rng = np.random.default_rng(seed)
    levels = np.concatenate([
        rng.uniform(1_781, 1_862, 300),     # cluster
        rng.uniform(800, 1_700, 60),        # thin spread of longs
    ])
    n_long, n_short = levels.size, 40
    coll = np.zeros((n_long + n_short, 2))
    debt = np.zeros((n_long + n_short, 2))
    lt = np.zeros((n_long + n_short, 2))
    coll[:n_long, 0] = rng.uniform(1, 100, n_long)
    lt[:n_long, 0] = 0.83
    debt[:n_long, 1] = coll[:n_long, 0] * 0.83 * levels
    short_levels = rng.uniform(2_300, 2_400, n_short)
    coll[n_long:, 1] = rng.uniform(1e4, 1e6, n_short)
    lt[n_long:, 1] = 0.78
    debt[n_long:, 0] = coll[n_long:, 1] * 0.78 / short_levels
    n = n_long + n_short
    venue = np.where(np.arange(n) % 2 == 0, VENUE_CODE["aave_v33"], VENUE_CODE["morpho_blue"]).astype(np.int8)
    book = PositionBook(SYMBOLS, np.array([2_000.0, 1.0]), coll, debt, lt, np.full((n, 2), 1.05),
                        np.zeros((n, 2)), venue, np.zeros(n, dtype=np.int32))
    return book, levels, short_levels


def test_dense_cluster_is_found_with_its_exact_edges():
    book, levels, _ = cluster_book()
    report = liquidation_bands(book, "WETH")
    band = report.largest("long")
    cluster = levels[:300]
    assert band.low_usd == pytest.approx(cluster.min(), rel=1e-9)
    assert band.high_usd == pytest.approx(cluster.max(), rel=1e-9)
    assert band.positions == 300
    in_cluster = np.zeros(book.n_positions, dtype=bool)
    in_cluster[:300] = True
    assert band.collateral_usd == pytest.approx((book.collateral[in_cluster] @ book.prices_usd).sum())
    assert band.debt_usd == pytest.approx((book.debt[in_cluster] @ book.prices_usd).sum())
    assert band.distance_from_spot == pytest.approx(((cluster.min() + cluster.max()) / 2 - 2_000) / 2_000)
    assert sum(v for _, v in band.by_venue) == pytest.approx(band.collateral_usd)
    assert {v for v, _ in band.by_venue} == {"aave_v33", "morpho_blue"}
    assert "below spot" in band.describe() and "$1,78" in band.describe()


def test_short_band_above_spot():
    book, _, short_levels = cluster_book()
    report = liquidation_bands(book, "WETH")
    short = report.largest("short")
    assert short is not None and short.side == "short"
    assert short.low_usd == pytest.approx(short_levels.min(), rel=1e-9)
    assert short.high_usd == pytest.approx(short_levels.max(), rel=1e-9)
    assert short.distance_from_spot > 0 and "above spot" in short.describe()


def test_map_totals_match_positions():
    book, _, _ = cluster_book()
    lmap, price, side, coll_usd, _ = liquidation_map(book, "WETH")
    inside = np.isfinite(price) & (price >= lmap.edges_usd[0]) & (price < lmap.edges_usd[-1])
    assert lmap.collateral_usd.sum() == pytest.approx(coll_usd[inside].sum())
    assert lmap.positions.sum() == inside.sum()
    # every position lands in the bin its liquidation price says
    ref_price, _ = liquidation_prices_for(book, "WETH")
    np.testing.assert_array_equal(np.isnan(price), np.isnan(ref_price))


def test_sample_population_cluster_is_the_biggest_long_band():
    book = synthetic_book(20_000, seed=5)
    report = liquidation_bands(book, "WETH")
    band = report.largest("long")
    lo, hi = ETH_CLUSTER_USD
    # the band contains the whole cluster and not much more (spread positions overlap a little)
    assert band.low_usd <= lo + 5 and band.high_usd >= hi - 5
    assert band.low_usd >= lo - 40 and band.high_usd <= hi + 40
    payload = json.loads(report.to_json())
    assert payload["bands"][0]["low_usd"] == pytest.approx(report.bands[0].low_usd)

import json
import math

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


# --- the compiled map sweep and the loop-free market_rules against plain loops ---------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from risk.cascade import market_ids_of, market_rules  # noqa: E402
from risk.liquidation_prices import Side  # noqa: E402
from risk.snapshot import VENUES  # noqa: E402
from tests.risk import reference  # noqa: E402
from tests.risk.strategies import books  # noqa: E402


def _market_rules_loop(book):
    """The loop market_rules replaced (first position of each market names its rule)."""
    rules = [""] * max(len(book.market_ids), int(book.market.max()) + 1 if book.n_positions else 0, 1)
    for m, v in zip(book.market.tolist(), book.venue.tolist()):
        if not rules[m]:
            rules[m] = VENUES[v] if 0 <= v < len(VENUES) else str(v)
    return tuple(rules)


def _with_markets(book, market, venue=None, market_ids=()):
    return PositionBook(book.symbols, book.prices_usd, book.collateral, book.debt, book.liq_threshold, book.liq_bonus,
                        book.protocol_fee, book.venue if venue is None else venue, market, market_ids=market_ids,
                        floored_avg_lt=book.floored_avg_lt)


@st.composite
def market_books(draw, *, floored=False):
    """Random books spread over 1-6 markets, every registered rule (and an unknown code) as venue,
    markets either interleaved or grouped in runs (as readers build books), some ids unused."""
    book = draw(books(max_positions=12, floored=floored))
    n = book.n_positions
    n_markets = draw(st.integers(1, 6))
    market = np.array(draw(st.lists(st.integers(0, n_markets - 1), min_size=n, max_size=n)), dtype=np.int32)
    if draw(st.booleans()):
        market = np.sort(market)
    codes = st.integers(0, len(VENUES) - 1) if floored else st.one_of(st.integers(0, len(VENUES) - 1), st.just(100))
    venue = np.array(draw(st.lists(codes, min_size=n, max_size=n)), dtype=np.int8)
    ids = tuple(f"m{k}" for k in range(draw(st.integers(0, n_markets + 2))))
    return _with_markets(book, market, venue, ids)


@settings(max_examples=200, deadline=None)
@given(market_books())
def test_market_rules_is_the_first_position_of_each_market(book):
    assert market_rules(book) == _market_rules_loop(book)


def test_market_rules_of_a_large_grouped_and_shuffled_book():
    book = synthetic_book(5_000, seed=2)
    assert market_rules(book) == _market_rules_loop(book)
    order = np.argsort(book.market, kind="stable")
    grouped = book.select(order)
    assert market_rules(grouped) == _market_rules_loop(grouped)


def _plain_map(book, j, price, side, lower, bin_width, n_bins, n_markets):
    """The liquidation map by a plain loop over positions, from each position's (price, side);
    USD values summed left to right over assets and over positions in book order."""
    spot = float(book.prices_usd[j])
    n_venues = len(VENUES)
    coll_v = [[0.0] * n_venues for _ in range(n_bins)]
    debt_v = [[0.0] * n_venues for _ in range(n_bins)]
    count_v = [[0] * n_venues for _ in range(n_bins)]
    coll_m = [[0.0] * n_markets for _ in range(n_bins)]
    count_m = [[0] * n_markets for _ in range(n_bins)]
    now_m = [0.0] * n_markets
    now_coll = now_debt = outside = 0.0
    now_count = 0
    prices = book.prices_usd.tolist()
    held, owed = [], []
    for i in range(book.n_positions):
        c = sum(x * p for x, p in zip(book.collateral[i].tolist(), prices))
        d = sum(x * p for x, p in zip(book.debt[i].tolist(), prices))
        held.append(c)
        owed.append(d)
        v, m = int(book.venue[i]), int(book.market[i])
        if side[i] == Side.NOW:
            now_coll += c
            now_debt += d
            now_count += 1
            now_m[m] += c
        elif side[i] in (Side.BELOW, Side.ABOVE):
            b = math.floor((price[i] / spot - lower) / bin_width)
            if 0 <= b < n_bins:
                coll_v[b][v] += c
                debt_v[b][v] += d
                count_v[b][v] += 1
                coll_m[b][m] += c
                count_m[b][m] += 1
            else:
                outside += c
    return dict(coll_v=coll_v, debt_v=debt_v, count_v=count_v, coll_m=coll_m, count_m=count_m, now_m=now_m,
                now_coll=now_coll, now_debt=now_debt, now_count=now_count, outside=outside, held=held, owed=owed)


def _assert_map_is(lmap, coll_usd, debt_usd, expected):
    # bit for bit: the same products and the same order of additions
    np.testing.assert_array_equal(lmap.collateral_usd, np.array(expected["coll_v"]))
    np.testing.assert_array_equal(lmap.debt_usd, np.array(expected["debt_v"]))
    np.testing.assert_array_equal(lmap.positions, np.array(expected["count_v"]))
    np.testing.assert_array_equal(lmap.collateral_by_market_usd, np.array(expected["coll_m"]))
    np.testing.assert_array_equal(lmap.positions_by_market, np.array(expected["count_m"]))
    np.testing.assert_array_equal(lmap.now_collateral_by_market_usd, np.array(expected["now_m"]))
    assert (lmap.now_collateral_usd, lmap.now_debt_usd, lmap.now_positions, lmap.outside_collateral_usd) == (
        expected["now_coll"], expected["now_debt"], expected["now_count"], expected["outside"])
    np.testing.assert_array_equal(coll_usd, np.array(expected["held"]))
    np.testing.assert_array_equal(debt_usd, np.array(expected["owed"]))


# Narrow grids too, so that positions fall outside them; bin widths as the CLI offers them.
GRIDS = st.sampled_from([(0.3, 1.7, 0.0025), (0.9, 1.1, 0.01), (0.0, 3.0, 0.05)])


@settings(max_examples=150, deadline=None)
@given(market_books(), GRIDS, st.data())
def test_map_equals_the_plain_loop_on_plain_books(book, grid, data):
    """Plain rule: prices and sides from the plain-loop reference itself (the compiled sums are its
    sums, :mod:`tests.risk.test_compiled_prices`), every map cell bit for bit."""
    book = _with_markets(book, book.market, np.where(book.venue == 100, 0, book.venue).astype(np.int8),
                         book.market_ids)
    j = data.draw(st.integers(0, book.n_assets - 1))
    lower, upper, bin_width = grid
    lmap, price, side, coll_usd, debt_usd = liquidation_map(book, book.symbols[j], lower=lower, upper=upper,
                                                            bin_width=bin_width)
    expected_ps = [_plain_reference_price(book, i, j) for i in range(book.n_positions)]
    np.testing.assert_array_equal(price, np.array([p for p, _ in expected_ps]))
    np.testing.assert_array_equal(side, np.array([s for _, s in expected_ps]))
    n_bins = int(round((upper - lower) / bin_width))
    expected = _plain_map(book, j, [p for p, _ in expected_ps], [s for _, s in expected_ps], lower, bin_width, n_bins,
                          len(market_ids_of(book)))
    _assert_map_is(lmap, coll_usd, debt_usd, expected)
    assert lmap.market_rules == _market_rules_loop(book)


@settings(max_examples=100, deadline=None)
@given(market_books(floored=True), GRIDS, st.data())
def test_map_buckets_the_engines_floored_prices(book, grid, data):
    """Floored rule (Aave v3.0-v3.4): the map buckets exactly the default engine's liquidation
    prices (tested against the exact reference in test_compiled_prices / test_liquidation_prices)."""
    j = data.draw(st.integers(0, book.n_assets - 1))
    lower, upper, bin_width = grid
    lmap, price, side, coll_usd, debt_usd = liquidation_map(book, book.symbols[j], lower=lower, upper=upper,
                                                            bin_width=bin_width)
    ref_price, ref_side = liquidation_prices_for(book, book.symbols[j])
    np.testing.assert_array_equal(price, ref_price)
    np.testing.assert_array_equal(side, ref_side)
    n_bins = int(round((upper - lower) / bin_width))
    expected = _plain_map(book, j, ref_price.tolist(), ref_side.tolist(), lower, bin_width, n_bins,
                          len(market_ids_of(book)))
    _assert_map_is(lmap, coll_usd, debt_usd, expected)


def _plain_reference_price(book, i, j):
    return reference.liquidation_price(book.collateral[i].tolist(), book.debt[i].tolist(),
                                       book.liq_threshold[i].tolist(), book.prices_usd.tolist(), j)


def test_band_totals_are_the_members_by_a_plain_loop():
    """Every band of a multi-market synthetic book: its members (positions of its side whose
    liquidation price lies within its edges) summed by a plain loop in book order, bit for bit,
    per venue and per market too; and the map's side totals against numpy's masked sums."""
    book = synthetic_book(20_000, seed=5)
    report = liquidation_bands(book, "WETH")
    assert len(report.bands) >= 2 and {b.side for b in report.bands} == {"long", "short"}
    lmap, price, side, coll_usd, debt_usd = liquidation_map(book, "WETH")
    for band in report.bands:
        code = Side.BELOW if band.side == "long" else Side.ABOVE
        members = [i for i in range(book.n_positions)
                   if side[i] == code and band.low_usd <= price[i] <= band.high_usd]
        assert band.positions == len(members)
        assert band.collateral_usd == sum(coll_usd[i] for i in members)
        assert band.debt_usd == sum(debt_usd[i] for i in members)
        assert (band.low_usd, band.high_usd) == (min(price[i] for i in members), max(price[i] for i in members))
        by_venue, by_market = {}, {}
        for i in members:
            venue, market = VENUES[book.venue[i]], lmap.market_ids[book.market[i]]
            by_venue[venue] = by_venue.get(venue, 0.0) + coll_usd[i]
            by_market[market] = by_market.get(market, 0.0) + coll_usd[i]
        assert dict(band.by_venue) == by_venue and dict(band.by_market) == by_market
        side_total = coll_usd[side == code].sum()  # numpy's pairwise sum: 1e-12 relative
        assert band.share_of_side == pytest.approx(band.collateral_usd / side_total, rel=1e-12)
    numpy_usd = book.collateral @ book.prices_usd
    np.testing.assert_allclose(coll_usd, numpy_usd, rtol=1e-12)
    now = side == Side.NOW
    assert lmap.now_collateral_usd == pytest.approx(numpy_usd[now].sum(), rel=1e-12)

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.book import PositionBook, VENUE_CODE
from risk.liquidation_prices import Side, driver_thresholds, liquidation_prices, liquidation_prices_for
from tests.risk import reference
from tests.risk.strategies import books

SYMBOLS = ("WETH", "WBTC", "wstETH", "USDC")
SPOT = np.array([2_000.0, 60_000.0, 2_400.0, 1.0])


def make_book(rows, prices=SPOT):
    """rows: list of (collateral {sym: tokens}, debt {sym: tokens}, lt {sym: frac})."""
    n, a = len(rows), len(SYMBOLS)
    coll, debt, lt = np.zeros((n, a)), np.zeros((n, a)), np.zeros((n, a))
    for i, (c, d, t) in enumerate(rows):
        for s, v in c.items():
            coll[i, SYMBOLS.index(s)] = v
        for s, v in d.items():
            debt[i, SYMBOLS.index(s)] = v
        for s, v in t.items():
            lt[i, SYMBOLS.index(s)] = v
    return PositionBook(
        symbols=SYMBOLS, prices_usd=np.array(prices, dtype=float), collateral=coll, debt=debt,
        liq_threshold=lt, liq_bonus=np.full((n, a), 1.05), protocol_fee=np.zeros((n, a)),
        venue=np.full(n, VENUE_CODE["aave_v33"], dtype=np.int8), market=np.zeros(n, dtype=np.int32),
    )


def test_hand_computed_weth_usdc_long():
    # 1 WETH at LT 0.83 against 1,500 USDC: HF = 1 at 1,500 / 0.83 = $1,807.23
    book = make_book([({"WETH": 1.0}, {"USDC": 1_500.0}, {"WETH": 0.83})])
    price, side = liquidation_prices_for(book, "WETH")
    assert side[0] == Side.BELOW
    assert price[0] == pytest.approx(1_807.2289156626506, rel=1e-12)
    # the debt asset (USDC) would have to rise to 1.1067 for the same position
    price_usdc, side_usdc = liquidation_prices_for(book, "USDC")
    assert side_usdc[0] == Side.ABOVE
    assert price_usdc[0] == pytest.approx(2_000 * 0.83 / 1_500, rel=1e-12)


def test_short_is_liquidated_when_price_rises():
    # 10,000 USDC at LT 0.78 against 3 WETH: liquidated when 3 p = 7,800, p = $2,600
    book = make_book([({"USDC": 10_000.0}, {"WETH": 3.0}, {"USDC": 0.78})])
    price, side = liquidation_prices_for(book, "WETH")
    assert side[0] == Side.ABOVE
    assert price[0] == pytest.approx(2_600.0, rel=1e-12)
    thresholds = driver_thresholds(book, "WETH", {})
    assert thresholds.side[0] == Side.ABOVE
    assert thresholds.return_at_liquidation[0] == pytest.approx(0.3, rel=1e-12)


def test_pegged_pair_untouched_by_driver_but_liquidated_on_depeg():
    # eMode wstETH collateral (LT 0.95) vs WETH debt: 1 wstETH ($2,400) vs 1.1 WETH ($2,200)
    book = make_book([({"wstETH": 1.0}, {"WETH": 1.1}, {"wstETH": 0.95})])
    thresholds = driver_thresholds(book, "WETH", {"wstETH": 1.0})
    assert thresholds.side[0] == Side.NEVER
    price, side = liquidation_prices_for(book, "wstETH")
    assert side[0] == Side.BELOW
    assert price[0] == pytest.approx(2_200 / 0.95, rel=1e-12)  # a 3.5% depeg


def test_multi_collateral_liquidation_price_and_driver():
    # 1 WETH (LT .83) + 0.05 WBTC (LT .78) vs 3,000 USDC.
    book = make_book([({"WETH": 1.0, "WBTC": 0.05}, {"USDC": 3_000.0}, {"WETH": 0.83, "WBTC": 0.78})])
    price, side = liquidation_prices_for(book, "WETH")
    # 0.83 p + 0.05*0.78*60,000 = 3,000  ->  p = (3,000 - 2,340) / 0.83
    assert side[0] == Side.BELOW and price[0] == pytest.approx(660 / 0.83, rel=1e-12)
    # driver ETH with WBTC beta 0.5: 0.83*2000(1+r) + 2340(1+0.5r) = 3000
    thresholds = driver_thresholds(book, "WETH", {"WBTC": 0.5})
    expected = (3_000 - 1_660 - 2_340) / (1_660 + 1_170)
    assert thresholds.side[0] == Side.BELOW
    assert thresholds.return_at_liquidation[0] == pytest.approx(expected, rel=1e-12)


def test_edges_no_debt_now_same_asset_and_unreachable():
    book = make_book([
        ({"WETH": 1.0}, {}, {"WETH": 0.83}),                       # no debt: never
        ({"WETH": 1.0}, {"USDC": 1_700.0}, {"WETH": 0.83}),        # HF 0.976: now
        ({"WETH": 2.0}, {"WETH": 1.0}, {"WETH": 0.83}),            # same asset: HF constant 1.66
        ({"WETH": 1.0, "USDC": 5_000.0}, {"USDC": 1_000.0}, {"WETH": 0.83, "USDC": 0.78}),  # stable covers
    ])
    prices = liquidation_prices(book)
    weth = SYMBOLS.index("WETH")
    assert prices.side[0, weth] == Side.NEVER and math.isnan(prices.price_usd[0, weth])
    assert prices.side[1, weth] == Side.NOW
    assert prices.side[2, weth] == Side.NEVER
    assert prices.side[3, weth] == Side.NEVER  # even at WETH = 0 the USDC collateral covers the debt


@settings(max_examples=200, deadline=None)
@given(books())
def test_liquidation_prices_match_plain_loop(book):
    result = liquidation_prices(book)
    for i in range(book.n_positions):
        for j in range(book.n_assets):
            price, side = reference.liquidation_price(
                book.collateral[i].tolist(), book.debt[i].tolist(), book.liq_threshold[i].tolist(),
                book.prices_usd.tolist(), j,
            )
            assert result.side[i, j] == side, (i, j)
            if side in (Side.BELOW, Side.ABOVE):
                # The price is (other assets' value difference) / (asset j's net units): when those
                # values nearly cancel, float order alone moves the quotient by eps x the cancelled
                # USD / the net units (a 1e-3-unit debt against a $475k same-asset position), so the
                # tolerance carries that conditioning bound besides the 1e-9 relative one.
                cancelled_usd = float(np.dot(book.collateral[i] * book.liq_threshold[i] + book.debt[i], book.prices_usd))
                net_units = abs(book.collateral[i, j] * book.liq_threshold[i, j] - book.debt[i, j])
                assert result.price_usd[i, j] == pytest.approx(price, rel=1e-9, abs=16 * np.finfo(float).eps * cancelled_usd / net_units)
                # and HF really is 1 there
                moved = book.prices_usd.copy()
                moved[j] = result.price_usd[i, j]
                assert reference.health(book.collateral[i], book.debt[i], book.liq_threshold[i], moved) == pytest.approx(1.0, rel=1e-4)  # float cancellation on extreme draws


@settings(max_examples=200, deadline=None)
@given(books(), st.lists(st.floats(0.0, 1.5), min_size=4, max_size=4))
def test_driver_thresholds_match_plain_loop(book, raw_betas):
    betas = np.array(raw_betas[: book.n_assets])
    result = driver_thresholds(book, book.symbols[0], betas)
    betas[0] = 1.0
    for i in range(book.n_positions):
        r, side = reference.driver_return(
            book.collateral[i].tolist(), book.debt[i].tolist(), book.liq_threshold[i].tolist(),
            book.prices_usd.tolist(), betas.tolist(),
        )
        assert result.side[i] == side, i
        if side in (Side.BELOW, Side.ABOVE):
            assert result.return_at_liquidation[i] == pytest.approx(r, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(books(floored=True))
def test_floored_average_liquidation_prices_match_plain_loop(book):
    """Aave v3.0-v3.4 rows (average LT floored to bps): the piecewise crossing equals the loop's,
    which finds it independently (every candidate switch point, tested with the floored HF)."""
    result = liquidation_prices(book)
    for i in range(book.n_positions):
        for j in range(book.n_assets):
            price, side = reference.liquidation_price(
                book.collateral[i].tolist(), book.debt[i].tolist(), book.liq_threshold[i].tolist(),
                book.prices_usd.tolist(), j, floored=bool(book.floored_avg_lt[i]),
            )
            assert result.side[i, j] == side, (i, j)
            if side in (Side.BELOW, Side.ABOVE):
                assert result.price_usd[i, j] == pytest.approx(price, rel=1e-9)
        one, side_one = liquidation_prices_for(book, book.symbols[0])
        np.testing.assert_array_equal(side_one, result.side[:, 0])
        np.testing.assert_array_equal(one, result.price_usd[:, 0])


@settings(max_examples=150, deadline=None)
@given(books(floored=True), st.lists(st.floats(0.0, 1.5), min_size=4, max_size=4))
def test_floored_average_driver_thresholds_match_plain_loop(book, raw_betas):
    betas = np.array(raw_betas[: book.n_assets])
    result = driver_thresholds(book, book.symbols[0], betas)
    betas[0] = 1.0
    for i in range(book.n_positions):
        r, side = reference.driver_return(
            book.collateral[i].tolist(), book.debt[i].tolist(), book.liq_threshold[i].tolist(),
            book.prices_usd.tolist(), betas.tolist(), floored=bool(book.floored_avg_lt[i]),
        )
        assert result.side[i] == side, i
        if side in (Side.BELOW, Side.ABOVE):
            assert result.return_at_liquidation[i] == pytest.approx(r, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(books(floored=True))
def test_floored_health_factor_matches_plain_loop(book):
    hf = book.health_factor()
    for i in range(book.n_positions):
        expected = reference.health(book.collateral[i].tolist(), book.debt[i].tolist(), book.liq_threshold[i].tolist(),
                                    book.prices_usd.tolist(), bool(book.floored_avg_lt[i]))
        assert hf[i] == pytest.approx(expected, rel=1e-12)

"""Compiled liquidation prices (:mod:`risk.compiled_prices`, the default engine of
:mod:`risk.liquidation_prices`) against the plain-loop reference and the numpy engine.

- Plain rule (Morpho Blue, Compound V3, Aave v3.5+): the compiled sums are the reference's sums
  (same products, left to right), so prices and sides are compared **bit for bit** with
  ``tests/risk/reference.py`` — on random books, and on books pushed onto the decision edges:
  HF within a few ulps of 1 (NOW or not), asset slopes at the 1e-12 flatness threshold (NEVER or
  not), crossings next to a zero price, and the near-cancelling position that flaked the numpy
  check (a 1e-3-unit debt against a $475k same-asset position).
- Floored rule (Aave v3.0-v3.4): against the reference's exact rational answer (rel 1e-9, as
  ``test_liquidation_prices.py`` checks the default engine); on the decision edges and on books
  whose counted collateral is priced so that the average LT is exactly a whole bp or a few ulps
  below one, against the numpy engine (see those tests for why not the exact reference there).
- The numpy engine: same sides, prices within 1e-12 relative plus the conditioning bound of a
  difference of sums (its ``@`` may group a sum otherwise, see :mod:`risk.compiled_prices`).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from risk.book import VENUE_CODE, PositionBook
from risk.liquidation_prices import Side, driver_thresholds, liquidation_prices, liquidation_prices_for
from tests.risk import reference
from tests.risk.strategies import books

EPS = float(np.finfo(float).eps)


def _plain_reference(book: PositionBook, i: int, j: int, floored: bool = False) -> tuple[float, int]:
    return reference.liquidation_price(book.collateral[i].tolist(), book.debt[i].tolist(),
                                       book.liq_threshold[i].tolist(), book.prices_usd.tolist(), j, floored=floored)


def _with(book: PositionBook, **arrays: np.ndarray) -> PositionBook:
    fields = dict(symbols=book.symbols, prices_usd=book.prices_usd, collateral=book.collateral, debt=book.debt,
                  liq_threshold=book.liq_threshold, liq_bonus=book.liq_bonus, protocol_fee=book.protocol_fee,
                  venue=book.venue, market=book.market, floored_avg_lt=book.floored_avg_lt)
    fields.update(arrays)
    return PositionBook(**fields)


@st.composite
def edge_books(draw: st.DrawFn, *, floored: bool = False) -> PositionBook:
    """Random books moved onto a decision edge, row by row: HF = 1 times (1 + k eps) (k in -4..4),
    or one asset's net slope ``coll*LT - debt`` at the flatness threshold 1e-12 (times 1 +- 1e-6),
    or the debt raised so that the crossing sits just above a zero price."""
    book = draw(books(floored=floored))
    coll, debt, lt, prices = book.collateral.copy(), book.debt.copy(), book.liq_threshold, book.prices_usd
    for i in range(book.n_positions):
        edge = draw(st.sampled_from(["hf", "flat", "zero_price", "none"]))
        weighted = float(np.dot(coll[i] * lt[i], prices))
        owed = float(np.dot(debt[i], prices))
        if edge == "hf" and owed > 0 and weighted > 0:
            debt[i] *= weighted / owed * (1.0 + draw(st.integers(-4, 4)) * EPS)
        elif edge == "flat":
            j = draw(st.integers(0, book.n_assets - 1))
            if coll[i, j] * lt[i, j] > 0:
                f = draw(st.sampled_from([0.0, 1e-12, -1e-12, 1e-12 * (1 + 1e-6), 1e-12 * (1 - 1e-6), 1e-9]))
                debt[i, j] = coll[i, j] * lt[i, j] * (1.0 + f)
        elif edge == "zero_price":
            j = draw(st.integers(0, book.n_assets - 1))
            others = weighted - coll[i, j] * lt[i, j] * prices[j]
            rest = owed - debt[i, j] * prices[j]
            k = next((k for k in range(book.n_assets) if k != j and prices[k] > 0), None)
            if k is not None and coll[i, j] * lt[i, j] > debt[i, j] and others > rest:
                # debt in asset k so that the crossing of asset j is at a hair above 0
                debt[i, k] += (others - rest) / prices[k] * (1.0 + draw(st.sampled_from([1e-12, 1e-15, 4 * EPS])))
    return _with(book, debt=debt)


NEAR_CANCELLING = dict(
    symbols=("WETH", "USDC"), prices_usd=np.array([2_000.0, 1.0]),
    # $475k of WETH collateral against 1e-3 WETH of debt and USDC debt: asset WETH's net units are
    # coll*LT - debt, its crossing a quotient of nearly cancelling USD sums.
    collateral=np.array([[237.5, 0.0]]), debt=np.array([[1e-3, 150_000.0]]),
    liq_threshold=np.array([[0.83, 0.0]]), liq_bonus=np.full((1, 2), 1.05), protocol_fee=np.zeros((1, 2)),
    venue=np.array([VENUE_CODE["morpho_blue"]], dtype=np.int8), market=np.zeros(1, dtype=np.int32),
)


def _assert_bitwise_plain_loop(book: PositionBook) -> None:
    result = liquidation_prices(book)
    for i in range(book.n_positions):
        for j in range(book.n_assets):
            price, side = _plain_reference(book, i, j)
            assert result.side[i, j] == side, (i, j)
            if side in (Side.BELOW, Side.ABOVE):
                assert result.price_usd[i, j] == price, (i, j, result.price_usd[i, j], price)
            else:
                assert np.isnan(result.price_usd[i, j])


@settings(max_examples=200, deadline=None)
@given(books())
@example(PositionBook(**NEAR_CANCELLING))
def test_compiled_prices_equal_plain_loop_bit_for_bit(book: PositionBook) -> None:
    _assert_bitwise_plain_loop(book)


@settings(max_examples=200, deadline=None)
@given(edge_books())
def test_compiled_prices_equal_plain_loop_on_decision_edges(book: PositionBook) -> None:
    _assert_bitwise_plain_loop(book)


def test_edge_strategy_reaches_both_sides_of_the_edges() -> None:
    """The edge books are not vacuous: a debt scaled to HF = 1 (1 - eps) is NOW and (1 + 4 eps) is
    not, and a slope at 1e-12 (1 - 1e-2) of the scale is NEVER while (1 + 1e-2) crosses
    (1e-2: the slope is itself a difference of products, rounded at ~1e-4 of 1e-12)."""
    base = dict(NEAR_CANCELLING, collateral=np.array([[1.0, 0.0]]), debt=np.array([[0.0, 1_000.0]]))
    weighted = 1.0 * 0.83 * 2_000.0
    sides = []
    for k in (-1, 4):
        book = PositionBook(**dict(base, debt=np.array([[0.0, weighted * (1 + k * EPS)]])))
        sides.append(int(liquidation_prices(book).side[0, 0]))
    assert sides == [Side.BELOW, Side.NOW]
    flat_sides = []
    for f in (1e-12 * (1 - 1e-2), 1e-12 * (1 + 1e-2)):  # WETH debt a hair above its weighted collateral
        book = PositionBook(**dict(base, collateral=np.array([[1.0, 5_000.0]]),
                                   liq_threshold=np.array([[0.83, 0.78]]), debt=np.array([[0.83 * (1 + f), 1_000.0]])))
        flat_sides.append(int(liquidation_prices(book).side[0, 0]))
    assert flat_sides == [Side.NEVER, Side.ABOVE]


def _assert_engines_agree(book: PositionBook) -> None:
    fast = liquidation_prices(book, engine="compiled")
    slow = liquidation_prices(book, engine="numpy")
    np.testing.assert_array_equal(fast.side, slow.side)
    np.testing.assert_array_equal(np.isnan(fast.price_usd), np.isnan(slow.price_usd))
    net_units = np.abs(book.collateral * book.liq_threshold - book.debt)
    bound = 1e-12 * np.abs(slow.price_usd) + 16 * EPS * _conditioning_usd(book)[:, None] / np.maximum(net_units, 1e-300)
    crossing = ~np.isnan(slow.price_usd)
    assert np.all(np.abs(fast.price_usd - slow.price_usd)[crossing] <= bound[crossing])
    for j, symbol in enumerate(book.symbols):
        one, side_one = liquidation_prices_for(book, symbol)
        np.testing.assert_array_equal(side_one, fast.side[:, j])
        np.testing.assert_array_equal(one, fast.price_usd[:, j])


@st.composite
def whole_bp_books(draw: st.DrawFn) -> PositionBook:
    """Floored books whose first row holds two collaterals priced so that the value-weighted
    average LT is exactly ``m`` bps (m between the two LTs), or m bps less a few ulps of it."""
    book = draw(books(floored=True, min_assets=3))
    coll, lt, prices = book.collateral.copy(), book.liq_threshold.copy(), book.prices_usd
    lo, hi = draw(st.integers(1_000, 8_000)), draw(st.integers(1, 1_500))
    m = lo + draw(st.integers(1, hi))  # lo < m <= lo + hi
    lt[0, :2] = lo / 1e4, (lo + hi + 1) / 1e4
    coll[0, 0] = draw(st.floats(1.0, 1e5))
    # average = (v0 lo + v1 top) / (v0 + v1) = m  ->  v1 = v0 (m - lo) / (top - m)
    v1 = coll[0, 0] * prices[0] * (m - lo) / (lo + hi + 1 - m) * (1 - draw(st.integers(0, 3)) * EPS)
    coll[0, 1] = v1 / prices[1]
    venue = book.venue.copy()
    venue[0] = VENUE_CODE["aave_v30"]
    floored = book.floored_avg_lt.copy()
    floored[0] = True
    return _with(book, collateral=coll, liq_threshold=lt, venue=venue, floored_avg_lt=floored)


@settings(max_examples=100, deadline=None)
@given(edge_books(floored=True))
def test_compiled_floored_prices_equal_numpy_engine_on_edges(book: PositionBook) -> None:
    """On the decision edges the floored rows are compared with the numpy engine, not with the exact
    reference: there both float engines meet two limits of float arithmetic that the exact
    reference does not have (an LT of whole bps is a binary fraction, 0.1 = 0.1 + 5.6e-18, so at
    HF = 1 +- 1e-16 the float HF can sit on the other side of 1; a slope at the 1e-12 flatness
    threshold leaves a level root with ~1e-4 relative conditioning). Away from the edges the
    exact reference is the check (``test_liquidation_prices.py``, and the whole-bp books below)."""
    _assert_engines_agree(book)


@settings(max_examples=100, deadline=None)
@given(whole_bp_books())
def test_compiled_floored_prices_equal_numpy_engine_at_whole_bps(book: PositionBook) -> None:
    """An average LT at (or a few ulps below) a whole bp is where the float engines snap it onto
    the whole bp (``risk.book.AVG_LT_SNAP_BPS``, by design) and the exact reference does not, so
    the two engines are compared with each other here; the exact reference is the check on the
    random floored books (``test_liquidation_prices.py``, run on this default engine)."""
    _assert_engines_agree(book)


def _conditioning_usd(book: PositionBook) -> np.ndarray:
    """Per position, the USD size of the terms a crossing's numerator is a difference of."""
    return np.asarray((book.collateral * book.liq_threshold + book.debt) @ book.prices_usd)


@settings(max_examples=200, deadline=None)
@given(st.booleans().flatmap(lambda floored: books(floored=floored)))
def test_compiled_and_numpy_engines_agree(book: PositionBook) -> None:
    _assert_engines_agree(book)


@settings(max_examples=200, deadline=None)
@given(st.booleans().flatmap(lambda floored: books(floored=floored)),
       st.lists(st.floats(0.0, 1.5), min_size=4, max_size=4))
def test_compiled_driver_thresholds_match_numpy_and_plain_loop(book: PositionBook, raw_betas: list[float]) -> None:
    betas = np.array(raw_betas[: book.n_assets])
    fast = driver_thresholds(book, book.symbols[0], betas, engine="compiled")
    slow = driver_thresholds(book, book.symbols[0], betas, engine="numpy")
    np.testing.assert_array_equal(fast.side, slow.side)
    np.testing.assert_array_equal(fast.betas, slow.betas)
    crossing = ~np.isnan(slow.return_at_liquidation)
    np.testing.assert_array_equal(crossing, ~np.isnan(fast.return_at_liquidation))
    assert np.allclose(fast.return_at_liquidation[crossing], slow.return_at_liquidation[crossing], rtol=1e-9,
                       atol=1e-12)
    for i in range(book.n_positions):
        r, side = reference.driver_return(book.collateral[i].tolist(), book.debt[i].tolist(),
                                          book.liq_threshold[i].tolist(), book.prices_usd.tolist(),
                                          fast.betas.tolist(), floored=bool(book.floored_avg_lt[i]))
        assert fast.side[i] == side, i
        if side in (Side.BELOW, Side.ABOVE):
            assert fast.return_at_liquidation[i] == pytest.approx(r, rel=1e-9, abs=1e-12)


def test_unknown_engine_is_an_error() -> None:
    book = PositionBook(**NEAR_CANCELLING)
    with pytest.raises(ValueError, match="engine"):
        liquidation_prices(book, engine="fortran")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="engine"):
        driver_thresholds(book, "WETH", {}, engine="fortran")  # type: ignore[arg-type]

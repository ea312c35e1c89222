"""The compiled (numba) row kernel, :mod:`risk.compiled`, against the numpy kernel and the plain loop.

``liquidate_rows(engine="compiled")`` (the default) and ``engine="numpy"`` must give the same
liquidations: same rows hit, same pass count, amounts within 1e-12 relative (the compiled kernel
sums a row's assets left to right, numpy's ``einsum`` in SIMD lanes; see :mod:`risk.compiled`).
Both are also checked against ``tests/risk/reference.py``. Books: the suite's random books
(all four built-in rules), mixed-LT multi-collateral Aave v3.0-v3.4 rows near HF 1 (the floored
average LT), and Aave v3.3+ rows around the $2,000 close-factor and $1,000 dust thresholds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import compiled, liquidation
from risk.book import VENUE_CODE, PositionBook
from risk.liquidation import liquidate_rows
from tests.risk import reference
from tests.risk.strategies import books, rows_of

RTOL = 1e-12


def _run(book: PositionBook, engine: str, prices=None, max_passes: int = 32):
    coll, debt = book.collateral.copy(), book.debt.copy()
    out = liquidate_rows(coll, debt, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue,
                         book.prices_usd if prices is None else prices, floored_avg_lt=book.floored_avg_lt,
                         max_passes=max_passes, engine=engine)
    return out, coll, debt


def assert_same_liquidations(book: PositionBook, prices=None, max_passes: int = 32) -> None:
    fast, fast_coll, fast_debt = _run(book, "compiled", prices, max_passes)
    slow, slow_coll, slow_debt = _run(book, "numpy", prices, max_passes)
    np.testing.assert_array_equal(fast.hit, slow.hit)
    assert fast.passes == slow.passes
    # Per row, amounts within RTOL of the row's own scale (a difference of sums cancels to zero).
    scale = np.maximum(book.collateral.max(axis=1, initial=0.0), book.debt.max(axis=1, initial=0.0))[:, None]
    p = book.prices_usd if prices is None else prices
    usd_scale = (book.collateral * p).sum(axis=1) + (book.debt * p).sum(axis=1)
    for a, b in ((fast.seized_tokens, slow.seized_tokens), (fast.repaid_tokens, slow.repaid_tokens),
                 (fast.protocol_fee_tokens, slow.protocol_fee_tokens), (fast_coll, slow_coll), (fast_debt, slow_debt)):
        assert np.all(np.abs(a - b) <= RTOL * np.maximum(np.abs(b), 1e-300) + RTOL * scale), np.abs(a - b).max()
    assert np.all(np.abs(fast.bad_debt_usd - slow.bad_debt_usd) <= RTOL * usd_scale)


def assert_matches_reference(book: PositionBook) -> None:
    coll, debt = book.collateral.copy(), book.debt.copy()
    out = liquidate_rows(coll, debt, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue,
                         book.prices_usd, floored_avg_lt=book.floored_avg_lt, engine="compiled")
    for i, row in enumerate(rows_of(book)):
        seized, fees, repaid, bad, hit = reference.liquidate_position(
            row["coll"], row["debt"], row["lt"], row["bonus"], row["fee"], row["venue"], book.prices_usd.tolist(),
            floored=row["floored"])
        assert bool(out.hit[i]) == hit
        np.testing.assert_allclose(out.seized_tokens[i], seized, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.repaid_tokens[i], repaid, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.protocol_fee_tokens[i], fees, rtol=1e-9, atol=1e-12)
        assert out.bad_debt_usd[i] == pytest.approx(bad, rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(coll[i], row["coll"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(debt[i], row["debt"], rtol=1e-9, atol=1e-12)


@st.composite
def mixed_lt_aave_books(draw, *, max_positions: int = 6):
    """Aave rows with 2-4 collaterals of different whole-bps LTs and HF 0.9-1.05, often within
    3e-4 of 1 or 0.95, most under the floored-average rule (v3.0-v3.4): there the floor decides
    who is liquidatable and whether the 50% close factor applies."""
    n_assets = draw(st.integers(3, 6))
    prices = np.array([10 ** draw(st.floats(-1.0, 4.7)) for _ in range(n_assets)])
    n = draw(st.integers(1, max_positions))
    coll, debt = np.zeros((n, n_assets)), np.zeros((n, n_assets))
    lt = np.zeros((n, n_assets))
    for i in range(n):
        order = draw(st.permutations(range(n_assets)))
        n_coll = draw(st.integers(2, min(4, n_assets - 1)))
        for a in order[:n_coll]:
            coll[i, a] = 10 ** draw(st.floats(2.0, 6.5)) / prices[a]
            lt[i, a] = draw(st.integers(1_000, 9_500)) / 1e4
        weighted_usd = (coll[i] * lt[i] * prices).sum()
        # near 1 and near 0.95 (within the floor's reach of ~1e-4) as often as anywhere
        hf = draw(st.floats(0.9, 1.05) | st.floats(0.9997, 1.0003) | st.floats(0.9497, 0.9503))
        debt_assets = order[n_coll:n_coll + draw(st.integers(1, 2))]
        shares = np.array([draw(st.floats(0.1, 1.0)) for _ in debt_assets])
        for a, share in zip(debt_assets, shares / shares.sum()):
            debt[i, a] = weighted_usd / hf * share / prices[a]
    venue = np.array(draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n)), dtype=np.int8)
    floored = np.array(draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n)))
    bonus = np.where(coll > 0, 1.0 + np.array(draw(st.lists(st.integers(100, 1_500), min_size=n * n_assets,
                                                            max_size=n * n_assets))).reshape(n, n_assets) / 1e4, 1.0)
    fee = np.where(coll > 0, draw(st.sampled_from([0.0, 0.1, 0.2])), 0.0)
    return PositionBook(symbols=tuple(f"A{k}" for k in range(n_assets)), prices_usd=prices, collateral=coll, debt=debt,
                        liq_threshold=lt, liq_bonus=bonus, protocol_fee=fee, venue=venue,
                        market=np.zeros(n, dtype=np.int32), floored_avg_lt=floored)


@st.composite
def aave_v33_threshold_books(draw, *, max_positions: int = 8):
    """Aave v3.3+ rows whose reserves sit around the $2,000 close-factor base and the $1,000 dust
    leftover: one or two collaterals and debts worth $500-$8,000, HF 0.9-1 (so the 50% cap and the
    dust rule both switch on and off)."""
    n_assets = draw(st.integers(2, 4))
    prices = np.array([draw(st.sampled_from([1.0, 2_000.0, 60_000.0, 0.5])) for _ in range(n_assets)])
    n = draw(st.integers(1, max_positions))
    coll, debt, lt = np.zeros((n, n_assets)), np.zeros((n, n_assets)), np.zeros((n, n_assets))
    for i in range(n):
        order = draw(st.permutations(range(n_assets)))
        n_coll = draw(st.integers(1, min(2, n_assets - 1)))
        for a in order[:n_coll]:
            coll[i, a] = draw(st.floats(500.0, 8_000.0)) / prices[a]
            lt[i, a] = draw(st.sampled_from([0.78, 0.83, 0.86, 0.93]))
        weighted_usd = (coll[i] * lt[i] * prices).sum()
        hf = draw(st.floats(0.9, 1.0, exclude_max=True))
        debt_assets = order[n_coll:n_coll + draw(st.integers(1, 2))]
        shares = np.array([draw(st.floats(0.2, 1.0)) for _ in debt_assets])
        for a, share in zip(debt_assets, shares / shares.sum()):
            debt[i, a] = weighted_usd / hf * share / prices[a]
    bonus = np.where(coll > 0, draw(st.sampled_from([1.05, 1.075, 1.1])), 1.0)
    fee = np.where(coll > 0, 0.1, 0.0)
    return PositionBook(symbols=tuple(f"A{k}" for k in range(n_assets)), prices_usd=prices, collateral=coll, debt=debt,
                        liq_threshold=lt, liq_bonus=bonus, protocol_fee=fee,
                        venue=np.full(n, VENUE_CODE["aave_v33"], dtype=np.int8), market=np.zeros(n, dtype=np.int32),
                        floored_avg_lt=np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))))


def test_constants_are_the_numpy_kernels():
    for name in ("aave_v30", "aave_v33", "morpho_blue", "compound_v3"):
        assert getattr(compiled, name.upper()) == VENUE_CODE[name]
    for name in ("CLOSE_FACTOR_HF_THRESHOLD", "DEFAULT_CLOSE_FACTOR", "AAVE_V33_MIN_BASE_FOR_CLOSE_FACTOR_USD",
                 "AAVE_V33_MIN_LEFTOVER_USD"):
        assert getattr(compiled, name) == getattr(liquidation, name)
    from risk import book

    assert compiled.DUST_USD == liquidation._DUST_USD
    assert (compiled.BPS, compiled.AVG_LT_SNAP_BPS) == (book.BPS, book.AVG_LT_SNAP_BPS)


@settings(max_examples=300, deadline=None)
@given(books(max_positions=12))
def test_compiled_equals_numpy_kernel_random_books(book):
    assert_same_liquidations(book)


@settings(max_examples=200, deadline=None)
@given(books(max_positions=12, floored=True))
def test_compiled_equals_numpy_kernel_floored_books(book):
    assert_same_liquidations(book)
    assert_matches_reference(book)


@settings(max_examples=200, deadline=None)
@given(mixed_lt_aave_books())
def test_compiled_mixed_lt_multi_collateral_floor_path(book):
    assert_same_liquidations(book)
    assert_matches_reference(book)


@settings(max_examples=200, deadline=None)
@given(aave_v33_threshold_books())
def test_compiled_aave_v33_dust_thresholds(book):
    """Both kernels apply the $2,000 cap and both sides of the $1,000 dust rule alike; the plain
    loop (debt-side dust only) is compared where the collateral side cannot bind."""
    assert_same_liquidations(book)
    assert_same_liquidations(book, max_passes=1)


@settings(max_examples=100, deadline=None)
@given(books(max_positions=8), st.lists(st.floats(0.3, 1.2), min_size=4, max_size=4))
def test_compiled_equals_numpy_kernel_per_row_prices(book, moves):
    """Prices of shape (n_rows, n_assets): each row at its own prices (the Monte Carlo's case)."""
    moves = np.resize(np.array(moves), book.n_positions * book.n_assets).reshape(book.n_positions, book.n_assets)
    assert_same_liquidations(book, prices=book.prices_usd * moves)


def test_compiled_v33_collateral_side_dust_binds():
    """A directed case where the collateral side of MustNotLeaveDust binds: $2,050 of collateral
    (LT 95%), $2,001 of debt, HF 0.973 -> the 50% cap repays $1,000.5 and would seize $1,050.5,
    leaving $999.5 < $1,000 of the reserve, so the repay shrinks to ($2,050 - $1,000) / 1.05."""
    prices = np.array([1.0, 1.0])
    book = PositionBook(symbols=("C", "D"), prices_usd=prices, collateral=np.array([[2_050.0, 0.0]]),
                        debt=np.array([[0.0, 2_001.0]]), liq_threshold=np.array([[0.95, 0.0]]),
                        liq_bonus=np.array([[1.05, 1.0]]), protocol_fee=np.zeros((1, 2)),
                        venue=np.array([VENUE_CODE["aave_v33"]], dtype=np.int8), market=np.zeros(1, dtype=np.int32))
    out, coll, debt = _run(book, "compiled", max_passes=1)
    assert out.hit[0]
    assert out.repaid_tokens[0, 1] == pytest.approx((2_050.0 - 1_000.0) / 1.05, rel=1e-12)
    assert coll[0, 0] == pytest.approx(1_000.0, rel=1e-12) and debt[0, 1] == pytest.approx(1_001.0, rel=1e-12)
    assert_same_liquidations(book, max_passes=1)
    assert_same_liquidations(book)


def test_one_signature_whatever_the_arrays():
    """Read-only, non-contiguous, int-typed inputs all go through the one compiled signature: a
    process compiles the kernel at most once."""
    rng = np.random.default_rng(7)
    n, a = 50, 4
    coll = rng.uniform(0, 10, (n, a))
    debt = rng.uniform(0, 10, (n, a)) * (rng.uniform(size=(n, a)) < 0.5)
    lt = np.where(coll > 5, 0.8, 0.0)
    lt_view = np.asfortranarray(lt)
    lt_view.setflags(write=False)
    bonus = np.full((n, a), 1.05)[:, ::1]
    fee = np.zeros((n, a), dtype=np.int64)  # an int column: converted, not a second signature
    for venue in (np.zeros(n, dtype=np.int8), np.ones(n, dtype=np.int64)):
        for l in (lt, lt_view):
            liquidate_rows(coll.copy(), debt.copy(), l, bonus, fee, venue, np.ones(a), engine="compiled")
    assert len(compiled._liquidate_rows.signatures) == 1
    assert len(compiled._liquidatable_into.signatures) == 1


def test_cache_is_never_in_the_package_folder():
    """numba's cache (when one is writable) lives in the user cache dir or NUMBA_CACHE_DIR, not in risk/."""
    package = Path(compiled.__file__).resolve().parent
    if compiled._CACHE_DIR is not None:
        cache_path = Path(compiled._liquidate_rows._cache._cache_path).resolve()
        assert package not in cache_path.parents
    assert not list(package.rglob("*.nbi")) and not list(package.rglob("*.nbc"))


def test_unknown_engine_is_not_silently_numpy():
    book = PositionBook(symbols=("C", "D"), prices_usd=np.array([1.0, 1.0]), collateral=np.array([[1.0, 0.0]]),
                        debt=np.array([[0.0, 2.0]]), liq_threshold=np.array([[0.8, 0.0]]),
                        liq_bonus=np.array([[1.05, 1.0]]), protocol_fee=np.zeros((1, 2)),
                        venue=np.zeros(1, dtype=np.int8), market=np.zeros(1, dtype=np.int32))
    with pytest.raises(ValueError, match="engine"):
        _run(book, "fortran")

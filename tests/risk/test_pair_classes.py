import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from risk.book import PositionBook
from risk.liquidation import liquidate_rows
from risk.pair_classes import liquidate_pair_classes, split_pair_classes


@st.composite
def pair_books(draw):
    """Single-pair positions (one collateral, one debt asset) in a few shared classes."""
    n = draw(st.integers(1, 40))
    a = 3
    coll_asset = np.array(draw(st.lists(st.integers(0, a - 1), min_size=n, max_size=n)))
    debt_asset = (coll_asset + np.array(draw(st.lists(st.integers(1, a - 1), min_size=n, max_size=n)))) % a
    coll = np.zeros((n, a))
    debt = np.zeros((n, a))
    rows = np.arange(n)
    coll[rows, coll_asset] = draw(st.lists(st.floats(1.0, 1e5), min_size=n, max_size=n))
    debt[rows, debt_asset] = draw(st.lists(st.floats(10.0, 1e7), min_size=n, max_size=n))
    lt = np.zeros((n, a))
    lt[rows, coll_asset] = draw(st.sampled_from([0.6, 0.8, 0.945]))
    bonus = np.full((n, a), draw(st.sampled_from([1.01, 1.05, 1.0526])))
    fee = np.full((n, a), draw(st.sampled_from([0.0, 0.1])))
    venue = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int8)
    prices = np.array(draw(st.lists(st.floats(0.5, 5e4), min_size=a, max_size=a)))
    return PositionBook(tuple(f"A{j}" for j in range(a)), prices, coll, debt, lt, bonus, fee, venue,
                        np.zeros(n, dtype=np.int32))


def _near_a_threshold(book: PositionBook) -> bool:
    """A position within float noise (1e-12 relative) of HF = 1, HF = 0.95 or collateral = debt x bonus.

    There the closed form (``q`` against ``LT * rho``) and the kernel (``coll*LT*p_a`` against
    ``debt*p_b``) may round to different sides; both are right to float precision, so the
    outcomes are not exactly comparable and such books are not drawn.
    """
    rows = np.arange(book.n_positions)
    a, b = np.argmax(book.collateral > 0, axis=1), np.argmax(book.debt > 0, axis=1)
    p = book.prices_usd
    coll_usd, debt_usd = book.collateral[rows, a] * p[a], book.debt[rows, b] * p[b]
    hf = coll_usd * book.liq_threshold[rows, a] / debt_usd
    cover = coll_usd / (debt_usd * book.liq_bonus[rows, a])
    return bool(np.any(np.isclose(hf, 1.0, rtol=0, atol=1e-12) | np.isclose(hf, 0.95, rtol=0, atol=1e-12)
                       | np.isclose(cover, 1.0, rtol=0, atol=1e-12)))


@settings(max_examples=300, deadline=None)
@given(pair_books())
def test_closed_form_equals_the_row_kernel(book):
    assume(not _near_a_threshold(book))
    classes, rest = split_pair_classes(book)
    assert rest.size == 0 and sum(len(c.rows) for c in classes) == book.n_positions
    out = liquidate_pair_classes(classes, np.full(len(classes), np.inf), book.prices_usd, book.n_assets)
    # The kernel on every liquidatable row that the closed form took (not the close-factor ones).
    taken = np.ones(book.n_positions, dtype=bool)
    taken[out.partial_rows] = False
    coll, debt = book.collateral[taken].copy(), book.debt[taken].copy()
    ref = liquidate_rows(coll, debt, book.liq_threshold[taken], book.liq_bonus[taken], book.protocol_fee[taken],
                         book.venue[taken], book.prices_usd)
    assert out.positions == int(ref.hit.sum())
    # Token totals are sums of non-negative per-position terms on both sides, so each carries a
    # relative error of at most ~n*eps (n <= 40) of itself: 1e-9 relative is a wide bound.
    np.testing.assert_allclose(out.seized_tokens, ref.seized_tokens.sum(axis=0), rtol=1e-9, atol=0)
    np.testing.assert_allclose(out.repaid_tokens, ref.repaid_tokens.sum(axis=0), rtol=1e-9, atol=0)
    np.testing.assert_allclose(out.fee_tokens, ref.protocol_fee_tokens.sum(axis=0), rtol=1e-9, atol=0)
    # Bad debt is debt minus what the collateral buys back, per position: a difference, so its
    # rounding is relative to the debt it is taken from (a few eps per position), not to itself.
    debt_scale_usd = float((book.debt[taken] @ book.prices_usd)[ref.hit].sum())
    assert abs(out.bad_debt_usd - ref.bad_debt_usd.sum()) <= 1e-12 * debt_scale_usd
    # Close-factor rows are exactly the Aave ones with 0.95 < HF < 1.
    hf = book.health_factor()
    partial = np.zeros(book.n_positions, dtype=bool)
    partial[out.partial_rows] = True
    aave = book.venue <= 1
    np.testing.assert_array_equal(partial, aave & (hf < 1) & (hf > 0.95))


def test_frontier_means_each_position_is_taken_once():
    book = PositionBook(("WETH", "USDC"), np.array([2000.0, 1.0]),
                        np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1500.0], [0.0, 1700.0]]),
                        np.array([[0.86, 0.0], [0.86, 0.0]]), np.full((2, 2), 1.04), np.zeros((2, 2)),
                        np.array([2, 2], dtype=np.int8), np.zeros(2, dtype=np.int32))
    classes, _ = split_pair_classes(book)
    frontier = np.full(len(classes), np.inf)
    first = liquidate_pair_classes(classes, frontier, np.array([1900.0, 1.0]), 2)  # HF(1700 debt) < 1 only
    assert first.positions == 1 and first.repaid_tokens[1] == pytest.approx(1700.0)
    again = liquidate_pair_classes(classes, frontier, np.array([1900.0, 1.0]), 2)
    assert again.positions == 0
    lower = liquidate_pair_classes(classes, frontier, np.array([1700.0, 1.0]), 2)  # now the 1500 one
    assert lower.positions == 1 and lower.repaid_tokens[1] == pytest.approx(1500.0)

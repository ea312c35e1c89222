"""Hypothesis strategies for small random books (tests only)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from risk.book import PositionBook


@st.composite
def books(draw, *, max_positions: int = 8, min_assets: int = 2, max_assets: int = 4, long_only: bool = False):
    """Random books: sparse amounts, LT up to 0.95, bonus 1-1.15, all four venues.

    Amounts span 1e-3..1e6 tokens so dust thresholds and whales both occur; long_only puts debt
    only in beta-0 assets (the last column) so a falling driver can only hurt.
    """
    n = draw(st.integers(1, max_positions))
    a = draw(st.integers(min_assets, max_assets))
    amount = st.one_of(st.just(0.0), st.floats(1e-3, 1e6))
    coll = np.array(draw(st.lists(st.lists(amount, min_size=a, max_size=a), min_size=n, max_size=n)))
    debt = np.array(draw(st.lists(st.lists(amount, min_size=a, max_size=a), min_size=n, max_size=n)))
    if long_only:
        debt[:, :-1] = 0.0
        coll[:, -1] = 0.0
    lt = np.array(draw(st.lists(st.lists(st.floats(0.0, 0.95), min_size=a, max_size=a), min_size=n, max_size=n)))
    lt[coll == 0] = 0.0
    bonus = np.array(draw(st.lists(st.lists(st.floats(1.0, 1.15), min_size=a, max_size=a), min_size=n, max_size=n)))
    fee = np.array(draw(st.lists(st.lists(st.floats(0.0, 0.2), min_size=a, max_size=a), min_size=n, max_size=n)))
    venue = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int8)
    prices = np.array(draw(st.lists(st.floats(0.5, 5e4), min_size=a, max_size=a)))
    return PositionBook(
        symbols=tuple(f"A{j}" for j in range(a)),
        prices_usd=prices,
        collateral=coll,
        debt=debt,
        liq_threshold=lt,
        liq_bonus=bonus,
        protocol_fee=fee,
        venue=venue,
        market=np.zeros(n, dtype=np.int32),
    )


def rows_of(book: PositionBook) -> list[dict]:
    return [
        {
            "coll": book.collateral[i].tolist(),
            "debt": book.debt[i].tolist(),
            "lt": book.liq_threshold[i].tolist(),
            "bonus": book.liq_bonus[i].tolist(),
            "fee": book.protocol_fee[i].tolist(),
            "venue": int(book.venue[i]),
        }
        for i in range(book.n_positions)
    ]

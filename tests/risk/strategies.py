"""Hypothesis strategies for small random books (tests only)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from risk.book import PositionBook


@st.composite
def books(draw, *, max_positions: int = 8, min_assets: int = 2, max_assets: int = 4, long_only: bool = False,
          floored: bool = False):
    """Random books: sparse amounts, LT up to 0.95, bonus 1-1.15, all four venues.

    Amounts span 1e-3..1e6 tokens so dust thresholds and whales both occur; long_only puts debt
    only in beta-0 assets (the last column) so a falling driver can only hurt. ``floored``: LTs
    in whole bps (10%..95%, as Aave configures them) and the Aave rows under the floored-average
    HF rule (v3.0-v3.4), the others not.
    """
    n = draw(st.integers(1, max_positions))
    a = draw(st.integers(min_assets, max_assets))
    amount = st.one_of(st.just(0.0), st.floats(1e-3, 1e6))
    coll = np.array(draw(st.lists(st.lists(amount, min_size=a, max_size=a), min_size=n, max_size=n)))
    debt = np.array(draw(st.lists(st.lists(amount, min_size=a, max_size=a), min_size=n, max_size=n)))
    if long_only:
        debt[:, :-1] = 0.0
        coll[:, -1] = 0.0
    if floored:
        lt_bps = st.integers(1_000, 9_500)
        lt = np.array(draw(st.lists(st.lists(lt_bps, min_size=a, max_size=a), min_size=n, max_size=n))) / 1e4
    else:
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
        floored_avg_lt=(venue <= 1) if floored else None,
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
            "floored": bool(book.floored_avg_lt[i]),
        }
        for i in range(book.n_positions)
    ]


@st.composite
def aave_populations(draw, *, max_positions: int = 5, min_reserve_usd: float = 1_000.0):
    """Mixed-collateral Aave positions as the Pool's integers (:mod:`tests.risk.aave_population`).

    3-6 assets (6, 8 or 18 decimals, oracle prices $0.10-$100k in 8-decimal base units); each
    position holds 2-4 collaterals with their own whole-bps LTs (10%-95%; equal LTs occur too)
    worth ``min_reserve_usd``-$5M each and 1-2 debt assets, HF 1.0001-1.6 by the plain sum, on
    a version line drawn from v3.0-v3.7 (so both health-factor rules occur).
    """
    from tests.risk import aave_population as ap

    n_assets = draw(st.integers(3, 6))
    decimals = tuple(draw(st.lists(st.sampled_from([6, 8, 18]), min_size=n_assets, max_size=n_assets)))
    price_base = tuple(int(10 ** draw(st.floats(7.0, 13.0))) for _ in range(n_assets))
    positions = []
    for _ in range(draw(st.integers(1, max_positions))):
        order = draw(st.permutations(range(n_assets)))
        n_coll = draw(st.integers(2, min(4, n_assets - 1)))
        coll_assets = order[:n_coll]
        debt_assets = order[n_coll : n_coll + draw(st.integers(1, 2))]
        values = {a: 10 ** draw(st.floats(np.log10(min_reserve_usd), 6.7)) for a in coll_assets}
        lts = {a: draw(st.sampled_from([7_800, 8_300]) | st.integers(1_000, 9_500)) for a in coll_assets}
        hf = 1.0 + 10 ** draw(st.floats(-4.0, np.log10(0.6)))
        weights = [draw(st.floats(0.1, 1.0)) for _ in debt_assets]
        shares = {a: w / sum(weights) for a, w in zip(debt_assets, weights)}
        positions.append(ap.position_from_values(draw(st.sampled_from(ap.AAVE_VERSIONS)), decimals, price_base, values, lts, shares, hf))
    return ap.AavePopulation(tuple(f"T{k}" for k in range(n_assets)), decimals, price_base, tuple(positions))

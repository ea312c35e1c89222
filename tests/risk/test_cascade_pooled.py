"""The compiled cascade rounds over preallocated pools (:mod:`risk.cascade_pooled`) against the
numpy reference rounds (``cascade_grid(engine="numpy")``) and the plain loop.

Same rounds, same positions hit (in total and per market), amounts within 1e-11 relative (the
compiled rounds add the rows' USD one row at a time, numpy with ``bincount``/``@``; over up to
a hundred rounds the difference stays at the last bits).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import cascade_pooled
from risk.cascade import cascade_grid
from risk.liquidity import ConstantDepth, NoImpact
from risk.sample import synthetic_book
from tests.risk import reference
from tests.risk.strategies import books, rows_of

GRID = np.round(np.arange(0.0, 0.605, 0.01), 6)
BETAS = {"wstETH": 1.0, "WBTC": 0.8}
RTOL = 1e-11


@pytest.fixture(scope="module")
def book():
    return synthetic_book(3_000, seed=11)


def assert_same_tables(fast, slow) -> None:
    np.testing.assert_array_equal(fast.rounds, slow.rounds)
    np.testing.assert_array_equal(fast.positions_hit, slow.positions_hit)
    np.testing.assert_array_equal(fast.positions_hit_by_market, slow.positions_hit_by_market)
    for name in ("final_drawdown", "liquidated_debt_usd", "bad_debt_usd", "seized_collateral_usd", "final_prices_usd",
                 "liquidated_debt_by_market_usd", "seized_by_market_usd", "bad_debt_by_market_usd"):
        a, b = getattr(fast, name), getattr(slow, name)
        scale = np.abs(b).max(initial=0.0)
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=RTOL * scale + 1e-12, err_msg=name)


@pytest.mark.parametrize("engine", ["compiled", "pooled"])
@pytest.mark.parametrize("depth", [None, (5e6, 3e6, 1e6, 1e15, 1e15, 1e15), (2e5, 2e5, 1e5, 1e9, 1e9, 1e9)])
def test_compiled_rounds_equal_numpy_rounds(book, depth, engine):
    liquidity = NoImpact() if depth is None else ConstantDepth(np.array(depth))
    kwargs = dict(driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=liquidity)
    fast = cascade_grid(book, engine=engine, **kwargs)
    slow = cascade_grid(book, engine="numpy", **kwargs)
    assert_same_tables(fast, slow)
    assert fast.positions_hit.max() > 0
    if depth is not None:
        assert fast.rounds.max() > 1  # a real cascade: rows go through several rounds


@pytest.mark.parametrize("engine", ["compiled", "pooled"])
def test_compiled_rounds_equal_numpy_rounds_floored_book(book, engine):
    """The same book with every Aave row under the floored average LT (v3.0-v3.4)."""
    floored = book.venue <= 1
    fl = type(book)(**{**{f: getattr(book, f) for f in ("symbols", "prices_usd", "collateral", "debt", "liq_threshold",
                                                        "liq_bonus", "protocol_fee", "venue", "market")},
                       "floored_avg_lt": floored})
    liquidity = ConstantDepth(np.array([5e6, 3e6, 1e6, 1e15, 1e15, 1e15]))
    kwargs = dict(driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=liquidity)
    assert_same_tables(cascade_grid(fl, engine=engine, **kwargs), cascade_grid(fl, engine="numpy", **kwargs))


@settings(max_examples=60, deadline=None)
@given(books(max_positions=8), st.floats(0.0, 0.7), st.sampled_from(["none", "linear"]), st.booleans())
def test_compiled_rounds_match_plain_loop_and_numpy(book, x0, model, floored):
    a = book.n_assets
    if floored:
        book = type(book)(**{**{f: getattr(book, f) for f in ("symbols", "prices_usd", "collateral", "debt",
                                                              "liq_threshold", "liq_bonus", "protocol_fee", "venue",
                                                              "market")},
                             "floored_avg_lt": book.venue <= 1})
    betas = np.linspace(1.0, 0.0, a)
    liquidity = {"none": NoImpact(), "linear": ConstantDepth(np.full(a, 2e5))}[model]
    fast = cascade_grid(book, driver=book.symbols[0], betas=betas, drawdowns=[x0], liquidity=liquidity)
    slow = cascade_grid(book, driver=book.symbols[0], betas=betas, drawdowns=[x0], liquidity=liquidity, engine="numpy")
    assert_same_tables(fast, slow)
    ref = reference.cascade(rows_of(book), book.prices_usd.tolist(), betas.tolist(), 0, x0,
                            lambda net: liquidity.impact(np.array(net)).tolist())
    assert fast.rounds[0] == ref["rounds"]
    assert fast.positions_hit[0] == ref["positions_hit"]
    assert fast.liquidated_debt_usd[0] == pytest.approx(ref["liquidated_usd"], rel=1e-8, abs=1e-6)
    assert fast.bad_debt_usd[0] == pytest.approx(ref["bad_debt_usd"], rel=1e-8, abs=1e-6)


def test_partial_pool_is_preallocated_and_never_grows(book, monkeypatch):
    """The pool of close-factor rows is sized once per grid point (no concatenation growth) and
    the rows it receives fit in it."""
    appended = []
    real_append = cascade_pooled._PartialPool.append

    def spy(self, rows):
        capacity_before = self.collateral.shape[0]
        real_append(self, rows)
        assert self.collateral.shape[0] == capacity_before
        appended.append(rows.size)

    monkeypatch.setattr(cascade_pooled._PartialPool, "append", spy)
    liquidity = ConstantDepth(np.array([5e6, 3e6, 1e6, 1e15, 1e15, 1e15]))
    cascade_grid(book, driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=liquidity, engine="pooled")
    assert sum(appended) > 0


def test_unknown_engine():
    with pytest.raises(ValueError, match="engine"):
        cascade_grid(synthetic_book(20, seed=1), driver="WETH", betas={}, drawdowns=[0.1], engine="gpu")


def _unique_rows_grouping(rows, columns):
    """The previous class set-up: np.unique over the stacked keys (the reference order)."""
    keys = np.column_stack([c.astype(np.float64) for c in columns])
    unique, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    return [rows[inverse == k] for k in range(len(unique))]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**32 - 1), st.booleans())
def test_class_members_equal_unique_rows_grouping(n, seed, wide):
    """The packed-key grouping of the pair classes gives np.unique(axis=0)'s groups, in its order;
    ``wide`` keys (every float distinct) overflow int64 packing and take the lexsort path."""
    from risk.pair_classes import class_members

    rng = np.random.default_rng(seed)
    n = max(n, 250) if wide else n  # 250**8 distinct keys > 2**62
    rows = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.intp)
    if wide:
        columns = [rng.uniform(size=n) for _ in range(8)] + [rng.integers(0, 3, n)]
    else:
        columns = [rng.integers(0, 4, n).astype(np.int8), rng.integers(0, 6, n), rng.integers(0, 6, n),
                   rng.choice([0.8, 0.83, 0.86, 0.5], n), rng.choice([1.05, 1.1, 1.075], n), rng.choice([0.0, 0.1], n),
                   rng.integers(0, 30, n).astype(np.int32)]
    got = class_members(rows, columns)
    want = _unique_rows_grouping(rows, columns)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)

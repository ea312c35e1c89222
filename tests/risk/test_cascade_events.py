"""The event-driven compiled cascade (:mod:`risk.cascade_events`, ``engine="compiled"``) against the
numpy reference rounds: same rounds and hits, amounts within 1e-11 relative; the same table for
any number of worker threads (bit for bit); and a schedule that lets rows go unchecked past their
proven slack is caught by these comparisons (so they can fail when a row is missed)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import cascade_events
from risk.book import PositionBook
from risk.cascade import cascade_grid
from risk.liquidity import ConstantDepth
from risk.sample import synthetic_book
from tests.risk.strategies import books
from tests.risk.test_cascade_pooled import BETAS, GRID, assert_same_tables

DEPTH = (5e6, 3e6, 1e6, 1e15, 1e15, 1e15)
TABLE_FIELDS = ("final_drawdown", "rounds", "liquidated_debt_usd", "seized_collateral_usd", "bad_debt_usd",
                "positions_hit", "final_prices_usd", "liquidated_debt_by_market_usd", "seized_by_market_usd",
                "bad_debt_by_market_usd", "positions_hit_by_market")


@pytest.fixture(scope="module")
def book():
    return synthetic_book(3_000, seed=11)


def staircase_book(n: int = 240) -> PositionBook:
    """Multi-asset rows (WETH + WBTC collateral, USDC + DAI debt) whose HF at spot climbs from
    1.0005 in small steps, so a falling driver and the impact of each round's sales cross a few
    of them per round: every round's schedule decides which rows to look at."""
    base = synthetic_book(10, seed=3)
    prices = base.prices_usd
    hf = 1.0005 + 0.004 * np.arange(n)
    coll = np.zeros((n, 6))
    coll[:, 0] = 40.0 + (np.arange(n) % 7)  # WETH
    coll[:, 1] = 1.0 + 0.1 * (np.arange(n) % 5)  # WBTC
    lt = np.where(coll > 0, np.array([0.83, 0.78, 0, 0, 0, 0]), 0.0)
    weighted = (coll * lt * prices).sum(axis=1)
    debt = np.zeros((n, 6))
    debt[:, 3] = 0.6 * weighted / hf  # USDC
    debt[:, 5] = 0.4 * weighted / hf  # DAI
    venue = (np.arange(n) % 4).astype(np.int8)
    return PositionBook(symbols=base.symbols, prices_usd=prices, collateral=coll, debt=debt, liq_threshold=lt,
                        liq_bonus=np.full((n, 6), 1.05), protocol_fee=np.full((n, 6), 0.1), venue=venue,
                        market=np.zeros(n, dtype=np.int32), floored_avg_lt=venue <= 1)


def test_staircase_book_equals_numpy_rounds():
    book = staircase_book()
    kwargs = dict(driver="WETH", betas=BETAS, drawdowns=np.round(np.arange(0.0, 0.2, 0.004), 6),
                  liquidity=ConstantDepth(np.array([5e5, 5e5, 1e6, 1e15, 1e15, 1e15])))
    fast = cascade_grid(book, engine="compiled", **kwargs)
    slow = cascade_grid(book, engine="numpy", **kwargs)
    assert_same_tables(fast, slow)
    assert fast.rounds.max() >= 10 and 0 < fast.positions_hit[1] < 50  # long cascades, a few rows at a time


@pytest.mark.parametrize("workers", [2, 3])
def test_any_number_of_workers_gives_the_same_table(book, workers):
    kwargs = dict(driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=ConstantDepth(np.array(DEPTH)))
    serial = cascade_grid(book, workers=1, **kwargs)
    parallel = cascade_grid(book, workers=workers, **kwargs)
    for name in TABLE_FIELDS:
        np.testing.assert_array_equal(getattr(parallel, name), getattr(serial, name), err_msg=name)


def test_workers_must_be_positive(book):
    with pytest.raises(ValueError, match="workers"):
        cascade_grid(book, driver="WETH", betas=BETAS, drawdowns=[0.1], workers=0)


@pytest.mark.parametrize("case", ["synthetic", "staircase"])
def test_a_schedule_that_skips_past_a_crossing_is_caught(book, monkeypatch, case):
    """Mutation check: a schedule that lets rows wait 50x their proven slack misses liquidations,
    and the comparison with the numpy rounds fails (so the equality tests above would catch a
    schedule that misses a row)."""
    if case == "staircase":
        book = staircase_book()
        kwargs = dict(driver="WETH", betas=BETAS, drawdowns=np.round(np.arange(0.0, 0.2, 0.004), 6),
                      liquidity=ConstantDepth(np.array([5e5, 5e5, 1e6, 1e15, 1e15, 1e15])))
    else:
        kwargs = dict(driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=ConstantDepth(np.array(DEPTH)))
    slow = cascade_grid(book, engine="numpy", **kwargs)
    monkeypatch.setattr(cascade_events, "SCHEDULE_SCALE", 50.0)
    broken = cascade_grid(book, engine="compiled", **kwargs)
    with pytest.raises(AssertionError):
        assert_same_tables(broken, slow)


def test_rows_are_checked_only_when_their_bound_is_crossed(book, monkeypatch):
    """The health checks made are far fewer than (rows in play) x (rounds), the pooled engine's."""
    workers = []
    real = cascade_events._worker

    def spy(grid):
        w = real(grid)
        workers.append(w)
        return w

    monkeypatch.setattr(cascade_events, "_worker", spy)
    table = cascade_grid(book, driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=ConstantDepth(np.array(DEPTH)),
                         workers=1)
    checks = sum(int(w.checks[0]) for w in workers)
    liquidated_rows = int(table.positions_hit.sum())
    assert 0 < checks
    # every check either liquidates or finds a healthy row whose bound was crossed; the pooled
    # engine checked every pooled row every round instead
    assert checks < 3 * liquidated_rows * max(int(table.rounds.max()), 1) // 4


@settings(max_examples=60, deadline=None, derandomize=True)
@given(books(max_positions=24), st.lists(st.floats(0.0, 0.7), min_size=1, max_size=4),
       st.sampled_from([1e3, 2e4, 2e5]), st.booleans(), st.integers(1, 3))
def test_event_rounds_equal_numpy_rounds_on_random_books(book, drawdowns, depth, floored, workers):
    if floored:
        book = type(book)(**{**{f: getattr(book, f) for f in ("symbols", "prices_usd", "collateral", "debt",
                                                              "liq_threshold", "liq_bonus", "protocol_fee", "venue",
                                                              "market")},
                             "floored_avg_lt": book.venue <= 1})
    betas = np.linspace(1.0, 0.0, book.n_assets)
    liquidity = ConstantDepth(np.full(book.n_assets, depth))
    kwargs = dict(driver=book.symbols[0], betas=betas, drawdowns=drawdowns, liquidity=liquidity)
    assert_same_tables(cascade_grid(book, workers=workers, **kwargs), cascade_grid(book, engine="numpy", **kwargs))


SHALLOW = (1e6, 1e6, 3e5, 1e15, 1e15, 1e15)
"""Depth at which the impacts pull wstETH ~8% off its beta path (past the layout's 5% margin)."""


def test_prices_past_the_margin_cost_no_rerun(book, monkeypatch):
    """Every grid point runs once even where prices leave the layout's margin (all rows enter
    then), and the table still equals the numpy rounds (which re-run those points wider)."""
    runs = []
    real = cascade_events._run_point

    def spy(grid, w, x0):
        runs.append(x0)
        return real(grid, w, x0)

    monkeypatch.setattr(cascade_events, "_run_point", spy)
    kwargs = dict(driver="WETH", betas=BETAS, drawdowns=GRID, liquidity=ConstantDepth(np.array(SHALLOW)))
    fast = cascade_grid(book, workers=1, **kwargs)
    r = -fast.final_drawdown
    deviation = np.abs(fast.final_prices_usd / book.prices_usd - (1.0 + fast.betas * r[:, None])).max(axis=1)
    assert (deviation > cascade_events.LAYOUT_EPS).sum() > GRID.size // 2
    assert sorted(runs) == sorted(GRID.tolist())
    assert_same_tables(fast, cascade_grid(book, engine="numpy", **kwargs))


CLOSE_FACTOR_CLASSES = ((0.8, 1.05), (0.95, 1.01), (0.86, 1.1))
"""(LT, bonus): LT x bonus 0.84 (one partial pass leaves HF > 1), 0.96 (eMode-like: HF 0.95-0.98
takes a second pass), 0.95."""


@st.composite
def close_factor_books(draw):
    """Single-pair Aave v3.0 / v3.3 positions (WETH or wstETH collateral, USDC debt) from HF 1 to
    1.3 at spot, so drawdowns of 0-30% first reach many of them between HF 0.95 and 1 (the close
    factor), with debt and collateral near v3.3's $2,000 (close-factor cap) and $1,000 (dust)
    thresholds: debt USD 1,900-2,100 or 3,900-4,100 or exactly on 2,000 / 4,000, collateral
    then ~$2,000-5,500, and after half the debt is seized ~$1,000 left on the eMode-like class."""
    n = draw(st.integers(1, 30))
    prices = np.array([2_000.0, 2_400.0, 1.0])
    lt_value, bonus_value = draw(st.sampled_from(CLOSE_FACTOR_CLASSES))
    debt_usd = np.array(draw(st.lists(st.one_of(st.floats(1_900.0, 2_100.0), st.floats(3_900.0, 4_100.0),
                                                st.sampled_from([2_000.0, 4_000.0]), st.floats(2e3, 2e6)),
                                      min_size=n, max_size=n)))
    hf = np.array(draw(st.lists(st.floats(1.0, 1.3), min_size=n, max_size=n)))
    asset = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    rows = np.arange(n)
    coll, debt, lt = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
    coll[rows, asset] = hf * debt_usd / (lt_value * prices[asset])
    debt[:, 2] = debt_usd
    lt[rows, asset] = lt_value
    venue = np.array(draw(st.lists(st.sampled_from([0, 1, 1, 2]), min_size=n, max_size=n)), dtype=np.int8)
    return PositionBook(symbols=("WETH", "wstETH", "USDC"), prices_usd=prices, collateral=coll, debt=debt,
                        liq_threshold=lt, liq_bonus=np.full((n, 3), bonus_value), protocol_fee=np.full((n, 3), 0.1),
                        venue=venue, market=(venue == 2).astype(np.int32))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(close_factor_books(), st.lists(st.floats(0.0, 0.3), min_size=1, max_size=5),
       st.sampled_from([(2e5, 1e5), (1e6, 1e6), (1e15, 3e4)]))
def test_close_factor_pairs_equal_numpy_rounds(book, drawdowns, depth):
    """Close-factor single pairs in the store (:func:`risk.compiled_cascade.close_factor_round`)
    against the numpy rounds, which run them through the row kernel with the rest: the same rounds,
    hits per market and amounts (within 1e-11), also across later rounds of impact."""
    liquidity = ConstantDepth(np.array([*depth, 1e15]))
    kwargs = dict(driver="WETH", betas={"wstETH": 1.0}, drawdowns=drawdowns, liquidity=liquidity)
    assert_same_tables(cascade_grid(book, workers=1, **kwargs), cascade_grid(book, engine="numpy", **kwargs))


def test_close_factor_survivors_are_liquidated_again_in_later_rounds(monkeypatch):
    """A book whose close-factor survivors are reached again as the cascade deepens (15 rounds):
    members are liquidated more often than they enter, the store compacts, and the table equals
    the numpy rounds."""
    book = _close_factor_book(400, hf_high=1.05)
    entered, liquidated, compactions = [0], [0], [0]
    real = cascade_events.cc.close_factor_round

    def spy(*args):
        sizes = args[19]  # [store entries, segments]
        before = int(sizes[0])
        out = real(*args)
        entered[0] += args[1]
        liquidated[0] += out
        compactions[0] += int(sizes[0]) < before
        return out

    monkeypatch.setattr(cascade_events.cc, "close_factor_round", spy)
    kwargs = dict(driver="WETH", betas={"wstETH": 1.0}, drawdowns=np.round(np.arange(0.0, 0.1, 0.01), 6),
                  liquidity=ConstantDepth(np.array([1e5, 1e5, 1e15])))
    fast = cascade_grid(book, workers=1, **kwargs)
    monkeypatch.undo()
    assert_same_tables(fast, cascade_grid(book, engine="numpy", **kwargs))
    assert fast.rounds.max() >= 10 and liquidated[0] > 1.3 * entered[0] and compactions[0] >= 2


def _close_factor_book(n: int, hf_high: float = 1.25) -> PositionBook:
    """Aave v3.0 / v3.3 single pairs, LT 0.8 / bonus 1.05 and LT 0.95 / bonus 1.01, HF 1.0 to
    ``hf_high`` at spot, debt $1,500-$6,000 (around the $2,000 cap)."""
    rng = np.random.default_rng(7)
    prices = np.array([2_000.0, 2_400.0, 1.0])
    asset = rng.integers(0, 2, n)
    lt_value = np.where(rng.random(n) < 0.5, 0.8, 0.95)
    debt_usd = rng.uniform(1_500.0, 6_000.0, n)
    rows = np.arange(n)
    coll, debt, lt = np.zeros((n, 3)), np.zeros((n, 3)), np.zeros((n, 3))
    coll[rows, asset] = rng.uniform(1.0, hf_high, n) * debt_usd / (lt_value * prices[asset])
    debt[:, 2] = debt_usd
    lt[rows, asset] = lt_value
    bonus = np.where(lt_value[:, None] > 0.9, 1.01, 1.05) * np.ones((1, 3))
    venue = rng.integers(0, 2, n).astype(np.int8)
    return PositionBook(symbols=("WETH", "wstETH", "USDC"), prices_usd=prices, collateral=coll, debt=debt,
                        liq_threshold=lt, liq_bonus=bonus, protocol_fee=np.full((n, 3), 0.1), venue=venue,
                        market=venue.astype(np.int32))

"""Tests for risk.montecarlo: exact against a plain-loop reference, determinism, monotonicity."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk.book import VENUE_CODE, PositionBook
from risk.liquidation import liquidate_rows
from risk.liquidity import ConstantDepth, NoImpact, SquareRootImpact
from risk.montecarlo import MonteCarloResult, driver_cross_impact, simulate_liquidations
from risk.paths import gbm_paths, replay_paths
from risk.sample import synthetic_book
from tests.risk import reference as loops

N_ASSETS = 6  # the synthetic book: WETH, WBTC, wstETH, USDC, USDT, DAI
VOL = np.array([1.2, 0.9, 1.2, 0.02, 0.02, 0.02])
CORR = np.eye(N_ASSETS)
CORR[0, 1] = CORR[1, 0] = CORR[1, 2] = CORR[2, 1] = 0.8
CORR[0, 2] = CORR[2, 0] = 0.99
DUST_USD = 1e-6  # the kernel's "owes nothing" threshold (risk.liquidation)


def _paths(book: PositionBook, n_paths: int, n_steps: int, seed: int, horizon_days: float = 5.0) -> np.ndarray:
    return gbm_paths(book.prices_usd, VOL, CORR, horizon_days, n_steps, n_paths, seed=seed)


# ----------------------------------------------------------------------------- reference


def reference(book: PositionBook, paths: np.ndarray, liquidity, max_rounds: int = 100,
              sell_protocol_fee: bool = False, cross_impact=None) -> dict[str, np.ndarray]:
    """Plain loops: every path, every step, every position, rounds until nothing is liquidatable.

    Pure Python except the venue rule for one position, which is the kernel itself applied to a
    single row (the venue rules are tested on their own; what is under test here is the engine's
    vectorization, candidate filter, rounds, flows and impact).
    """
    n_paths, n_steps, n_assets = paths.shape
    n = book.n_positions
    lt = book.liq_threshold.tolist()
    out = {k: np.zeros(n_paths) for k in ("liquidated", "seized", "fee", "bad")}
    out["hit"] = np.zeros(n_paths, dtype=np.int64)
    out["unconverged"] = np.zeros(n_paths, dtype=np.int64)
    out["max_drawdown"] = np.zeros((n_paths, n_assets))
    out["final_impact"] = np.zeros((n_paths, n_assets))
    for p in range(n_paths):
        coll = book.collateral.tolist()
        debt = book.debt.tolist()
        hit = [False] * n
        sold = [0.0] * n_assets
        mult = [1.0] * n_assets
        peak = [float(x) for x in paths[p, 0]]
        drawdown = [0.0] * n_assets
        liquidated = seized = fee = bad = 0.0
        unconverged = 0
        for k in range(n_steps):
            prices = [float(paths[p, k, a]) * mult[a] for a in range(n_assets)]
            rounds = 0
            while True:
                due = []
                for i in range(n):
                    # As the venue computes HF: Aave v3.0-v3.4 rows floor the average LT (exact).
                    weighted = loops.weighted(coll[i], lt[i], prices, bool(book.floored_avg_lt[i]))
                    owed = sum(debt[i][a] * prices[a] for a in range(n_assets))
                    if owed > DUST_USD and weighted < owed:
                        due.append(i)
                if not due:
                    break
                if rounds == max_rounds:
                    unconverged += 1
                    break
                rounds += 1
                flow = [0.0] * n_assets
                for i in due:
                    c = np.array([coll[i]])
                    d = np.array([debt[i]])
                    res = liquidate_rows(c, d, book.liq_threshold[i:i + 1], book.liq_bonus[i:i + 1],
                                         book.protocol_fee[i:i + 1], book.venue[i:i + 1], np.array(prices),
                                         floored_avg_lt=book.floored_avg_lt[i:i + 1])
                    coll[i], debt[i] = c[0].tolist(), d[0].tolist()
                    hit[i] = hit[i] or bool(res.hit[0])
                    bad += float(res.bad_debt_usd[0])
                    for a in range(n_assets):
                        s_usd = float(res.seized_tokens[0, a]) * prices[a]
                        f_usd = float(res.protocol_fee_tokens[0, a]) * prices[a]
                        r_usd = float(res.repaid_tokens[0, a]) * prices[a]
                        seized += s_usd
                        fee += f_usd
                        liquidated += r_usd
                        sold_tokens = float(res.seized_tokens[0, a]) - (0.0 if sell_protocol_fee else float(res.protocol_fee_tokens[0, a]))
                        flow[a] += (sold_tokens - float(res.repaid_tokens[0, a])) * float(paths[p, 0, a])
                for a in range(n_assets):
                    sold[a] += flow[a]
                impact = np.asarray(liquidity.impact(np.array(sold)))
                mult = [1.0 - float(impact[a]) for a in range(n_assets)]
                if cross_impact is not None:
                    for a in range(n_assets):
                        for j in range(n_assets):
                            mult[a] *= 1.0 - float(cross_impact[a][j]) * float(impact[j])
                prices = [float(paths[p, k, a]) * mult[a] for a in range(n_assets)]
            for a in range(n_assets):
                peak[a] = max(peak[a], prices[a])
                drawdown[a] = max(drawdown[a], 1.0 - prices[a] / peak[a])
        out["liquidated"][p], out["seized"][p], out["fee"][p], out["bad"][p] = liquidated, seized, fee, bad
        out["hit"][p] = sum(hit)
        out["unconverged"][p] = unconverged
        out["max_drawdown"][p] = drawdown
        out["final_impact"][p] = [1.0 - m for m in mult]
    return out


def assert_matches_reference(result: MonteCarloResult, ref: dict[str, np.ndarray]) -> None:
    e = result.endogenous
    scale = max(1.0, float(np.max(ref["seized"])))
    # 1e-9 relative, plus an absolute floor of 1e-9 of the largest amount for entries near zero.
    for got, want in ((e.liquidated_debt_usd, ref["liquidated"]), (e.seized_collateral_usd, ref["seized"]),
                      (e.protocol_fee_usd, ref["fee"]), (e.bad_debt_usd, ref["bad"])):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * scale)
    np.testing.assert_array_equal(e.positions_hit, ref["hit"])
    np.testing.assert_array_equal(e.unconverged_steps, ref["unconverged"])
    np.testing.assert_allclose(e.max_drawdown, ref["max_drawdown"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e.final_impact, ref["final_impact"], rtol=1e-9, atol=1e-12)


LIQUIDITY = {
    "thin_linear": ConstantDepth(np.array([3e5, 3e5, 1.5e5, 3e6, 3e6, 3e6])),
    "square_root": SquareRootImpact(np.array([0.05, 0.04, 0.05, 0.002, 0.002, 0.002]),
                                    np.array([5e7, 5e7, 2e7, 1e9, 1e9, 1e9]), y=1.0),
    "deep_linear": ConstantDepth(np.array([5e7, 5e7, 2e7, 1e9, 1e9, 1e9])),
    "none": NoImpact(),
}


@pytest.mark.parametrize("model", sorted(LIQUIDITY))
def test_vectorized_engine_equals_plain_loop(model):
    book = synthetic_book(120, seed=5)
    paths = _paths(book, 6, 30, seed=17)
    result = simulate_liquidations(book, paths, liquidity=LIQUIDITY[model], chunk_paths=4)
    assert result.endogenous.positions_hit.sum() > 0  # the case exercises liquidations
    assert_matches_reference(result, reference(book, paths, LIQUIDITY[model]))


def test_cross_impact_equals_plain_loop_and_drags_linked_assets():
    book = synthetic_book(120, seed=5)
    paths = _paths(book, 6, 30, seed=17)
    cross = driver_cross_impact(book, "WETH", {"wstETH": 1.0, "WBTC": 0.8})
    assert cross[book.asset_index("wstETH"), book.asset_index("WETH")] == 1.0 and np.all(np.diag(cross) == 0)
    thin = LIQUIDITY["thin_linear"]
    result = simulate_liquidations(book, paths, liquidity=thin, chunk_paths=4, cross_impact=cross)
    assert_matches_reference(result, reference(book, paths, thin, cross_impact=cross))
    own_only = simulate_liquidations(book, paths, liquidity=thin, chunk_paths=4)
    w, s = book.asset_index("WETH"), book.asset_index("wstETH")
    sold_weth = own_only.endogenous.final_impact[:, w] > 0
    assert sold_weth.any()
    # wstETH now falls with WETH's impact instead of staying put
    assert np.all(result.endogenous.final_impact[sold_weth, s] > own_only.endogenous.final_impact[sold_weth, s])
    with pytest.raises(ValueError, match="zero diagonal"):
        simulate_liquidations(book, paths, liquidity=thin, cross_impact=np.eye(book.n_assets))


@pytest.mark.parametrize("band", [1e-4, 0.005, 0.2])
def test_reference_match_with_rebases_and_small_chunks(band):
    # Thin liquidity moves prices by far more than the scheduler's band, so paths are rebased
    # many times (narrow band) or not at all (wide band); max_pairs=1 forces one path per chunk.
    book = synthetic_book(150, seed=9)
    paths = _paths(book, 5, 25, seed=3)
    model = LIQUIDITY["thin_linear"]
    result = simulate_liquidations(book, paths, liquidity=model, band=band, max_pairs=1)
    if band < 0.01:
        assert result.rebases > 0
    assert_matches_reference(result, reference(book, paths, model))


def test_reference_match_when_rounds_run_out():
    book = synthetic_book(100, seed=2)
    paths = _paths(book, 4, 20, seed=8)
    model = LIQUIDITY["thin_linear"]
    result = simulate_liquidations(book, paths, liquidity=model, max_rounds=1)
    assert result.endogenous.unconverged_steps.sum() > 0
    assert_matches_reference(result, reference(book, paths, model, max_rounds=1))


@settings(max_examples=12, deadline=None)
@given(
    n_positions=st.integers(min_value=1, max_value=60),
    book_seed=st.integers(min_value=0, max_value=10_000),
    path_seed=st.integers(min_value=0, max_value=10_000),
    depth_scale=st.sampled_from([1e5, 1e6, 1e7, 1e9]),
    sell_fee=st.booleans(),
)
def test_engine_equals_reference_random_books(n_positions, book_seed, path_seed, depth_scale, sell_fee):
    # Small books (<= 60) and 3 paths x 12 steps keep the pure-Python reference fast; the depth
    # range spans "no cascade" to "everything liquidated" so both regimes are compared.
    book = synthetic_book(n_positions, seed=book_seed)
    paths = _paths(book, 3, 12, seed=path_seed)
    model = ConstantDepth(np.array([1.0, 1.0, 0.5, 10.0, 10.0, 10.0]) * depth_scale)
    result = simulate_liquidations(book, paths, liquidity=model, sell_protocol_fee=sell_fee, chunk_paths=2)
    assert_matches_reference(result, reference(book, paths, model, sell_protocol_fee=sell_fee))


# ----------------------------------------------------------------------------- properties


def test_zero_impact_gives_exogenous_result():
    book = synthetic_book(400, seed=1)
    paths = _paths(book, 40, 50, seed=4)
    result = simulate_liquidations(book, paths, liquidity=NoImpact())
    assert result.exogenous is not None
    assert result.exogenous.positions_hit.sum() > 0
    e, x = result.endogenous, result.exogenous
    # Same liquidations; USD totals may differ in the last bit only (the endogenous run schedules
    # with a band, so rows can be summed in another order).
    np.testing.assert_array_equal(e.positions_hit, x.positions_hit)
    np.testing.assert_array_equal(e.max_drawdown, x.max_drawdown)
    for field in ("liquidated_debt_usd", "seized_collateral_usd", "protocol_fee_usd", "bad_debt_usd"):
        np.testing.assert_allclose(getattr(e, field), getattr(x, field), rtol=1e-13, atol=1e-6)
    assert result.rebases == 0


def test_same_seed_same_result_and_chunking_does_not_matter():
    book = synthetic_book(300, seed=3)
    model = LIQUIDITY["square_root"]
    a = simulate_liquidations(book, _paths(book, 30, 40, seed=21), liquidity=model)
    b = simulate_liquidations(book, _paths(book, 30, 40, seed=21), liquidity=model, chunk_paths=7)
    c = simulate_liquidations(book, _paths(book, 30, 40, seed=22), liquidity=model)
    np.testing.assert_allclose(a.endogenous.liquidated_debt_usd, b.endogenous.liquidated_debt_usd, rtol=1e-12)
    np.testing.assert_array_equal(a.endogenous.positions_hit, b.endogenous.positions_hit)
    assert a.endogenous_summary == simulate_liquidations(
        book, _paths(book, 30, 40, seed=21), liquidity=model).endogenous_summary
    assert not np.array_equal(a.endogenous.liquidated_debt_usd, c.endogenous.liquidated_debt_usd)


def test_lar99_at_least_lar95():
    book = synthetic_book(500, seed=11)
    result = simulate_liquidations(book, _paths(book, 200, 20, seed=5), liquidity=LIQUIDITY["square_root"])
    for s in (result.endogenous_summary, result.exogenous_summary):
        assert s.lar_99_usd >= s.lar_95_usd >= 0
        assert s.bad_debt_var_99_usd >= s.bad_debt_var_95_usd >= 0
    assert result.endogenous_summary.lar_99_usd > 0


def _long_only(book: PositionBook) -> PositionBook:
    """Positions with volatile collateral (WETH/WBTC/wstETH) and only stablecoin debt."""
    volatile, stable = [0, 1, 2], [3, 4, 5]
    rows = (book.debt[:, volatile].sum(axis=1) == 0) & (book.debt[:, stable].sum(axis=1) > 0) \
        & (book.collateral[:, stable].sum(axis=1) == 0)
    return book.select(rows)


@pytest.mark.parametrize("model", ["thin_linear", "square_root", "deep_linear"])
def test_impact_never_reduces_liquidations_on_long_only_book(model):
    # Selling collateral pushes volatile prices down and buying stablecoins pushes them up, so
    # every HF is lower than on the exogenous path: a position hit without impact is hit with it.
    book = _long_only(synthetic_book(600, seed=13))
    assert book.n_positions > 100
    result = simulate_liquidations(book, _paths(book, 60, 40, seed=6), liquidity=LIQUIDITY[model])
    e, x = result.endogenous, result.exogenous
    # Per path, two consequences that always hold: every position first hit at step k without
    # impact is hit by step k with it, and the impact multiplier of a sold asset only falls, so
    # drawdowns only deepen. (Debt repaid per path is NOT monotone: an earlier liquidation under
    # a 50% close factor can replace a later 100% one.)
    assert np.all(e.positions_hit >= x.positions_hit)
    assert np.all(e.max_drawdown[:, :3] >= x.max_drawdown[:, :3] - 1e-12)
    assert np.any(e.positions_hit > x.positions_hit)
    # Over all paths the cascade adds liquidations (an aggregate check, not a theorem).
    assert result.amplification["mean_liquidated"] >= 1.0


def test_replay_single_position_hand_computed():
    # One Morpho-style position: 1 WETH collateral (LT 0.8, bonus 1.05), 1,500 USDC debt.
    # HF = 0.8 p / 1500 < 1 once p < 1875. Replay 2000 -> 1800 over 3 steps (1900, 1800 at steps 1, 2):
    # step 1 HF = 1.0133 (safe), step 2 HF = 0.96 -> the whole debt is repaid at $1,800:
    # repaid 1,500 USD, seized 1500 * 1.05 / 1800 WETH = 1,575 USD.
    book = PositionBook(
        symbols=("WETH", "USDC"), prices_usd=np.array([2000.0, 1.0]),
        collateral=np.array([[1.0, 0.0]]), debt=np.array([[0.0, 1500.0]]),
        liq_threshold=np.array([[0.8, 0.0]]), liq_bonus=np.array([[1.05, 1.0]]),
        protocol_fee=np.zeros((1, 2)), venue=np.array([VENUE_CODE["morpho_blue"]], dtype=np.int8),
        market=np.zeros(1, dtype=np.int32),
    )
    paths = replay_paths([[2000.0, 1.0], [1800.0, 1.0]], 3, interp="linear")
    result = simulate_liquidations(book, paths, liquidity=NoImpact())
    e = result.endogenous
    assert e.positions_hit.tolist() == [1]
    assert e.liquidated_debt_usd[0] == pytest.approx(1500.0, rel=1e-12)
    assert e.seized_collateral_usd[0] == pytest.approx(1575.0, rel=1e-12)
    assert e.bad_debt_usd[0] == 0.0
    assert e.max_drawdown[0, 0] == pytest.approx(0.1, rel=1e-12)
    # With impact: 0.875 WETH sold, valued at the path's start price ($2,000) = $1,750 into
    # $1,750-per-1% depth moves WETH down exactly 1%.
    impacted = simulate_liquidations(book, paths, liquidity=ConstantDepth(np.array([1750.0, 1e12])))
    assert impacted.endogenous.final_impact[0, 0] == pytest.approx(0.01, rel=1e-12)
    assert impacted.endogenous.max_drawdown[0, 0] == pytest.approx(1 - 1800 * 0.99 / 2000, rel=1e-12)


def test_results_export():
    book = synthetic_book(200, seed=4)
    result = simulate_liquidations(book, _paths(book, 10, 15, seed=1), liquidity=LIQUIDITY["square_root"])
    doc = json.loads(result.to_json(include_paths=True))
    assert doc["n_paths"] == 10 and doc["symbols"] == list(book.symbols)
    assert set(doc["endogenous"]) >= {"lar_95_usd", "lar_99_usd", "bad_debt_var_99_usd", "mean_liquidated_usd"}
    assert len(doc["paths"]["endo_liquidated_debt_usd"]) == 10
    frame = result.to_frame()
    assert all(isinstance(v, np.ndarray) and v.shape == (10,) for v in frame.values())
    assert "exo_max_drawdown_WETH" in frame
    with pytest.raises(AttributeError):
        result.rebases = 1  # frozen


def test_bad_input():
    book = synthetic_book(10, seed=0)
    with pytest.raises(ValueError, match="paths_usd"):
        simulate_liquidations(book, np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="paths_usd"):
        simulate_liquidations(book, -np.ones((2, 3, N_ASSETS)))


def test_float32_paths_are_accepted():
    book = synthetic_book(200, seed=6)
    p32 = gbm_paths(book.prices_usd, VOL, CORR, 5.0, 20, 8, seed=2, dtype=np.float32)
    a = simulate_liquidations(book, p32, liquidity=LIQUIDITY["square_root"])
    b = simulate_liquidations(book, p32.astype(np.float64), liquidity=LIQUIDITY["square_root"])
    np.testing.assert_array_equal(a.endogenous.liquidated_debt_usd, b.endogenous.liquidated_debt_usd)


def test_floored_average_decides_the_liquidation_on_a_path():
    """The issue's WETH+WBTC position (v3.0-v3.4: average LT floored to bps; liquidated below
    WBTC $805.09, $786.33 without the floor): a path taking WBTC to $795 and back liquidates it
    only under the floored rule, and the engine's bounds (LT - 1 bp) do not skip it."""
    from tests.risk.test_floor_exact import _weth_wbtc_book

    wbtc = np.array([60_000.0, 20_000.0, 5_000.0, 1_000.0, 795.0, 2_000.0, 60_000.0])
    paths = np.zeros((1, wbtc.size, 3))
    paths[0, :, 0], paths[0, :, 1], paths[0, :, 2] = 2_000.0, wbtc, 1.0
    for floored, expected in ((True, 1), (False, 0)):
        book = _weth_wbtc_book(floored)
        result = simulate_liquidations(book, paths, liquidity=NoImpact())
        assert int(result.endogenous.positions_hit[0]) == expected
        assert_matches_reference(result, reference(book, paths, NoImpact()))


# ----------------------------------------------------------------------------- compiled core


@pytest.mark.parametrize("model", sorted(LIQUIDITY))
def test_compiled_core_equals_numpy_engine(model):
    # The compiled core (default engine) sums rows in the order a path reaches them: USD to 1e-9.
    book = synthetic_book(300, seed=3)
    paths = _paths(book, 8, 40, seed=21)
    a = simulate_liquidations(book, paths, liquidity=LIQUIDITY[model])
    b = simulate_liquidations(book, paths, liquidity=LIQUIDITY[model], engine="numpy")
    assert a.endogenous.positions_hit.sum() > 0
    for f in ("liquidated_debt_usd", "seized_collateral_usd", "protocol_fee_usd", "bad_debt_usd"):
        np.testing.assert_allclose(getattr(a.endogenous, f), getattr(b.endogenous, f), rtol=1e-9, atol=1e-6)
    np.testing.assert_array_equal(a.endogenous.positions_hit, b.endogenous.positions_hit)
    np.testing.assert_allclose(a.endogenous.final_impact, b.endogenous.final_impact, rtol=1e-9, atol=1e-12)


def test_compiled_core_bit_identical_for_threads_and_chunks():
    import numba

    book = synthetic_book(400, seed=7)
    paths = _paths(book, 12, 30, seed=4)
    model = LIQUIDITY["thin_linear"]
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate_liquidations(book, paths, liquidity=model)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = simulate_liquidations(book, paths, liquidity=model, chunk_paths=5)
    finally:
        numba.set_num_threads(before)
    assert one.rebases > 0 and one.endogenous.positions_hit.sum() > 0
    for f in ("liquidated_debt_usd", "seized_collateral_usd", "bad_debt_usd", "positions_hit", "max_drawdown",
              "final_impact", "liquidated_debt_by_market_usd"):
        np.testing.assert_array_equal(getattr(one.endogenous, f), getattr(two.endogenous, f))


def test_books_the_compiled_core_cannot_run_exactly_go_to_the_numpy_engine():
    """A rule without a compiled kernel (here one Euler row), consumable budgets or a liquidity model
    the core does not evaluate: the whole book runs in the numpy engine, so the default engine's
    result is the numpy engine's, bit for bit."""
    import dataclasses

    from risk.montecarlo import _Book, _CompiledCore
    from risk.rules import RULE_CODE

    book = synthetic_book(300, seed=3)
    model = LIQUIDITY["thin_linear"]
    assert _CompiledCore.of(_Book.of(book), model) is not None
    venue = book.venue.copy()
    venue[:5] = RULE_CODE["euler_v2"]
    mixed = dataclasses.replace(book, venue=venue)
    assert _CompiledCore.of(_Book.of(mixed), model) is None

    class Halved:  # a model of the user's own: only the numpy engine calls it
        def impact(self, net_sold_usd):
            return 0.5 * model.impact(net_sold_usd)

    assert _CompiledCore.of(_Book.of(book), Halved()) is None
    paths = _paths(book, 6, 30, seed=21)
    for b, liquidity in ((mixed, model), (book, Halved())):
        a = simulate_liquidations(b, paths, liquidity=liquidity)
        n = simulate_liquidations(b, paths, liquidity=liquidity, engine="numpy")
        for f in ("liquidated_debt_usd", "bad_debt_usd", "positions_hit", "final_impact"):
            np.testing.assert_array_equal(getattr(a.endogenous, f), getattr(n.endogenous, f))


def test_compiled_core_equals_numpy_engine_on_a_bench_like_book():
    """The bench's book shape (synthetic book, its 6 assets and vols, 288 five-minute steps) at 20k
    positions: a scratch-reuse bug of the multi-asset pre-filter showed only at this size (hits per
    path 5.95 -> 0.72 on the 100k bench book) and passed the small books above."""
    from risk.liquidity import default_constant_depth

    book = synthetic_book(20_000, seed=1)
    vol = {"WETH": 0.70, "WBTC": 0.55, "wstETH": 0.70, "USDC": 0.01, "USDT": 0.01, "DAI": 0.01}
    corr = np.eye(book.n_assets)
    for a, b, rho in (("WETH", "WBTC", 0.8), ("WETH", "wstETH", 0.998), ("WBTC", "wstETH", 0.8)):
        i, j = book.asset_index(a), book.asset_index(b)
        corr[i, j] = corr[j, i] = rho
    paths = gbm_paths(book.prices_usd, np.array([vol[s] for s in book.symbols]), corr, 1.0, 288, 24, seed=5)
    # the bench's depth scaled to the smaller book, so impacts (and band rebases) are as large
    liquidity = ConstantDepth(np.asarray(default_constant_depth(book.symbols).depth_usd_per_pct) * 20_000 / 100_000)
    a = simulate_liquidations(book, paths, liquidity=liquidity)
    b = simulate_liquidations(book, paths, liquidity=liquidity, engine="numpy")
    assert a.rebases > 0 and a.endogenous.positions_hit.sum() > 24 * 100, (a.rebases, a.endogenous.positions_hit)
    for run in ("endogenous", "exogenous"):
        x, y = getattr(a, run), getattr(b, run)
        np.testing.assert_array_equal(x.positions_hit, y.positions_hit, err_msg=run)
        for f in ("liquidated_debt_usd", "seized_collateral_usd", "bad_debt_usd"):
            np.testing.assert_allclose(getattr(x, f), getattr(y, f), rtol=1e-9, atol=1e-6, err_msg=f"{run}.{f}")

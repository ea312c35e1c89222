"""The on-chain liquidity model (risk.liquidity.OnChainLiquidity) on synthetic Uniswap v3 pools.

The chain-side checks (pools read from the devnet, the model against a cascade the contracts
run) are in tests/chain/test_uniswap*.py; here: the curve at its grid points is the exact swap
math's price move, the CEX multiplier scales size exactly as documented, sells lower and buys
raise the price monotonically, the best split beats every single route, and the scenario layer
refuses the model without pools.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from liqrisk.errors import LiqriskUserError
from liqrisk.run import build_liquidity
from liqrisk.scenario import LiquiditySpec
from risk.liquidity import MAX_IMPACT, ConstantDepth, onchain_liquidity, reference_pools, reference_price, sale_routes
from risk.snapshot import UniswapV3Pool
from risk.uniswap_v3 import Router, price_token1_per_token0, sqrt_price_x96_for, sqrt_ratio_at_tick, swap_exact_input, tick_at_sqrt_ratio

ADDR = {"USDC": "0x" + "11" * 20, "WETH": "0x" + "22" * 20, "WBTC": "0x" + "33" * 20}
DEC = {"USDC": 6, "WETH": 18, "WBTC": 8}
SPOT = {"USDC": 1.0, "WETH": 2000.0, "WBTC": 60000.0}


def _pool(index: int, a: str, b: str, fee: int, spacing: int, positions: list[tuple[float, float, int]]) -> UniswapV3Pool:
    """A pool of a/b at spot with positions (lo x spot, hi x spot, liquidity); a < b by address."""
    assert int(ADDR[a], 16) < int(ADDR[b], 16)
    price = SPOT[a] / SPOT[b]
    sqrt_p = sqrt_price_x96_for(price, DEC[a], DEC[b])
    tick = tick_at_sqrt_ratio(sqrt_p)
    raw = price * 10 ** (DEC[b] - DEC[a])
    nets: dict[int, int] = {}
    for lo, hi, liquidity in positions:
        t_lo = math.floor(math.log(raw * lo, 1.0001) / spacing) * spacing
        t_hi = math.ceil(math.log(raw * hi, 1.0001) / spacing) * spacing
        nets[t_lo] = nets.get(t_lo, 0) + liquidity
        nets[t_hi] = nets.get(t_hi, 0) - liquidity
    ticks = tuple(sorted(nets))
    return UniswapV3Pool(
        address="0x" + f"{index:02x}" * 20, token0=a, token1=b, token0_address=ADDR[a], token1_address=ADDR[b],
        decimals0=DEC[a], decimals1=DEC[b], fee_pips=fee, tick_spacing=spacing, sqrt_price_x96=sqrt_p, tick=tick,
        liquidity=sum(n for t, n in nets.items() if t <= tick), ticks=ticks, liquidity_net=tuple(nets[t] for t in ticks))


# USDC (0x11) < WETH (0x22) < WBTC (0x33): pools are USDC/WETH and WETH/WBTC, as on the devnet.
POOLS = (
    _pool(1, "USDC", "WETH", 500, 10, [(0.9, 1.1, 10**18), (0.5, 2.0, 3 * 10**17)]),
    _pool(2, "USDC", "WETH", 3000, 60, [(0.8, 1.25, 4 * 10**17)]),
    _pool(3, "WETH", "WBTC", 500, 10, [(0.9, 1.1, 2 * 10**14)]),
)
SYMBOLS = ("USDC", "WBTC", "WETH")
PRICES = np.array([SPOT[s] for s in SYMBOLS])
GRID = np.array([0.0, 1e5, 1e6, 5e6, 2e7, 1e8])


def test_curve_points_are_the_exact_swap_price_move():
    """WBTC has one pool to USDC's side (via WETH) — here check WETH's single-route case on a
    one-pool snapshot: the curve at each grid size is 1 - price after / price before of
    swap_exact_input selling those tokens."""
    pools = POOLS[:1]
    model = onchain_liquidity(pools, ("USDC", "WETH"), [1.0, 2000.0], cex_multiplier=0.0, grid_usd=GRID)
    state = pools[0].state()
    p0 = price_token1_per_token0(state.sqrt_price_x96, 6, 18)
    for size in GRID[1:]:
        tokens = int(size / 2000.0 * 10**18)
        after = swap_exact_input(state, tokens, zero_for_one=False)  # WETH is token1
        expected = 1.0 - p0 / price_token1_per_token0(after.sqrt_price_x96, 6, 18)  # WETH in USDC = 1 / p
        got = model.impact(np.array([0.0, size]))[1]
        assert got == pytest.approx(min(expected, MAX_IMPACT), rel=1e-12, abs=1e-15), size


def test_cex_multiplier_scales_the_size_exactly():
    dex = onchain_liquidity(POOLS, SYMBOLS, PRICES, cex_multiplier=0.0, grid_usd=GRID)
    with_cex = onchain_liquidity(POOLS, SYMBOLS, PRICES, cex_multiplier=3.0, grid_usd=GRID)
    q = np.array([[0.0, 3e6, 8e6], [-1e6, -4e6, -2e7], [0.0, 0.0, 4e8]])
    np.testing.assert_array_equal(with_cex.impact(q), dex.impact(q / 4.0))


def test_sells_lower_and_buys_raise_monotonically_and_the_numeraire_does_not_move():
    model = onchain_liquidity(POOLS, SYMBOLS, PRICES, cex_multiplier=0.0)
    sizes = np.geomspace(1e3, 1e9, 60)
    sells = model.impact(np.repeat(sizes[:, None], 3, axis=1))
    buys = model.impact(-np.repeat(sizes[:, None], 3, axis=1))
    assert np.all(sells[:, 0] == 0) and np.all(buys[:, 0] == 0)  # USDC is the price unit
    for j in (1, 2):
        assert np.all(np.diff(sells[:, j]) >= 0) and np.all(sells[:, j] > 0) and sells[-1, j] == MAX_IMPACT
        assert np.all(np.diff(buys[:, j]) <= 0) and np.all(buys[:, j] < 0)
    assert model.onchain_columns == (1, 2)


def test_the_split_beats_every_single_route():
    routes = sale_routes(POOLS, "WETH")
    assert len(routes) == 2  # both USDC/WETH tiers; WETH is the via asset itself
    amount = 1_000 * 10**18  # within both pools' ranges
    split = Router([p.state() for p in POOLS]).sell(routes, amount, 16)
    total = sum(leg.amount_out for leg in split)
    for route in routes:
        alone = Router([p.state() for p in POOLS]).sell([route], amount, 16)
        assert total >= sum(leg.amount_out for leg in alone)
    assert sum(leg.amount_in for leg in split) == amount and len(split) == 2


def test_an_asset_without_a_usdc_pool_is_priced_via_weth():
    refs = reference_pools(POOLS, SYMBOLS)
    assert [r.index for r in refs["WBTC"]] == [2, 0]  # WBTC/WETH, then WETH's deepest USDC pool
    price = reference_price([p.state() for p in POOLS], POOLS, refs["WBTC"])
    assert price == pytest.approx(60_000.0, rel=1e-9)


def test_fallback_prices_assets_without_pools():
    model = onchain_liquidity(POOLS[:2], SYMBOLS, PRICES, cex_multiplier=0.0, grid_usd=GRID,
                              fallback=ConstantDepth(np.array([np.inf, 1e6, np.inf])))
    assert model.impact(np.array([0.0, 1e6, 0.0]))[1] == pytest.approx(0.01)


def test_scenario_layer_needs_pools_and_names_them():
    with pytest.raises(LiqriskUserError, match="Uniswap v3 pools"):
        build_liquidity(LiquiditySpec(model="onchain"), SYMBOLS, pools=(), prices_usd=PRICES)
    model = build_liquidity(LiquiditySpec(model="onchain", cex_multiplier=0.5), SYMBOLS, pools=POOLS, prices_usd=PRICES)
    described = dict(model.description)
    assert "numeraire" in described["USDC"]
    assert POOLS[0].address in described["WETH"] and "x0.5" in described["WETH"]
    assert model.impact(np.array([0.0, 0.0, 1e6]))[2] > 0

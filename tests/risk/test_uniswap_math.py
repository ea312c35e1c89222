"""risk.uniswap_v3 on its own (the devnet test compares it with the genuine QuoterV2).

- TickMath: the constants of v3-core's TickMath.sol are reproduced at the ends of the range, and
  ``tick_at_sqrt_ratio`` is the greatest tick whose sqrt ratio is <= the input (its spec);
- the many-sizes path (:func:`swap_exact_input_many`) equals the step-by-step pool loop for every
  size, including sizes that land exactly on a step boundary and sizes beyond the liquidity;
- conservation: an exact-input swap never pays out more than the pool's token balance implied by
  its positions, and a larger input never gives less output or a higher price (monotone).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from risk.uniswap_v3 import (
    MAX_SQRT_RATIO,
    MAX_TICK,
    MIN_SQRT_RATIO,
    MIN_TICK,
    Q96,
    PoolState,
    SwapMathError,
    amount0_delta,
    sqrt_ratio_at_tick,
    swap_exact_input,
    swap_exact_input_many,
    swap_path,
    tick_at_sqrt_ratio,
)

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def test_tick_math_constants_of_v3_core():
    assert sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert sqrt_ratio_at_tick(0) == Q96
    with pytest.raises(SwapMathError):
        sqrt_ratio_at_tick(MAX_TICK + 1)
    with pytest.raises(SwapMathError):
        tick_at_sqrt_ratio(MAX_SQRT_RATIO)


@SETTINGS
@given(st.integers(MIN_TICK + 1, MAX_TICK - 1))
def test_tick_at_sqrt_ratio_is_the_greatest_tick_at_or_below(tick):
    sqrt_p = sqrt_ratio_at_tick(tick)
    assert tick_at_sqrt_ratio(sqrt_p) == tick
    assert tick_at_sqrt_ratio(sqrt_p - 1) == tick - 1
    assert tick_at_sqrt_ratio((sqrt_p + sqrt_ratio_at_tick(tick + 1)) // 2) == tick


@st.composite
def pools(draw):
    """A consistent pool: positions (lower, upper, liquidity) around a price, ticks summed."""
    spacing = draw(st.sampled_from([1, 10, 60, 200]))
    fee = {1: 100, 10: 500, 60: 3000, 200: 10000}[spacing]
    center = draw(st.integers(-200_000, 200_000)) // spacing * spacing
    nets: dict[int, int] = {}
    for _ in range(draw(st.integers(1, 12))):
        lo = center + draw(st.integers(-400, 399)) * spacing
        hi = lo + draw(st.integers(1, 400)) * spacing
        liquidity = draw(st.integers(10**6, 10**24))
        nets[lo] = nets.get(lo, 0) + liquidity
        nets[hi] = nets.get(hi, 0) - liquidity
    ticks = tuple(sorted(t for t, n in nets.items() if n != 0))
    net = tuple(nets[t] for t in ticks)
    tick = center + draw(st.integers(-100 * spacing, 100 * spacing))
    sqrt_p = sqrt_ratio_at_tick(tick) + draw(st.integers(0, 10**6))
    tick = tick_at_sqrt_ratio(sqrt_p)
    liquidity = sum(n for t, n in zip(ticks, net) if t <= tick)
    return PoolState(sqrt_p, tick, liquidity, fee, spacing, ticks, net)


@SETTINGS
@given(pools(), st.booleans(), st.lists(st.integers(1, 2**100), min_size=1, max_size=6), st.data())
def test_many_sizes_equal_the_pool_loop(state, zero_for_one, sizes, data):
    path = swap_path(state, zero_for_one)
    # Sizes exactly on, and one wei around, step boundaries, plus beyond the liquidity.
    boundaries = [path.consumed[data.draw(st.integers(1, len(path.consumed) - 1))] for _ in range(3)]
    sizes = sizes + [b + d for b in boundaries for d in (-1, 0, 1) if b + d > 0] + [path.exhausted_in + 1]
    for size, many in zip(sizes, swap_exact_input_many(path, sizes)):
        single = swap_exact_input(state, size, zero_for_one)
        assert many == single, size
        assert single.amount_in <= size
        if size < path.exhausted_in:
            assert single.amount_in == size  # liquidity left: the whole input is spent


@SETTINGS
@given(pools(), st.booleans(), st.integers(1, 2**90), st.integers(1, 2**90))
def test_more_input_never_gives_less_output_or_a_better_price(state, zero_for_one, a, b):
    small, large = sorted((a, b))
    r_small, r_large = swap_exact_input(state, small, zero_for_one), swap_exact_input(state, large, zero_for_one)
    assert r_large.amount_out >= r_small.amount_out
    if zero_for_one:
        assert r_large.sqrt_price_x96 <= r_small.sqrt_price_x96 <= state.sqrt_price_x96
    else:
        assert r_large.sqrt_price_x96 >= r_small.sqrt_price_x96 >= state.sqrt_price_x96


@SETTINGS
@given(pools(), st.booleans())
def test_selling_everything_pays_out_at_most_the_pools_holdings(state, zero_for_one):
    """Beyond its liquidity a swap stops at the price limit and pays out no more than the
    positions hold of the output token on that side of the price (v3-core SqrtPriceMath)."""
    result = swap_exact_input(state, 2**200, zero_for_one)
    assert result.amount_in < 2**200
    held = 0
    running = 0
    bounds = list(zip(state.ticks, state.ticks[1:]))
    for (lo, hi), net in zip(bounds, state.liquidity_net):
        running += net
        if running == 0:
            continue
        s_lo, s_hi = sqrt_ratio_at_tick(lo), sqrt_ratio_at_tick(hi)
        if zero_for_one:  # token1 held below the price
            top = min(s_hi, state.sqrt_price_x96)
            if top > s_lo:
                held += running * (top - s_lo) // Q96
        else:  # token0 held above the price
            bottom = max(s_lo, state.sqrt_price_x96)
            if s_hi > bottom:
                held += amount0_delta(bottom, s_hi, running, False)
    assert result.amount_out <= held + len(state.ticks)

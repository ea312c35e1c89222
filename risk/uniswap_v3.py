"""Uniswap v3 swap math, exact to the wei: Uniswap's own integer tick-crossing arithmetic.

Pure functions over Python integers (no I/O). Ported line by line from Uniswap/v3-core — the
npm package ``@uniswap/v3-core`` 1.0.1 that the devnet deploys (its ``contracts/libraries``), the
same code as github.com/Uniswap/v3-core at commit 6562c52e8f75f0c10f9deaf44861847585fc8129:

- ``contracts/libraries/TickMath.sol``: :func:`sqrt_ratio_at_tick`, :func:`tick_at_sqrt_ratio`;
- ``contracts/libraries/SqrtPriceMath.sol``: :func:`amount0_delta`, :func:`amount1_delta`,
  :func:`next_sqrt_price_from_input`;
- ``contracts/libraries/FullMath.sol``: ``mulDiv`` / ``mulDivRoundingUp`` (exact in Python ints);
- ``contracts/libraries/SwapMath.sol``: :func:`compute_swap_step` (exact-input branch);
- ``contracts/libraries/TickBitmap.sol``: ``nextInitializedTickWithinOneWord`` (steps stop at
  bitmap word boundaries even where no tick is initialized — each step rounds on its own, so the
  word boundaries matter to the last wei);
- ``contracts/UniswapV3Pool.sol`` ``swap``: the loop of :func:`swap_exact_input`.

The quantity the periphery's ``QuoterV2.quoteExactInputSingle`` returns (``amountOut``,
``sqrtPriceX96After``, ``initializedTicksCrossed``) is what :func:`swap_exact_input` returns; the
test suite checks it against the genuine QuoterV2 on the devnet to the wei.

Many sizes through one pool (:func:`swap_exact_input_many`): the swap of ``Q`` completes step
``k`` of the path iff ``Q >= consumed_{k+1}`` (the input, fee included, spent up to the end of
that step — ``SwapMath``'s test ``amountRemaining (1e6 - fee) / 1e6 >= amountIn`` is exactly that,
because the fee of a full step is ``ceil(amountIn fee / (1e6 - fee))``). So the path is walked
once, every size finds its last step by bisection and only that partial step is computed for it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
Q96 = 1 << 96
FEE_DENOMINATOR = 1_000_000
_UINT256 = (1 << 256) - 1


class SwapMathError(ValueError):
    """A Uniswap ``require`` would have failed (the contract would revert)."""


# ----------------------------------------------------------------------------- FullMath


def _mul_div(a: int, b: int, denominator: int) -> int:
    if denominator <= 0:
        raise SwapMathError("mulDiv: denominator is 0")
    result = a * b // denominator
    if result > _UINT256:
        raise SwapMathError("mulDiv: result overflows uint256")
    return result


def _mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    if denominator <= 0:
        raise SwapMathError("mulDivRoundingUp: denominator is 0")
    result = -(-(a * b) // denominator)
    if result > _UINT256:
        raise SwapMathError("mulDivRoundingUp: result overflows uint256")
    return result


def _div_rounding_up(x: int, y: int) -> int:  # UnsafeMath.divRoundingUp
    return -(-x // y)


# ----------------------------------------------------------------------------- TickMath

_TICK_FACTORS = (
    (0x2, 0xFFF97272373D413259A46990580E213A), (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0), (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0), (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053), (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54), (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9), (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5), (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6), (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604), (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


def sqrt_ratio_at_tick(tick: int) -> int:
    """``TickMath.getSqrtRatioAtTick``: sqrt(1.0001^tick) * 2^96, rounded up (Q64.96)."""
    abs_tick = -tick if tick < 0 else tick
    if abs_tick > MAX_TICK:
        raise SwapMathError(f"tick {tick} outside [{MIN_TICK}, {MAX_TICK}]")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 0x1 else 0x100000000000000000000000000000000
    for bit, factor in _TICK_FACTORS:
        if abs_tick & bit:
            ratio = (ratio * factor) >> 128
    if tick > 0:
        ratio = _UINT256 // ratio
    return (ratio >> 32) + (0 if ratio % (1 << 32) == 0 else 1)


def tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """``TickMath.getTickAtSqrtRatio``: the greatest tick whose sqrt ratio is <= the input."""
    if not (MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO):
        raise SwapMathError(f"sqrt price {sqrt_price_x96} outside [MIN_SQRT_RATIO, MAX_SQRT_RATIO)")
    ratio = sqrt_price_x96 << 32
    msb = ratio.bit_length() - 1  # the assembly's binary search for the most significant bit
    r = ratio >> (msb - 127) if msb >= 128 else ratio << (127 - msb)
    log_2 = (msb - 128) << 64
    for shift in range(63, 49, -1):
        r = (r * r) >> 127
        f = r >> 128
        log_2 |= f << shift
        r >>= f
    log_sqrt10001 = log_2 * 255738958999603826347141  # 128.128 number
    tick_low = (log_sqrt10001 - 3402992956809132418596140100660247210) >> 128
    tick_high = (log_sqrt10001 + 291339464771989622907027621153398088495) >> 128
    if tick_low == tick_high:
        return tick_low
    return tick_high if sqrt_ratio_at_tick(tick_high) <= sqrt_price_x96 else tick_low


# ------------------------------------------------------------------------- SqrtPriceMath


def amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """``SqrtPriceMath.getAmount0Delta`` (unsigned): token0 between two sqrt prices."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if sqrt_a <= 0:
        raise SwapMathError("getAmount0Delta: sqrt price is 0")
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return _div_rounding_up(_mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return _mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    """``SqrtPriceMath.getAmount1Delta`` (unsigned): token1 between two sqrt prices."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return _mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return _mul_div(liquidity, sqrt_b - sqrt_a, Q96)


def _next_from_amount0_rounding_up(sqrt_p: int, liquidity: int, amount: int) -> int:
    """``getNextSqrtPriceFromAmount0RoundingUp`` with ``add = true`` (token0 in)."""
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = amount * sqrt_p
    # Solidity: if the product does not overflow 256 bits and the denominator does not either.
    if product <= _UINT256:
        denominator = numerator1 + product
        if denominator <= _UINT256:
            return _mul_div_rounding_up(numerator1, sqrt_p, denominator)
    return _div_rounding_up(numerator1, numerator1 // sqrt_p + amount)


def _next_from_amount1_rounding_down(sqrt_p: int, liquidity: int, amount: int) -> int:
    """``getNextSqrtPriceFromAmount1RoundingDown`` with ``add = true`` (token1 in)."""
    if amount <= (1 << 160) - 1:
        quotient = (amount << 96) // liquidity
    else:
        quotient = _mul_div(amount, Q96, liquidity)
    result = sqrt_p + quotient
    if result >= 1 << 160:
        raise SwapMathError("getNextSqrtPriceFromAmount1RoundingDown: uint160 overflow")
    return result


def next_sqrt_price_from_input(sqrt_p: int, liquidity: int, amount_in: int, zero_for_one: bool) -> int:
    """``SqrtPriceMath.getNextSqrtPriceFromInput``."""
    if sqrt_p <= 0 or liquidity <= 0:
        raise SwapMathError("getNextSqrtPriceFromInput: price or liquidity is 0")
    if zero_for_one:
        return _next_from_amount0_rounding_up(sqrt_p, liquidity, amount_in)
    return _next_from_amount1_rounding_down(sqrt_p, liquidity, amount_in)


# ------------------------------------------------------------------------------ SwapMath


def compute_swap_step(sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int,
                      fee_pips: int) -> tuple[int, int, int, int]:
    """``SwapMath.computeSwapStep`` for exact input (``amount_remaining >= 0``).

    Returns ``(sqrt_next, amount_in, amount_out, fee_amount)``.
    """
    zero_for_one = sqrt_current >= sqrt_target
    remaining_less_fee = _mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
    if zero_for_one:
        amount_in = amount0_delta(sqrt_target, sqrt_current, liquidity, True)
    else:
        amount_in = amount1_delta(sqrt_current, sqrt_target, liquidity, True)
    if remaining_less_fee >= amount_in:
        sqrt_next = sqrt_target
    else:
        sqrt_next = next_sqrt_price_from_input(sqrt_current, liquidity, remaining_less_fee, zero_for_one)
    reached = sqrt_target == sqrt_next
    if zero_for_one:
        if not reached:
            amount_in = amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        amount_out = amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not reached:
            amount_in = amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        amount_out = amount0_delta(sqrt_current, sqrt_next, liquidity, False)
    if sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in  # the target was not reached: the rest is fee
    else:
        fee_amount = _mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return sqrt_next, amount_in, amount_out, fee_amount


# ---------------------------------------------------------------------------- pool state


@dataclass(frozen=True)
class PoolState:
    """What a swap reads from a pool: ``slot0`` price and tick, in-range ``liquidity``, the fee
    (pips, 500 = 0.05%), ``tickSpacing`` and the initialized ticks with their ``liquidityNet``,
    ascending by tick (every tick whose ``tickBitmap`` bit is set)."""

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee_pips: int
    tick_spacing: int
    ticks: tuple[int, ...]
    liquidity_net: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.ticks) != len(self.liquidity_net):
            raise ValueError("ticks and liquidity_net must have the same length")
        if any(b <= a for a, b in zip(self.ticks, self.ticks[1:])):
            raise ValueError("ticks must be strictly ascending")
        if any(t % self.tick_spacing for t in self.ticks):
            raise ValueError("every initialized tick must be a multiple of tick_spacing")
        if not 0 <= self.fee_pips < FEE_DENOMINATOR or self.tick_spacing < 1:
            raise ValueError("fee_pips must be in [0, 1e6) and tick_spacing >= 1")

    def next_initialized_tick(self, tick: int, lte: bool) -> tuple[int, bool]:
        """``TickBitmap.nextInitializedTickWithinOneWord`` over :attr:`ticks`."""
        spacing = self.tick_spacing
        compressed = tick // spacing  # Solidity truncates, then decrements for negative remainders
        if lte:
            word_start = (compressed >> 8) << 8  # bitPos = compressed % 256 (two's complement)
            i = bisect.bisect_right(self.ticks, compressed * spacing) - 1
            if i >= 0 and self.ticks[i] >= word_start * spacing:
                return self.ticks[i], True
            return word_start * spacing, False
        compressed += 1
        word_end = ((compressed >> 8) << 8) + 255
        i = bisect.bisect_left(self.ticks, compressed * spacing)
        if i < len(self.ticks) and self.ticks[i] <= word_end * spacing:
            return self.ticks[i], True
        return word_end * spacing, False

    def net_at(self, tick: int) -> int:
        i = bisect.bisect_left(self.ticks, tick)
        return self.liquidity_net[i]


@dataclass(frozen=True)
class SwapResult:
    """One exact-input swap. ``amount_in`` is what the pool took (less than asked when the price
    limit was reached: the pool ran out of liquidity); ``ticks_crossed`` counts initialized ticks
    crossed as QuoterV2 reports them."""

    amount_in: int
    amount_out: int
    sqrt_price_x96: int
    tick: int
    liquidity: int
    ticks_crossed: int
    fee_amount: int


@dataclass(frozen=True)
class _Cursor:
    sqrt_price_x96: int
    tick: int
    liquidity: int
    consumed: int  # input spent so far, fee included
    amount_out: int
    fees: int
    crossed: int


def default_price_limit(zero_for_one: bool) -> int:
    """The limit QuoterV2 and SwapRouter use for ``sqrtPriceLimitX96 = 0``."""
    return MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1


def _check_limit(state: PoolState, zero_for_one: bool, limit: int) -> None:
    if zero_for_one:
        if not (MIN_SQRT_RATIO < limit < state.sqrt_price_x96):
            raise SwapMathError("SPL: price limit must be below the price and above MIN_SQRT_RATIO")
    elif not (state.sqrt_price_x96 < limit < MAX_SQRT_RATIO):
        raise SwapMathError("SPL: price limit must be above the price and below MAX_SQRT_RATIO")


def _step(state: PoolState, c: _Cursor, remaining: int, zero_for_one: bool, limit: int) -> tuple[_Cursor, bool]:
    """One iteration of ``UniswapV3Pool.swap``'s loop; returns the new cursor and whether it
    ended exactly on the step's tick (a full step)."""
    tick_next, initialized = state.next_initialized_tick(c.tick, zero_for_one)
    tick_next = min(max(tick_next, MIN_TICK), MAX_TICK)
    sqrt_next_tick = sqrt_ratio_at_tick(tick_next)
    if zero_for_one:
        target = limit if sqrt_next_tick < limit else sqrt_next_tick
    else:
        target = limit if sqrt_next_tick > limit else sqrt_next_tick
    sqrt_price, amount_in, amount_out, fee = compute_swap_step(c.sqrt_price_x96, target, c.liquidity, remaining,
                                                               state.fee_pips)
    liquidity, tick, crossed = c.liquidity, c.tick, c.crossed
    full = sqrt_price == sqrt_next_tick
    if full:
        if initialized:
            net = state.net_at(tick_next)
            liquidity += -net if zero_for_one else net
            if liquidity < 0:
                raise SwapMathError("LiquidityMath.addDelta underflow (inconsistent ticks)")
            crossed += 1
        tick = tick_next - 1 if zero_for_one else tick_next
    elif sqrt_price != c.sqrt_price_x96:
        tick = tick_at_sqrt_ratio(sqrt_price)
    return _Cursor(sqrt_price, tick, liquidity, c.consumed + amount_in + fee, c.amount_out + amount_out,
                   c.fees + fee, crossed), full


def _start(state: PoolState) -> _Cursor:
    return _Cursor(state.sqrt_price_x96, state.tick, state.liquidity, 0, 0, 0, 0)


def _run(state: PoolState, cursor: _Cursor, amount_in: int, zero_for_one: bool, limit: int,
         max_steps: int) -> _Cursor:
    steps = 0
    while cursor.consumed < amount_in and cursor.sqrt_price_x96 != limit:
        cursor, _ = _step(state, cursor, amount_in - cursor.consumed, zero_for_one, limit)
        steps += 1
        if steps > max_steps:
            raise SwapMathError(f"swap did not finish within {max_steps} steps")
    return cursor


def _result(c: _Cursor) -> SwapResult:
    return SwapResult(c.consumed, c.amount_out, c.sqrt_price_x96, c.tick, c.liquidity, c.crossed, c.fees)


MAX_STEPS = 200_000
"""Bound on swap-loop iterations (a swap from the middle of the range to the far end steps
through at most ~2 x 887272 / (256 x tickSpacing) + 2 x (initialized ticks) words)."""


def swap_exact_input(state: PoolState, amount_in: int, zero_for_one: bool, sqrt_price_limit_x96: int = 0) -> SwapResult:
    """Sell ``amount_in`` raw units of token0 (``zero_for_one``) or token1 into the pool.

    ``sqrt_price_limit_x96 = 0`` means no limit (as QuoterV2 / SwapRouter treat it).
    """
    if amount_in <= 0:
        raise SwapMathError("amount_in must be > 0 (UniswapV3Pool: AS)")
    limit = sqrt_price_limit_x96 or default_price_limit(zero_for_one)
    _check_limit(state, zero_for_one, limit)
    return _result(_run(state, _start(state), amount_in, zero_for_one, limit, MAX_STEPS))


@dataclass(frozen=True)
class SwapPath:
    """The whole exact-input path of one pool and direction, to the price limit: the cursor at
    the start of every step (``starts[k].consumed`` ascending); ``exhausted_in`` is the input the
    path takes in full (larger sizes stop at the limit, leaving the rest unspent)."""

    state: PoolState
    zero_for_one: bool
    limit: int
    starts: tuple[_Cursor, ...]
    consumed: tuple[int, ...]

    @property
    def exhausted_in(self) -> int:
        return self.consumed[-1]


def swap_path(state: PoolState, zero_for_one: bool, sqrt_price_limit_x96: int = 0,
              max_steps: int = MAX_STEPS) -> SwapPath:
    """Walk every full step from the pool's price to the limit once (see the module docstring)."""
    limit = sqrt_price_limit_x96 or default_price_limit(zero_for_one)
    _check_limit(state, zero_for_one, limit)
    cursor = _start(state)
    starts = [cursor]
    huge = 1 << 255  # exact input larger than any step: every step runs to its target
    while cursor.sqrt_price_x96 != limit:
        cursor, _ = _step(state, cursor, huge - cursor.consumed, zero_for_one, limit)
        starts.append(cursor)
        if len(starts) > max_steps:
            raise SwapMathError(f"path longer than {max_steps} steps")
    return SwapPath(state, zero_for_one, limit, tuple(starts), tuple(c.consumed for c in starts))


def swap_exact_input_many(path: SwapPath, amounts_in: Sequence[int]) -> list[SwapResult]:
    """:func:`swap_exact_input` for many sizes through one pool and direction (same results)."""
    out = []
    for amount in amounts_in:
        amount = int(amount)
        if amount <= 0:
            raise SwapMathError("amount_in must be > 0 (UniswapV3Pool: AS)")
        # The loop runs step j while consumed[j] < amount, and completes it iff amount >=
        # consumed[j + 1]: every step before the first k with consumed[k] >= amount completes.
        k = bisect.bisect_left(path.consumed, amount)
        if k < len(path.consumed) and path.consumed[k] == amount:
            cursor = path.starts[k]  # nothing left to spend: the pool stops exactly there
        else:
            cursor = _run(path.state, path.starts[k - 1], amount, path.zero_for_one, path.limit, MAX_STEPS)
        out.append(_result(cursor))
    return out


def price_token1_per_token0(sqrt_price_x96: int, decimals0: int, decimals1: int) -> float:
    """Human price of token0 in token1 (float): (sqrtP / 2^96)^2 x 10^(dec0 - dec1)."""
    ratio = sqrt_price_x96 / Q96
    return ratio * ratio * 10.0 ** (decimals0 - decimals1)


def sqrt_price_x96_for(price_token1_per_token0: float, decimals0: int, decimals1: int) -> int:
    """sqrtPriceX96 of a human price (token1 per token0), for initializing pools."""
    from decimal import Decimal, getcontext

    getcontext().prec = 80
    raw = Decimal(repr(price_token1_per_token0)) * Decimal(10) ** (decimals1 - decimals0)
    return int(raw.sqrt() * Decimal(Q96))


__all__ = [
    "MAX_SQRT_RATIO", "MAX_TICK", "MIN_SQRT_RATIO", "MIN_TICK", "PoolState", "Q96", "SwapMathError", "SwapPath",
    "SwapResult", "amount0_delta", "amount1_delta", "compute_swap_step", "default_price_limit",
    "next_sqrt_price_from_input", "price_token1_per_token0", "sqrt_price_x96_for", "sqrt_ratio_at_tick",
    "swap_exact_input", "swap_exact_input_many", "swap_path", "tick_at_sqrt_ratio",
]

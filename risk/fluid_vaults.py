"""Fluid vaults (Instadapp Fluid, vault T1): tick math, liquidation and absorb, exact and vectorized.

Two numeric layers, as for the other venues:

- the protocol's own integer math, written from Instadapp/fluid-contracts-public (read with the
  project's search tools):

  * ``contracts/libraries/tickMath.sol`` (@499e1ab40581fa71e71a934f2820d8385f1e1878):
    ``ratioX96 = 1.0015**tick * 2**96`` (:func:`ratio_at_tick`, :func:`tick_at_ratio`, the same
    factor tables and rounding);
  * ``contracts/protocols/vault/vaultT1/coreModule/helpers.sol`` ``_addDebtToTickWrite``: a position
    sits at ``tick_at_ratio(netDebt * 2**96 / col) + 1`` and its raw debt is rounded up to that tick's
    ratio (the difference is its dust debt) — :func:`position_tick`;
  * ``coreModule/main.sol`` ``liquidate`` (@47e2ae8c698fd17835f0277c3f88a4198c200071): the oracle's
    debt-per-collateral price (1e27) gives ``colPerDebt = 1e54 / price * (1 + penalty)``, the
    liquidation tick (ratio at the liquidation threshold) and the max tick (ratio at the liquidation
    max limit) — :func:`liquidation_setup`; the walk from the top tick down, each step liquidating
    ``x = (debt - refRatio * debt / ratio) * 1e27 / (1e27 - colPerDebt * refRatio / 2**96)`` so that
    the remaining debt / collateral lands on the next tick with debt (or the liquidation tick) —
    :func:`debt_to_liquidate`, :func:`liquidate_ticks`;
  * ``coreModule/main2.sol`` ``absorb``: ticks above the max tick are taken whole by the vault
    (``absorbedLiquidity``; collateral = debt * 2**96 / ratio of the tick) — :func:`absorb_ticks`.

  Modelled without Fluid's branches: the tick walk here is a vault's liquidation over *perfect*
  ticks (no earlier liquidation branch and partials to merge), debts as plain integers (Fluid
  stores tick debt as a 56-bit-mantissa big number) and exchange prices 1e12 (raw = amounts).

- a float kernel over book rows (:func:`liquidate_fluid_rows_from_book`): per position, the ratio
  ``debt / (collateral * price)``: above the liquidation max limit the vault absorbs the position
  (the whole collateral goes, the debt it does not cover is bad debt); above the liquidation
  threshold it is liquidated down to that ratio with the vault's penalty (the vault stops at the
  liquidation *tick*, within one tick, 0.15% of ratio, of it); below, untouched. Cross-checked
  against the plain loop in ``tests/risk/fluid_reference.py`` and against :func:`liquidate_ticks`.

No devnet double or reader yet (no genuine Fluid code is installable from a registry either): the
exact math here is checked against exact rational arithmetic and its own invariants only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

MIN_TICK = -32767
MAX_TICK = 32767
ZERO_TICK_SCALED_RATIO = 1 << 96
MIN_RATIO_X96 = 37075072
MAX_RATIO_X96 = 169307877264527972847801929085841449095838922544595
_1E26 = 10**26
_U256 = 2**256 - 1
# 2**128 / 1.0015**(2**k), k = 0..14 (tickMath.sol FACTOR01..FACTOR15)
_FACTORS = (
    0xff9dd7de423466c20352b1246ce4856f, 0xff3bd55f4488ad277531fa1c725a66d0, 0xfe78410fd6498b73cb96a6917f853259,
    0xfcf2d9987c9be178ad5bfeffaa123273, 0xf9ef02c4529258b057769680fc6601b3, 0xf402d288133a85a17784a411f7aba082,
    0xe895615b5beb6386553757b0352bda90, 0xd34f17a00ffa00a8309940a15930391a, 0xae6b7961714e20548d88ea5123f9a0ff,
    0x76d6461f27082d74e0feed3b388c0ca1, 0x372a3bfe0745d8b6b19d985d9a8b85bb, 0x0be32cbee48979763cf7247dd7bb539d,
    0x8d4f70c9ff4924dac37612d1e2921e, 0x4e009ae5519380809a02ca7aec77, 0x17c45e641b6e95dee056ff10,
)
# (1.0015**(2**k)) * 1e26 thresholds for getTickAtRatio, k = 14 .. 0
_STEPS = (
    (0x4000, 4626198540796508716348404308345255985), (0x2000, 21508599537851153911767490449162),
    (0x1000, 46377364670549310883002866649), (0x800, 2153540449365864845468344760),
    (0x400, 464062544207767844008185025), (0x200, 215421109505955298802281577),
    (0x100, 146772309890508740607270615), (0x80, 121149622323187099817270416),
    (0x40, 110067989135437147685980801), (0x20, 104913292358707887270979600),
    (0x10, 102427189924701091191840928), (0x8, 101206318935480056907421313),
    (0x4, 100601351350506250000000000), (0x2, 100300225000000000000000000),
    (0x1, 100150000000000000000000000),
)


class FluidRevert(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def ratio_at_tick(tick: int) -> int:
    """``TickMath.getRatioAtTick``: ``1.0015**tick * 2**96``, rounded up for positive ticks."""
    a = abs(tick)
    if a > MAX_TICK:
        raise FluidRevert("tick out of range")
    factor = _FACTORS[0] if a & 1 else 1 << 128
    for k in range(1, 15):
        if a & (1 << k):
            factor = (factor * _FACTORS[k]) >> 128
    precision = 0
    if tick >= 0:
        factor = _U256 // factor
        if factor % (1 << 32):
            precision = 1
    return (factor >> 32) + precision


def tick_at_ratio(ratio_x96: int) -> tuple[int, int]:
    """``TickMath.getTickAtRatio``: (tick rounded down, that tick's ratio)."""
    if ratio_x96 > MAX_RATIO_X96 or ratio_x96 < MIN_RATIO_X96:
        raise FluidRevert("ratio out of range")
    below = ratio_x96 < ZERO_TICK_SCALED_RATIO
    factor = (ZERO_TICK_SCALED_RATIO * _1E26) // ratio_x96 if below else (ratio_x96 * _1E26) // ZERO_TICK_SCALED_RATIO
    tick = 0
    for bit, threshold in _STEPS:
        if factor >= threshold:
            tick |= bit
            factor = factor * _1E26 // threshold
    if below:
        tick = ~tick
        perfect = ratio_x96 * factor // 100150000000000000000000000
    else:
        perfect = ratio_x96 * _1E26 // factor
    if perfect > ratio_x96:
        raise FluidRevert("perfect ratio above ratio")
    return tick, perfect


def position_tick(col_raw: int, net_debt_raw: int) -> tuple[int, int, int]:
    """``_addDebtToTickWrite``: (tick, raw debt at the tick's ratio, dust debt = that - net debt)."""
    if net_debt_raw < 10_000:
        raise FluidRevert("Vault__UserDebtTooLow")
    tick, ratio = tick_at_ratio(net_debt_raw * ZERO_TICK_SCALED_RATIO // col_raw)
    tick += 1
    ratio = ratio * 10015 // 10000
    user_raw_debt = (ratio * col_raw) >> 96
    return tick, user_raw_debt, user_raw_debt - net_debt_raw


@dataclass(frozen=True, slots=True)
class LiquidationSetup:
    col_per_debt: int  # raw collateral per raw debt incl. the penalty, 1e27
    liquidation_tick: int
    max_tick: int


def liquidation_setup(oracle_price_1e27: int, *, liquidation_threshold_1e3: int, liquidation_max_limit_1e3: int,
                      liquidation_penalty_1e4: int, supply_ex_price: int = 10**12,
                      borrow_ex_price: int = 10**12) -> LiquidationSetup:
    """``liquidate``'s oracle step: debt per collateral (1e27) -> colPerDebt with the penalty, the
    liquidation tick (ratio at the threshold) and the max tick (ratio at the max limit)."""
    if oracle_price_1e27 > 10**54 or oracle_price_1e27 == 0:
        raise FluidRevert("Vault__InvalidOraclePrice")
    debt_per_col = min(oracle_price_1e27 * supply_ex_price // borrow_ex_price, 10**45)
    col_per_debt = (10**54 // debt_per_col) * (10_000 + liquidation_penalty_1e4) // 10_000
    scaled = debt_per_col * ZERO_TICK_SCALED_RATIO // 10**27
    liq_tick, _ = tick_at_ratio(scaled * liquidation_threshold_1e3 // 1000)
    max_tick, _ = tick_at_ratio(scaled * liquidation_max_limit_1e3 // 1000)
    return LiquidationSetup(col_per_debt, liq_tick, max_tick)


def debt_to_liquidate(debt: int, ratio: int, ref_ratio: int, col_per_debt: int) -> int:
    """One step of the walk: the debt ``x`` whose repayment (getting ``x * colPerDebt`` collateral)
    moves aggregated ``debt`` at ``ratio`` to ``ref_ratio``: ``(debt - x) / (col - x cpd) = ref``."""
    return ((debt - ref_ratio * debt // ratio) * 10**27) // (10**27 - col_per_debt * ref_ratio // ZERO_TICK_SCALED_RATIO)


def absorb_ticks(tick_debt: dict[int, int], max_tick: int) -> tuple[int, int, dict[int, int]]:
    """``absorb``: every tick above ``max_tick`` is taken whole: (debt absorbed, collateral absorbed,
    the ticks left)."""
    debt = col = 0
    left = {}
    for t, d in tick_debt.items():
        if t > max_tick:
            debt += d
            col += d * ZERO_TICK_SCALED_RATIO // ratio_at_tick(t)
        else:
            left[t] = d
    return debt, col, left


@dataclass(frozen=True, slots=True)
class TickLiquidation:
    debt_liquidated: int
    col_liquidated: int
    ticks_liquidated: tuple[int, ...]
    debt_left: int  # debt of the liquidated ticks after, all at the final ratio
    col_left: int
    final_tick: int


def liquidate_ticks(tick_debt: dict[int, int], setup: LiquidationSetup, debt_amount: int) -> TickLiquidation:
    """The liquidation walk over perfect ticks (no earlier branch) from the top tick down: ticks are
    added to the liquidated aggregate one by one; each step repays ``debt_to_liquidate`` to bring the
    aggregate's ratio to the next tick with debt, or to the liquidation tick, where it ends (or when
    ``debt_amount`` is used up, ending between ticks)."""
    ticks = sorted((t for t, d in tick_debt.items() if d > 0 and t > setup.liquidation_tick), reverse=True)
    if not ticks:
        return TickLiquidation(0, 0, (), 0, 0, setup.liquidation_tick)
    remaining = debt_amount
    debt = col = total_debt = total_col = 0
    ratio = ratio_at_tick(ticks[0])
    done: list[int] = []
    i = 0
    final_tick = setup.liquidation_tick
    while True:
        t = ticks[i]
        done.append(t)
        debt += tick_debt[t]
        col += tick_debt[t] * ZERO_TICK_SCALED_RATIO // ratio
        i += 1
        ref_tick = ticks[i] if i < len(ticks) else setup.liquidation_tick
        last = i >= len(ticks)
        ref_ratio = ratio_at_tick(ref_tick)
        x = debt_to_liquidate(debt, ratio, ref_ratio, setup.col_per_debt)
        c = x * setup.col_per_debt // 10**27
        if x == debt:
            x -= 1
        if x >= remaining or last:
            if x >= remaining:
                x = remaining
                c = x * setup.col_per_debt // 10**27
                final_tick, _ = tick_at_ratio((debt - x) * ZERO_TICK_SCALED_RATIO // (col - c))
                final_tick += 1
            else:
                final_tick = ref_tick + 1
            total_debt += x
            total_col += c
            debt -= x
            col -= c
            break
        remaining -= x
        total_debt += x
        total_col += c
        debt -= x
        col -= c
        ratio = ref_ratio
    return TickLiquidation(total_debt, total_col, tuple(done), debt, col, final_tick)


# ------------------------------------------------------------------------------- float kernel


@dataclass(frozen=True, eq=False)
class FluidRowsOutcome:
    seized: FloatArray
    repaid: FloatArray
    bad_debt_usd: FloatArray
    absorbed: BoolArray
    hit: BoolArray


_DUST_USD = 1e-6


def liquidate_fluid_rows(collateral: FloatArray, debt: FloatArray, liq_threshold: FloatArray, penalty: FloatArray,
                         max_limit: FloatArray, prices_usd: FloatArray) -> FluidRowsOutcome:
    """Per row (one collateral, one debt asset: the largest of each by value), in place:
    ``ratio = debt value / collateral value``; above ``max_limit`` the vault absorbs the position
    (all collateral, bad debt = debt - collateral value when positive); above ``liq_threshold``
    liquidated down to the liquidation threshold: repay ``x = (d - r c) / (1 - r (1 + penalty))``
    (values, ``r`` = the threshold), seize ``x (1 + penalty)`` of collateral. The vault ends the
    walk at the liquidation *tick* (the tick at or below the threshold ratio, in raw amounts):
    within one tick (a 0.15% ratio) of ``r``, a difference this float model keeps."""
    n_rows, n_assets = collateral.shape
    p = np.broadcast_to(np.asarray(prices_usd, dtype=np.float64), collateral.shape)
    seized = np.zeros((n_rows, n_assets))
    repaid = np.zeros((n_rows, n_assets))
    bad = np.zeros(n_rows)
    coll_usd = np.where(liq_threshold > 0, collateral * p, 0.0)
    debt_usd = debt * p
    c = np.argmax(coll_usd, axis=1)
    j = np.argmax(debt_usd, axis=1)
    k = np.arange(n_rows)
    cv, dv = coll_usd[k, c], debt_usd[k, j]
    lt, pen = liq_threshold[k, c], penalty[k, c]
    # A vault's max limit is always above its threshold (the admin module reverts otherwise:
    # Instadapp/fluid-contracts-public@98a5dae9 contracts/protocols/vault/vaultT1/adminModule/main.sol,
    # updateLiquidationThreshold / updateLiquidationMaxLimit, ``liquidationThreshold_ >=
    # liquidationMaxLimit_``); a book row carrying one at or below it is read as absorb from the threshold.
    ml = np.maximum(max_limit[k, c], lt)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(cv > 0, dv / np.where(cv > 0, cv, 1.0), np.inf)
    has_debt = dv > _DUST_USD
    absorbed = has_debt & (ratio > ml)
    hit = has_debt & (ratio > lt)
    part = hit & ~absorbed
    r_end = lt  # the liquidation tick's ratio, to within one tick (0.15%): ticks live in raw-amount space
    x = np.where(part, (dv - r_end * cv) / (1.0 - r_end * (1.0 + pen)), 0.0)
    x = np.clip(x, 0.0, dv)
    seize_v = np.minimum(x * (1.0 + pen), cv)
    pc, pj = p[k, c], p[k, j]
    seized[k, c] = np.where(absorbed, collateral[k, c], np.where(part, seize_v / pc, 0.0))
    repaid[k, j] = np.where(absorbed, np.minimum(dv, cv) / pj, np.where(part, x / pj, 0.0))
    bad[:] = np.where(absorbed, np.maximum(dv - cv, 0.0), 0.0)
    collateral[k, c] = np.where(absorbed, 0.0, collateral[k, c] - seized[k, c])
    debt[k, j] = np.where(absorbed, 0.0, debt[k, j] - repaid[k, j])
    return FluidRowsOutcome(seized, repaid, bad, absorbed, hit)


def liquidate_fluid_rows_from_book(collateral: FloatArray, debt: FloatArray, liq_threshold: FloatArray,
                                   liq_bonus: FloatArray, protocol_fee: FloatArray, prices_usd: FloatArray,
                                   ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """The registry's kernel for ``fluid_vault`` rows: ``liq_bonus`` = 1 + the vault's liquidation
    penalty, ``protocol_fee`` carries the liquidation max limit (the absorb ratio; the vault keeps no
    fee: the penalty is the liquidator's)."""
    out = liquidate_fluid_rows(collateral, debt, liq_threshold, liq_bonus - 1.0, protocol_fee, prices_usd)
    return out.seized, np.zeros_like(out.seized), out.repaid, out.bad_debt_usd, out.hit

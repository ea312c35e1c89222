"""Euler v2 (EVK vaults through the EVC): the liquidation rule, exact and vectorized.

Two numeric layers, as for the other venues:

- the protocol's own integer math, copied from the Euler Vault Kit sources and tested equal to the
  devnet's EVK test double (``chain/contracts/EulerDouble.sol``) to the wei:
  ``euler-xyz/euler-vault-kit`` ``src/EVault/modules/Liquidation.sol`` (calculateLiquidation,
  calculateMaxLiquidation, executeLiquidation; commit 1dad88bd75b40cbce1103860f616a27c2aed314c, the
  version with the per-vault ``maxLiquidationDiscount`` and ``MIN_SOCIALIZATION_LIABILITY_VALUE``),
  ``src/EVault/shared/LiquidityUtils.sol`` (calculateLiquidity, getCollateralValue, checkNoCollateral;
  commit 32898036d943ef1a76a999e7b33085c08400c848), ``src/EVault/shared/types/LTVConfig.sol``
  (getLTV with the liquidation-LTV ramp; commit 432c4b550afa5965bfe6db893d01af03e2a050f0),
  ``src/EVault/shared/BorrowUtils.sol`` (getCurrentOwed, transferBorrow, decreaseBorrow; commit
  e4075ddf9f69f82002d533a303970a2aa6c6d647) and ``src/EVault/shared/types/Owed.sol`` (toAssetsUp,
  isDust; commit 0f121726cced67833755c7443a089e0bec97c64f);
- a float kernel over book rows (:func:`liquidate_euler_rows`), cross-checked against the plain loop
  in ``tests/risk/euler_reference.py``.

The rule (EVK):

- an account has one controller vault (its debt, in the vault's asset) and enabled collaterals
  (other vaults' shares). With mid-point oracle quotes in the vault's unit of account,
  ``collateralAdjustedValue = sum(value_i * liquidationLTV_i / 1e4)``; the account is in violation
  unless ``collateralAdjustedValue > liabilityValue``;
- discount factor = health = ``collateralAdjustedValue / liabilityValue``, floored at
  ``1 - maxLiquidationDiscount`` (so the discount ``1 - health`` is capped by the vault's
  ``maxLiquidationDiscount``);
- per call the liquidator names one collateral: it may take over the whole debt, receiving
  ``liabilityValue / discountFactor`` of that collateral, unless the collateral is worth less,
  then it takes all of it and repays ``collateralValue * discountFactor``. No close factor;
- when a call leaves the violator without any collateral balance and debt remains, the rest is
  socialised (written off against the vault's depositors): ``decreaseBorrow`` (unless the vault sets
  ``CFG_DONT_SOCIALIZE_DEBT`` or the liability was below ``MIN_SOCIALIZATION_LIABILITY_VALUE``);
- ``liquidationLTV`` ramps down linearly from ``initialLiquidationLTV`` to ``liquidationLTV`` over
  ``rampDuration`` after governance lowers it (``LTVConfig.getLTV``).

Book columns (:mod:`risk.book`): ``liq_threshold`` = the liquidation LTV at the snapshot block;
``liq_bonus`` = ``1 / (1 - maxLiquidationDiscount)`` (the largest collateral-per-debt ratio the
vault can pay; :func:`encode_max_discount`); ``protocol_fee`` = 0 (the whole discount goes to the
liquidator).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

CONFIG_SCALE = 10_000
"""EVK ``CONFIG_SCALE``: LTVs and the max liquidation discount are in 1e4 (src/EVault/shared/Constants.sol)."""
INTERNAL_DEBT_PRECISION_SHIFT = 31
"""Owed amounts are assets shifted left by 31 bits (Constants.sol ``INTERNAL_DEBT_PRECISION_SHIFT``)."""
MIN_SOCIALIZATION_LIABILITY_VALUE = 10**6
"""Liquidation.sol: below this liability value (unit of account) debt is not socialised."""
CFG_DONT_SOCIALIZE_DEBT = 1 << 0
"""Constants.sol config flag: the vault never socialises debt."""
WAD = 10**18

_DUST_USD = 1e-6

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


class EVKRevert(ValueError):
    """The call would revert on chain; ``reason`` is the EVK custom error's name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------- exact math


@dataclass(frozen=True, slots=True)
class LTVConfig:
    """``LTVConfig`` as ``LTVFull(collateral)`` returns it (1e4 scale; seconds)."""

    borrow_ltv_1e4: int
    liquidation_ltv_1e4: int
    initial_liquidation_ltv_1e4: int
    target_timestamp: int
    ramp_duration_s: int

    @property
    def recognized(self) -> bool:
        """``isRecognizedCollateral``: a configured collateral (``targetTimestamp != 0``)."""
        return self.target_timestamp != 0


def liquidation_ltv_1e4(cfg: LTVConfig, timestamp: int) -> int:
    """``LTVConfigLib.getLTV(self, true)`` at ``timestamp``: the ramped liquidation LTV."""
    if timestamp >= cfg.target_timestamp or cfg.liquidation_ltv_1e4 >= cfg.initial_liquidation_ltv_1e4:
        return cfg.liquidation_ltv_1e4
    remaining = cfg.target_timestamp - timestamp
    return cfg.liquidation_ltv_1e4 + (cfg.initial_liquidation_ltv_1e4 - cfg.liquidation_ltv_1e4) * remaining // cfg.ramp_duration_s


def current_owed(owed: int, vault_accumulator: int, user_accumulator: int) -> int:
    """``BorrowUtils.getCurrentOwed``: the user's owed (Owed units, assets << 31) with interest."""
    if owed == 0:
        return 0
    return owed * vault_accumulator // user_accumulator


def owed_to_assets_up(owed: int) -> int:
    """``OwedLib.toAssetsUp``."""
    if owed == 0:
        return 0
    return (owed + (1 << INTERNAL_DEBT_PRECISION_SHIFT) - 1) >> INTERNAL_DEBT_PRECISION_SHIFT


def collateral_adjusted_value(values: Sequence[int], ltvs_1e4: Sequence[int]) -> int:
    """``calculateLiquidity`` collateral side: ``sum(value * ltv / CONFIG_SCALE)``, each term floored
    (``getCollateralValue``; a zero LTV or zero value contributes 0)."""
    total = 0
    for value, ltv in zip(values, ltvs_1e4, strict=True):
        if ltv and value:
            total += value * ltv // CONFIG_SCALE
    return total


@dataclass(frozen=True, slots=True)
class MaxLiquidation:
    """``calculateLiquidation`` with ``desiredRepay = max``: ``checkLiquidation``'s answer."""

    repay_assets: int
    yield_balance: int
    liability_value: int
    discount_factor_wad: int


def max_liquidation(*, collateral_adjusted_value_: int, liability_value: int, liability_assets: int,
                    max_liquidation_discount_1e4: int, collateral_balance: int, collateral_value: int) -> MaxLiquidation:
    """``calculateMaxLiquidation`` (Liquidation.sol): maximum repay (debt assets) and yield
    (collateral balance) for one collateral. ``collateral_value`` is the mid-point quote of the
    violator's whole balance of that collateral; ``liability_value`` the quote of ``liability_assets``."""
    if liability_assets == 0:
        return MaxLiquidation(0, 0, 0, 0)
    if collateral_adjusted_value_ > liability_value or liability_value == 0:
        return MaxLiquidation(0, 0, liability_value, 0)
    discount = collateral_adjusted_value_ * WAD // liability_value
    floor = WAD - WAD * max_liquidation_discount_1e4 // CONFIG_SCALE
    discount = max(discount, floor)
    if collateral_value == 0:
        return MaxLiquidation(0, collateral_balance, liability_value, discount)
    max_repay_value = liability_value
    max_yield_value = max_repay_value * WAD // discount
    if collateral_value < max_yield_value:
        max_repay_value = collateral_value * discount // WAD
        max_yield_value = collateral_value
    repay = max_repay_value * liability_assets // liability_value
    yield_balance = max_yield_value * collateral_balance // collateral_value
    return MaxLiquidation(repay, yield_balance, liability_value, discount)


def desired_repay(m: MaxLiquidation, repay_assets: int) -> tuple[int, int]:
    """``calculateLiquidation``'s adjustment for a desired repay below the maximum: ``(repay, yield)``."""
    if repay_assets > m.repay_assets:
        raise EVKRevert("E_ExcessiveRepayAmount")
    if m.repay_assets == 0:
        return m.repay_assets, m.yield_balance
    return repay_assets, repay_assets * m.yield_balance // m.repay_assets


@dataclass(frozen=True, slots=True)
class LiquidationResult:
    """What ``liquidate`` does to the violator: repay (debt moved to the liquidator, assets), yield
    (collateral balance moved), ``socialized_assets`` (debt written off), and the violator's owed
    (Owed units) after it."""

    repay_assets: int
    yield_balance: int
    socialized_assets: int
    violator_owed_after: int


def liquidate(*, owed_current: int, liability_value: int, repay_assets: int, yield_balance: int,
              collateral_balances_after: Sequence[int], config_flags: int = 0) -> LiquidationResult:
    """``executeLiquidation`` on the violator's side: ``transferBorrow`` (with the dust rule of
    BorrowUtils: an amount within one internal unit of the whole owed moves the whole owed), then
    socialisation when no recognised collateral balance is left (``checkNoCollateral``).
    ``owed_current``: the violator's owed with interest (:func:`current_owed`);
    ``collateral_balances_after``: every recognised enabled collateral's balance after the yield
    moved."""
    liability_assets = owed_to_assets_up(owed_current)
    amount = repay_assets << INTERNAL_DEBT_PRECISION_SHIFT
    one = 1 << INTERNAL_DEBT_PRECISION_SHIFT
    if repay_assets > 0:
        if (amount > owed_current and amount - owed_current < one) or (amount < owed_current and owed_current - amount < one):
            amount = owed_current
        if amount > owed_current:
            raise EVKRevert("E_InsufficientDebt")
        owed = owed_current - amount
    else:
        owed = owed_current
    socialized = 0
    if (liability_value >= MIN_SOCIALIZATION_LIABILITY_VALUE and not config_flags & CFG_DONT_SOCIALIZE_DEBT
            and liability_assets > repay_assets and all(b == 0 for b in collateral_balances_after)):
        socialized = liability_assets - repay_assets
        owed_assets = owed_to_assets_up(owed)
        if socialized > owed_assets:
            raise EVKRevert("E_RepayTooMuch")
        owed = (owed_assets - socialized) << INTERNAL_DEBT_PRECISION_SHIFT
    return LiquidationResult(repay_assets, yield_balance, socialized, owed)


@dataclass(frozen=True, slots=True)
class AccountCall:
    """One ``liquidate`` call of :func:`liquidate_account`: collateral index, repay, yield, socialised."""

    collateral: int
    repay_assets: int
    yield_balance: int
    socialized_assets: int


def liquidate_account(*, balances: Sequence[int], ltvs_1e4: Sequence[int], owed: int, max_liquidation_discount_1e4: int,
                      quote_collateral: Callable[[int, int], int], quote_liability: Callable[[int], int],
                      config_flags: int = 0, max_calls: int = 16) -> tuple[list[AccountCall], list[int], int]:
    """Keepers liquidating one account to the end, in exact integers: while in violation, one
    ``liquidate`` call with the maximum repay on the collateral worth most (the float kernel's
    choice). ``quote_collateral(i, balance)`` / ``quote_liability(assets)`` are the vault oracle's
    mid-point quotes (unit of account); ``owed`` the current owed (Owed units). Returns the calls,
    the balances after and the owed after."""
    bal = list(balances)
    calls: list[AccountCall] = []
    for _ in range(max_calls):
        liability_assets = owed_to_assets_up(owed)
        if liability_assets == 0:
            break
        values = [quote_collateral(i, b) if b else 0 for i, b in enumerate(bal)]
        adjusted = collateral_adjusted_value(values, ltvs_1e4)
        liability_value = quote_liability(liability_assets)
        if adjusted > liability_value or liability_value == 0:
            break
        candidates = [i for i in range(len(bal)) if bal[i] > 0]
        if not candidates and not bal:
            break
        # No collateral balance left: a call on an (empty) enabled collateral repays nothing and
        # socialises the debt (calculateMaxLiquidation's zero-value branch, then executeLiquidation).
        c = max(candidates, key=lambda i: values[i]) if candidates else 0
        m = max_liquidation(collateral_adjusted_value_=adjusted, liability_value=liability_value,
                            liability_assets=liability_assets, max_liquidation_discount_1e4=max_liquidation_discount_1e4,
                            collateral_balance=bal[c], collateral_value=values[c])
        bal[c] -= m.yield_balance
        result = liquidate(owed_current=owed, liability_value=liability_value, repay_assets=m.repay_assets,
                           yield_balance=m.yield_balance, collateral_balances_after=bal, config_flags=config_flags)
        owed = result.violator_owed_after
        calls.append(AccountCall(c, m.repay_assets, m.yield_balance, result.socialized_assets))
        if m.repay_assets == 0 and m.yield_balance == 0:
            break
    return calls, bal, owed


# ------------------------------------------------------------------------------- float model


def encode_max_discount(max_discount: float) -> float:
    """The book's ``liq_bonus`` of an Euler collateral: ``1 / (1 - maxLiquidationDiscount)``."""
    if not 0.0 <= max_discount < 1.0:
        raise ValueError(f"maxLiquidationDiscount must be in [0, 1) (got {max_discount})")
    return 1.0 / (1.0 - max_discount)


def decode_max_discount(liq_bonus: F64) -> F64:
    """``maxLiquidationDiscount`` from the book's ``liq_bonus`` column."""
    return np.asarray(1.0 - 1.0 / np.maximum(np.asarray(liq_bonus, dtype=np.float64), 1.0), dtype=np.float64)


@dataclass(frozen=True, eq=False)
class EulerOutcome:
    """Per row: ``seized_tokens`` (collateral the liquidators received, shape (n_rows, n_assets)),
    ``repaid_tokens`` (debt they took over), ``socialized_usd`` (debt written off: bad debt for
    the vault's depositors), ``hit``, ``calls`` (liquidate calls made)."""

    seized_tokens: F64
    repaid_tokens: F64
    socialized_usd: F64
    hit: B
    calls: npt.NDArray[np.int64]


def liquidate_euler_rows(collateral: F64, debt: F64, liq_threshold: F64, max_discount: F64, prices_usd: F64) -> EulerOutcome:
    """Liquidate every account in violation at ``prices_usd``, in place, as keepers do on an EVK
    vault: one ``liquidate`` call at a time, each on the account's most valuable remaining
    collateral with the maximum repay, the health (and so the discount) recomputed between calls;
    the debt left when no collateral remains is socialised.

    ``collateral``/``debt`` shape (n_rows, n_assets) tokens; ``liq_threshold`` the liquidation LTVs
    (0 = not collateral here); ``max_discount`` shape (n_rows,); ``prices_usd`` (n_assets,) or
    (n_rows, n_assets). Modelling choices: liquidators always take the maximum (they are assumed
    able to take on the debt), the most valuable collateral first. Every collateral column of an
    Euler row is a recognised, enabled collateral (the reader puts nothing else there), so one with
    liquidation LTV 0 (ramped down or cleared for borrowing) adds nothing to the health but can
    still be seized and still blocks socialisation, as on chain (``checkNoCollateral``).
    """
    n_rows, n_assets = collateral.shape
    p = np.broadcast_to(np.asarray(prices_usd, dtype=np.float64), collateral.shape)
    seized = np.zeros((n_rows, n_assets))
    repaid = np.zeros((n_rows, n_assets))
    socialized = np.zeros(n_rows)
    hit = np.zeros(n_rows, dtype=bool)
    calls = np.zeros(n_rows, dtype=np.int64)
    floor = 1.0 - np.asarray(max_discount, dtype=np.float64)
    seizable = collateral > 0
    rows = np.arange(n_rows)
    for _ in range(n_assets + 1):
        if rows.size == 0:
            break
        value = np.where(seizable[rows], collateral[rows] * p[rows], 0.0)
        adjusted = (value * liq_threshold[rows]).sum(axis=1)
        liability = (debt[rows] * p[rows]).sum(axis=1)
        violating = (liability > _DUST_USD) & ~(adjusted > liability)
        rows, value, adjusted, liability = rows[violating], value[violating], adjusted[violating], liability[violating]
        if rows.size == 0:
            break
        hit[rows] = True
        has_collateral = value.max(axis=1) > 0
        # No collateral left at all: nothing to liquidate; the debt is socialised (it is what the
        # next liquidate call on any zero-balance collateral would do).
        empty = rows[~has_collateral]
        calls[empty] += 1
        socialized[empty] += liability[~has_collateral]
        debt[empty] = 0.0
        rows, value, adjusted, liability = (rows[has_collateral], value[has_collateral], adjusted[has_collateral],
                                            liability[has_collateral])
        if rows.size == 0:
            break
        calls[rows] += 1
        factor = np.maximum(adjusted / liability, floor[rows])
        c = np.argmax(value, axis=1)
        coll_value = value[np.arange(rows.size), c]
        max_yield = liability / factor
        whole = coll_value >= max_yield
        repay_usd = np.where(whole, liability, coll_value * factor)
        yield_usd = np.where(whole, max_yield, coll_value)
        p_c = p[rows, c]
        taken = np.where(whole, yield_usd / p_c, collateral[rows, c])
        share = np.where(whole, 1.0, repay_usd / liability)
        seized[rows, c] += taken
        repaid[rows] += debt[rows] * share[:, None]
        collateral[rows, c] = np.where(whole, np.maximum(collateral[rows, c] - taken, 0.0), 0.0)
        debt[rows] = np.where(whole[:, None], 0.0, debt[rows] * (1.0 - share[:, None]))
        # Socialisation: the call left no collateral balance and debt remains.
        left = np.where(seizable[rows], collateral[rows], 0.0).sum(axis=1) > 0
        owed_usd = (debt[rows] * p[rows]).sum(axis=1)
        bankrupt = ~left & (owed_usd > _DUST_USD)
        socialized[rows[bankrupt]] += owed_usd[bankrupt]
        debt[rows[bankrupt]] = 0.0
        rows = rows[~whole & ~bankrupt]
    return EulerOutcome(seized, repaid, socialized, hit, calls)


def liquidate_euler_rows_from_book(
    collateral: F64, debt: F64, liq_threshold: F64, liq_bonus: F64, protocol_fee: F64, prices_usd: F64,
) -> tuple[F64, F64, F64, F64, B]:
    """The registry's kernel for ``euler_v2`` rows: ``(seized, fee, repaid tokens, bad_debt_usd,
    hit)`` in the shared kernel's terms (fee 0: the discount is the liquidator's; socialised debt is
    the bad debt). Updates ``collateral``/``debt`` in place. The max discount is decoded from the
    bonus of the row's collateral columns (all equal for one vault)."""
    del protocol_fee  # always 0 for Euler rows
    bonus = np.where(collateral > 0, liq_bonus, 1.0)
    out = liquidate_euler_rows(collateral, debt, liq_threshold, decode_max_discount(bonus.max(axis=1)), prices_usd)
    return out.seized_tokens, np.zeros_like(out.seized_tokens), out.repaid_tokens, out.socialized_usd, out.hit


__all__ = [
    "AccountCall", "CFG_DONT_SOCIALIZE_DEBT", "CONFIG_SCALE", "EVKRevert", "EulerOutcome", "INTERNAL_DEBT_PRECISION_SHIFT",
    "LTVConfig", "LiquidationResult", "MIN_SOCIALIZATION_LIABILITY_VALUE", "MaxLiquidation",
    "collateral_adjusted_value", "current_owed", "decode_max_discount", "desired_repay", "encode_max_discount",
    "liquidate", "liquidate_account", "liquidate_euler_rows", "liquidate_euler_rows_from_book", "liquidation_ltv_1e4",
    "max_liquidation", "owed_to_assets_up",
]

"""Aave V4 (hub and spokes): the spoke's liquidation math, exact (integer) — a first increment.

Copied from ``aave/aave-v4`` ``src/spoke/libraries/LiquidationLogic.sol`` (commit
8e6ea169d76ff0e51ccae3c8a48bf8fe060ba417: calculateLiquidationBonus, _calculateDebtToTargetHealthFactor,
_calculateDebtToLiquidate, _calculateLiquidationAmounts, _evaluateDeficit) and the account data of
``src/spoke/Spoke.sol`` (_processUserAccountData: collateral value rounded down, debt value rounded up,
health factor = sum(collateralFactor * value) / debt value, in WAD). Units as there: prices in the
oracle's decimals (8 for USD), values ``amount * price * 1e18 / 10**decimals`` (so $1 = 1e26 with
8-decimal prices; ``DUST_LIQUIDATION_THRESHOLD`` = 1000e26 = $1,000), factors and bonuses in BPS
(1e4 = 100%), health factors in WAD.

The rule: a position liquidates when its HF < 1; the liquidator repays at most what brings the HF
back to the spoke's ``targetHealthFactor`` (the debt to target), at a bonus that is the reserve's
``maxLiquidationBonus`` at or below ``healthFactorForMaxBonus`` and falls linearly toward
``minBonus = 1 + (maxBonus - 1) * liquidationBonusFactor`` as the HF nears 1; a liquidation that
would leave less than $1,000 of debt (or of collateral) takes all of it; a liquidation fee takes a
share of the bonus part; when the emptied collateral was the user's last active one and debt is
left, the spoke reports the whole remaining debt as deficit.

The float kernel (:func:`liquidate_spoke_rows`) is the same rule over rows of the book (USD values,
fractions), registered as rule ``aave_v4`` by ``risk/venues/aave_v4.py``; the spoke parameters
(target HF, HF for max bonus, bonus factor) reach it through the book's per-market rule parameters
(``Market.rule_params``, :data:`SPOKE_PARAMS`). Its plain-loop reference is
``tests/risk/reference_aave_v4.py``; the exact functions here are checked against the devnet's
Aave V4 TEST DOUBLE (``chain/contracts/AaveV4Double.sol``) in ``tests/chain/test_aave_v4.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PERCENTAGE_FACTOR = 10_000
WAD = 10**18
RAY = 10**27
HEALTH_FACTOR_LIQUIDATION_THRESHOLD = WAD
DUST_LIQUIDATION_THRESHOLD = 1_000 * 10**26
"""LiquidationLogic.DUST_LIQUIDATION_THRESHOLD: $1,000 in value units (8-decimal prices x WAD)."""


class SpokeRevert(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _unit(decimals: int) -> int:
    unit: int = 10**decimals
    return unit


def _mul_div_down(x: int, y: int, d: int) -> int:
    return x * y // d


def _mul_div_up(x: int, y: int, d: int) -> int:
    return -(-x * y // d)


def collateral_value(assets: int, price: int, decimals: int) -> int:
    """``(assets * price).wadDivDown(assetUnit)`` (Spoke._processUserAccountData)."""
    return assets * price * WAD // _unit(decimals)


def debt_value(drawn: int, premium_ray: int, price: int, decimals: int) -> int:
    """``((drawnDebt + premiumDebtRay.fromRayUp()) * price).wadDivUp(assetUnit)``."""
    return -(-(drawn + -(-premium_ray // RAY)) * price * WAD // _unit(decimals))


def health_factor_wad(collateral_values: list[int], collateral_factors_bps: list[int], total_debt_value: int) -> int:
    """``avgCollateralFactor.wadDivDown(totalDebtValue).fromBpsDown()`` with avgCollateralFactor the
    sum of ``collateralFactor * value`` over the active collaterals (collateral factor > 0)."""
    if total_debt_value == 0:
        return 2**256 - 1
    weighted = sum(cf * v for cf, v in zip(collateral_factors_bps, collateral_values, strict=True) if cf > 0 and v > 0)
    return weighted * WAD // total_debt_value // PERCENTAGE_FACTOR


def liquidation_bonus_bps(*, health_factor_for_max_bonus: int, liquidation_bonus_factor_bps: int, health_factor: int,
                          max_liquidation_bonus_bps: int) -> int:
    """``calculateLiquidationBonus``: max at or below ``healthFactorForMaxBonus``, else linear from
    ``minBonus`` (at HF 1) to the max."""
    if health_factor <= health_factor_for_max_bonus:
        return max_liquidation_bonus_bps
    min_bonus = (max_liquidation_bonus_bps - PERCENTAGE_FACTOR) * liquidation_bonus_factor_bps // PERCENTAGE_FACTOR \
        + PERCENTAGE_FACTOR
    return min_bonus + _mul_div_down(max_liquidation_bonus_bps - min_bonus, HEALTH_FACTOR_LIQUIDATION_THRESHOLD - health_factor,
                                     HEALTH_FACTOR_LIQUIDATION_THRESHOLD - health_factor_for_max_bonus)


def debt_to_target(*, total_debt_value: int, health_factor: int, target_health_factor: int, liquidation_bonus_bps_: int,
                   collateral_factor_bps: int, debt_price: int, debt_decimals: int) -> int:
    """``_calculateDebtToTargetHealthFactor`` (debt asset raw units, rounded up)."""
    penalty = -(-(liquidation_bonus_bps_ * 10**14) * collateral_factor_bps // PERCENTAGE_FACTOR)  # bpsToWad().percentMulUp(cf)
    return _mul_div_up(total_debt_value, _unit(debt_decimals) * (target_health_factor - health_factor),
                       (target_health_factor - penalty) * debt_price * WAD)


def debt_to_liquidate(*, debt_reserve_balance: int, debt_to_cover: int, total_debt_value: int, health_factor: int,
                      target_health_factor: int, liquidation_bonus_bps_: int, collateral_factor_bps: int,
                      debt_price: int, debt_decimals: int) -> int:
    """``_calculateDebtToLiquidate``: min(balance, debtToCover, debt to target), the whole balance
    when less than $1,000 of debt would be left."""
    debt = min(debt_reserve_balance, debt_to_cover)
    target = debt_to_target(total_debt_value=total_debt_value, health_factor=health_factor,
                            target_health_factor=target_health_factor, liquidation_bonus_bps_=liquidation_bonus_bps_,
                            collateral_factor_bps=collateral_factor_bps, debt_price=debt_price, debt_decimals=debt_decimals)
    debt = min(debt, target)
    leaves_dust = debt < debt_reserve_balance and \
        _mul_div_down(debt_reserve_balance - debt, debt_price * WAD, _unit(debt_decimals)) < DUST_LIQUIDATION_THRESHOLD
    return debt_reserve_balance if leaves_dust else debt


@dataclass(frozen=True, slots=True)
class LiquidationAmounts:
    collateral_to_liquidate: int
    collateral_to_liquidator: int
    debt_to_liquidate: int


@dataclass(frozen=True, slots=True)
class SpokeLiquidationConfig:
    """A spoke's ``LiquidationConfig``: HF in WAD, the bonus factor in BPS."""

    target_health_factor: int
    health_factor_for_max_bonus: int
    liquidation_bonus_factor_bps: int


def liquidation_amounts(config: SpokeLiquidationConfig, *, debt_reserve_balance: int, collateral_reserve_balance: int,
                        debt_to_cover: int, total_debt_value: int, health_factor: int, max_liquidation_bonus_bps: int,
                        collateral_factor_bps: int, liquidation_fee_bps: int, debt_price: int, debt_decimals: int,
                        collateral_price: int, collateral_decimals: int) -> LiquidationAmounts:
    """``_calculateLiquidationAmounts`` (LiquidationLogic.sol), with its dust rules and fee."""
    debt_unit, coll_unit = _unit(debt_decimals), _unit(collateral_decimals)
    bonus = liquidation_bonus_bps(health_factor_for_max_bonus=config.health_factor_for_max_bonus,
                                  liquidation_bonus_factor_bps=config.liquidation_bonus_factor_bps,
                                  health_factor=health_factor, max_liquidation_bonus_bps=max_liquidation_bonus_bps)
    debt = debt_to_liquidate(debt_reserve_balance=debt_reserve_balance, debt_to_cover=debt_to_cover,
                             total_debt_value=total_debt_value, health_factor=health_factor,
                             target_health_factor=config.target_health_factor, liquidation_bonus_bps_=bonus,
                             collateral_factor_bps=collateral_factor_bps, debt_price=debt_price,
                             debt_decimals=debt_decimals)
    coll = _mul_div_down(debt, debt_price * coll_unit * bonus, debt_unit * collateral_price * PERCENTAGE_FACTOR)
    leaves_coll_dust = coll < collateral_reserve_balance and _mul_div_down(
        collateral_reserve_balance - coll, collateral_price * WAD, coll_unit) < DUST_LIQUIDATION_THRESHOLD
    if coll > collateral_reserve_balance or (leaves_coll_dust and debt < debt_reserve_balance):
        coll = collateral_reserve_balance
        debt = _mul_div_up(coll, collateral_price * debt_unit * PERCENTAGE_FACTOR, debt_price * coll_unit * bonus)
    if debt_to_cover < debt:
        raise SpokeRevert("MustNotLeaveDust")
    to_liquidator = coll - _mul_div_down(coll, liquidation_fee_bps * (bonus - PERCENTAGE_FACTOR), bonus * PERCENTAGE_FACTOR)
    return LiquidationAmounts(coll, to_liquidator, debt)


def evaluate_deficit(*, collateral_position_empty: bool, debt_position_empty: bool, active_collateral_count: int,
                     borrowed_count: int) -> bool:
    """``_evaluateDeficit``: the last active collateral emptied while debt remains (here or on
    another reserve) -> the spoke reports all the user's remaining debt as deficit."""
    if not collateral_position_empty or active_collateral_count > 1:
        return False
    return not debt_position_empty or borrowed_count > 1


# ------------------------------------------------------------------- hub shares and one whole call

VIRTUAL_ASSETS = 10**6
VIRTUAL_SHARES = 10**6
"""SharesMath.VIRTUAL_ASSETS / VIRTUAL_SHARES (aave/aave-v4 src/hub/libraries/SharesMath.sol @41f8018d)."""


def shares_to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    """``SharesMath.toAssetsDown`` (Hub.previewRemoveByShares: a user's supplied assets)."""
    return shares * (total_assets + VIRTUAL_ASSETS) // (total_shares + VIRTUAL_SHARES)


def assets_to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    """``SharesMath.toSharesUp`` (Hub.previewRemoveByAssets: the shares a removal burns)."""
    return _mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def drawn_debt(drawn_shares: int, drawn_index_ray: int) -> int:
    """``UserPositionDebt.getDebt``: ``drawnShares.rayMulUp(drawnIndex)``."""
    return _mul_div_up(drawn_shares, drawn_index_ray, RAY)


def drawn_shares_down(amount: int, drawn_index_ray: int) -> int:
    """``AssetLogic.toDrawnSharesDown`` (``rayDivDown``: the shares Hub.restore burns)."""
    return amount * RAY // drawn_index_ray


@dataclass(frozen=True, slots=True)
class SpokeReserveState:
    """One reserve of one user on a spoke, as ``liquidationCall`` reads it (raw units; price with 8
    decimals; factors in BPS). ``supplied_shares`` / ``total_added_*``: the hub's share accounting of
    the collateral (to know whether a seizure empties the position)."""

    price: int
    decimals: int
    collateral_factor_bps: int
    max_liquidation_bonus_bps: int
    liquidation_fee_bps: int
    supplied_assets: int = 0
    using_as_collateral: bool = False
    debt: int = 0
    supplied_shares: int = 0
    total_added_assets: int = 0
    total_added_shares: int = 0


@dataclass(frozen=True, slots=True)
class SpokeLiquidation:
    health_factor: int
    amounts: LiquidationAmounts
    collateral_shares_burned: int
    collateral_emptied: bool
    debt_emptied: bool
    deficit: bool


def spoke_liquidation_call(config: SpokeLiquidationConfig, reserves: list[SpokeReserveState], collateral: int,
                           debt: int, debt_to_cover: int) -> SpokeLiquidation:
    """What ``Spoke.liquidationCall(collateral, debt, user, debtToCover, false)`` does to a user whose
    reserves are ``reserves`` (Spoke.sol / LiquidationLogic.sol @8e6ea169): the account data
    (values, HF, active collateral and borrowed counts), the validation, the amounts, the shares
    the seizure burns and whether the call reports a deficit. Raises :class:`SpokeRevert`."""
    values, factors, total_debt, active, borrowed = [], [], 0, 0, 0
    for r in reserves:
        if r.using_as_collateral and r.collateral_factor_bps > 0 and r.supplied_shares > 0:
            values.append(collateral_value(r.supplied_assets, r.price, r.decimals))
            factors.append(r.collateral_factor_bps)
            active += 1
        if r.debt > 0:
            total_debt += debt_value(r.debt, 0, r.price, r.decimals)
            borrowed += 1
    hf = health_factor_wad(values, factors, total_debt)
    c, d = reserves[collateral], reserves[debt]
    if debt_to_cover == 0:
        raise SpokeRevert("InvalidDebtToCover")
    if c.supplied_assets == 0:
        raise SpokeRevert("ReserveNotSupplied")
    if d.debt == 0:
        raise SpokeRevert("ReserveNotBorrowed")
    if hf >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD:
        raise SpokeRevert("HealthFactorNotBelowThreshold")
    if c.collateral_factor_bps == 0 or not c.using_as_collateral:
        raise SpokeRevert("CollateralCannotBeLiquidated")
    amounts = liquidation_amounts(config, debt_reserve_balance=d.debt, collateral_reserve_balance=c.supplied_assets,
                                  debt_to_cover=debt_to_cover, total_debt_value=total_debt, health_factor=hf,
                                  max_liquidation_bonus_bps=c.max_liquidation_bonus_bps,
                                  collateral_factor_bps=c.collateral_factor_bps,
                                  liquidation_fee_bps=c.liquidation_fee_bps, debt_price=d.price,
                                  debt_decimals=d.decimals, collateral_price=c.price, collateral_decimals=c.decimals)
    burned = assets_to_shares_up(amounts.collateral_to_liquidate, c.total_added_assets, c.total_added_shares)
    emptied = c.supplied_shares - burned == 0
    debt_emptied = amounts.debt_to_liquidate == d.debt
    deficit = evaluate_deficit(collateral_position_empty=emptied, debt_position_empty=debt_emptied,
                               active_collateral_count=active, borrowed_count=borrowed)
    return SpokeLiquidation(hf, amounts, burned, emptied, debt_emptied, deficit)


# ------------------------------------------------------------------------------- float kernel

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DUST_LIQUIDATION_THRESHOLD_USD = 1_000.0
"""``DUST_LIQUIDATION_THRESHOLD`` in USD (1000e26 value units with 8-decimal prices)."""
_EMPTY_USD = 1e-6
"""Residual value below a millionth of a dollar counts as zero (float noise), as in risk.liquidation."""

SPOKE_PARAMS: tuple[tuple[str, str, int], ...] = (
    ("target_health_factor_wad", "LiquidationConfig.targetHealthFactor: the HF a liquidation restores", 105 * 10**16),
    ("health_factor_for_max_bonus_wad", "LiquidationConfig.healthFactorForMaxBonus: at or below it the bonus is the max",
     95 * 10**16),
    ("liquidation_bonus_factor_bps", "LiquidationConfig.liquidationBonusFactor: min bonus = 1 + (max - 1) * factor",
     2_000),
)
"""The spoke's per-market rule parameters (name with its unit, meaning, default). The default is
what a synthetic book without a market gets (the conformance suite); a Snapshot market always
carries the spoke's own values (``Market.rule_params`` must name all three)."""


def spoke_params_float(target_health_factor_wad: int, health_factor_for_max_bonus_wad: int,
                       liquidation_bonus_factor_bps: int) -> tuple[float, float, float]:
    """The three spoke parameters as the kernel reads them (plain fractions)."""
    return (target_health_factor_wad / WAD, health_factor_for_max_bonus_wad / WAD,
            liquidation_bonus_factor_bps / PERCENTAGE_FACTOR)


DEFAULT_SPOKE_PARAMS: tuple[float, float, float] = spoke_params_float(*(d for _, _, d in SPOKE_PARAMS))


def dynamic_bonus(health: FloatArray, max_bonus: FloatArray, hf_for_max_bonus: FloatArray,
                  bonus_factor: FloatArray) -> FloatArray:
    """``calculateLiquidationBonus`` in floats: ``max_bonus`` at or below ``hf_for_max_bonus``, linear
    from ``1 + (max - 1) * factor`` at HF 1 up to the max (fractions, 1.05 = 5% bonus)."""
    min_bonus = 1.0 + (max_bonus - 1.0) * bonus_factor
    span = np.where(hf_for_max_bonus < 1.0, 1.0 - hf_for_max_bonus, 1.0)
    slope = np.clip((1.0 - health) / span, 0.0, 1.0)
    out: FloatArray = np.where(health <= hf_for_max_bonus, max_bonus, min_bonus + (max_bonus - min_bonus) * slope)
    return out


def liquidate_spoke_rows(collateral: FloatArray, debt: FloatArray, liq_threshold: FloatArray, liq_bonus: FloatArray,
                         protocol_fee: FloatArray, prices_usd: FloatArray, spoke_params: FloatArray | None = None,
                         *, max_passes: int = 32) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """Liquidate Aave V4 spoke rows (shape (n, a), tokens) at ``prices_usd`` ((a,) or (n, a)), in place.

    Columns: ``liq_threshold`` = the reserve's collateral factor (0 where not an active collateral),
    ``liq_bonus`` = its ``maxLiquidationBonus`` (1.05 = 5%), ``protocol_fee`` = its ``liquidationFee``
    (share of the bonus part). ``spoke_params`` (n, 3): target HF, HF for max bonus, bonus factor per
    row (:data:`SPOKE_PARAMS` order; ``None``: the defaults).

    Per pass, every row with HF < 1 is liquidated once, as ``liquidationCall`` with an unbounded
    ``debtToCover`` does: the liquidator's choice is the largest debt and the largest collateral reserve
    (by value); the repay is the debt to target ``D (T - HF) / (T - bonus * CF)``, capped at the debt
    reserve, the whole reserve when less than $1,000 would be left; the seizure ``repay * bonus``,
    capped at the collateral reserve (the repay shrinks), the whole reserve when less than $1,000 of it
    would be left while debt of the reserve remains. When the emptied collateral was the last active
    one and debt remains, all the remaining debt is deficit (``bad_debt_usd``); so is debt left with
    no active collateral at all (unliquidatable, counted once). Rows still below HF 1
    go again (at most ``max_passes``). Returns ``(seized, fee, repaid, bad_debt_usd, hit)``.
    """
    n, a = collateral.shape
    prices = np.broadcast_to(np.asarray(prices_usd, dtype=np.float64), (n, a))
    params = (np.broadcast_to(np.array(DEFAULT_SPOKE_PARAMS), (n, 3)) if spoke_params is None
              else np.asarray(spoke_params, dtype=np.float64))
    if params.shape != (n, 3):
        raise ValueError(f"spoke_params must have shape {(n, 3)}, got {params.shape}")
    seized, fees, repaid = np.zeros((n, a)), np.zeros((n, a)), np.zeros((n, a))
    bad = np.zeros(n)
    hit = np.zeros(n, dtype=bool)
    rows = np.arange(n)
    for _ in range(max_passes):
        p = prices[rows]
        active = (liq_threshold[rows] > 0) & (collateral[rows] * p > _EMPTY_USD)
        coll_usd = np.where(active, collateral[rows] * p, 0.0)
        debt_usd = debt[rows] * p
        total_debt = debt_usd.sum(axis=1)
        weighted = (coll_usd * liq_threshold[rows]).sum(axis=1)
        liquidatable = (total_debt > _EMPTY_USD) & (weighted < total_debt)
        # Debt without any active collateral cannot be liquidated (ReserveNotSupplied) and stays on
        # the spoke unbacked: counted once as bad debt, as risk.liquidation does for stranded debt.
        stranded = liquidatable & ~active.any(axis=1)
        if stranded.any():
            gone = rows[stranded]
            hit[gone] = True
            bad[gone] += total_debt[stranded]
            debt[gone] = 0.0
        live = liquidatable & ~stranded
        rows, p, active, coll_usd, debt_usd = rows[live], p[live], active[live], coll_usd[live], debt_usd[live]
        total_debt, weighted = total_debt[live], weighted[live]
        if not rows.size:
            break
        hit[rows] = True
        k = np.arange(rows.size)
        c = np.argmax(coll_usd, axis=1)
        j = np.argmax(debt_usd, axis=1)
        health = weighted / total_debt
        target, hf_max, factor = params[rows, 0], params[rows, 1], params[rows, 2]
        cf = liq_threshold[rows, c]
        bonus = dynamic_bonus(health, liq_bonus[rows, c], hf_max, factor)
        coll_c, debt_j = coll_usd[k, c], debt_usd[k, j]
        denominator = target - bonus * cf
        with np.errstate(divide="ignore", invalid="ignore"):
            to_target = np.where(denominator > 0, total_debt * (target - health) / denominator, np.inf)
        repay = np.minimum(debt_j, np.maximum(to_target, 0.0))
        repay = np.where(debt_j - repay < DUST_LIQUIDATION_THRESHOLD_USD, debt_j, repay)  # debt dust: all of it
        seize = repay * bonus
        coll_dust = (seize < coll_c) & (coll_c - seize < DUST_LIQUIDATION_THRESHOLD_USD)
        whole = (seize >= coll_c) | (coll_dust & (repay < debt_j))
        seize = np.where(whole, coll_c, seize)
        repay = np.where(whole, np.minimum(coll_c / bonus, debt_j), repay)
        fee_tokens = np.where(bonus > 0, seize * protocol_fee[rows, c] * (bonus - 1.0) / bonus, 0.0) / p[k, c]
        seize_tokens = np.where(whole, collateral[rows, c], seize / p[k, c])
        repay_tokens = np.where(repay >= debt_j, debt[rows, j], repay / p[k, j])
        seized[rows, c] += seize_tokens
        fees[rows, c] += fee_tokens
        repaid[rows, j] += repay_tokens
        collateral[rows, c] = np.where(whole, 0.0, np.maximum(collateral[rows, c] - seize_tokens, 0.0))
        debt[rows, j] = np.where(repay >= debt_j, 0.0, np.maximum(debt[rows, j] - repay_tokens, 0.0))
        # _evaluateDeficit: the emptied collateral was the last active one and debt remains -> every
        # remaining debt reserve is reported as deficit (Spoke._reportDeficit).
        last = whole & (active.sum(axis=1) == 1)
        left_usd = (debt[rows] * p).sum(axis=1)
        deficit = last & (left_usd > 0)
        bad[rows[deficit]] += left_usd[deficit]
        debt[rows[deficit]] = 0.0
    return seized, fees, repaid, bad, hit


__all__ = [
    "SpokeLiquidation", "SpokeReserveState", "assets_to_shares_up", "drawn_debt", "drawn_shares_down",
    "shares_to_assets_down", "spoke_liquidation_call",
    "DEFAULT_SPOKE_PARAMS", "DUST_LIQUIDATION_THRESHOLD_USD", "SPOKE_PARAMS", "dynamic_bonus", "liquidate_spoke_rows",
    "spoke_params_float",
    "DUST_LIQUIDATION_THRESHOLD", "HEALTH_FACTOR_LIQUIDATION_THRESHOLD", "LiquidationAmounts", "PERCENTAGE_FACTOR",
    "SpokeLiquidationConfig", "SpokeRevert", "collateral_value", "debt_to_liquidate", "debt_to_target", "debt_value",
    "evaluate_deficit", "health_factor_wad", "liquidation_amounts", "liquidation_bonus_bps",
]

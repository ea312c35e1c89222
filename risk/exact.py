"""The lending protocols' own integer math, with their rounding, as pure functions over ints.

Nothing here does I/O or imports web3: :mod:`chain` readers produce a
:class:`risk.snapshot.Snapshot`, and these functions reproduce what the contracts compute
from the same integers, to the wei. Each function names the Solidity it mirrors.

Sources (checked on this machine):
- Aave V3 v3.0.2 = npm ``@aave/core-v3`` 1.19.3 ``contracts/protocol/libraries``
  (``math/WadRayMath.sol``, ``math/PercentageMath.sol``, ``math/MathUtils.sol``,
  ``logic/GenericLogic.sol``, ``logic/LiquidationLogic.sol``); v3.3 liquidation sizing from
  aave-dao/aave-v3-origin @027aaed7 ``src/contracts/protocol/libraries/logic/LiquidationLogic.sol``;
  v3.5/v3.6 health factor, liquidation sizing and rounding from npm ``@aave-dao/aave-v3-origin``
  3.6.0 ``src/contracts/protocol/libraries/`` (``logic/LiquidationLogic.sol``,
  ``logic/GenericLogic.sol``, ``helpers/TokenMath.sol``, ``math/PercentageMath.sol``,
  ``math/WadRayMath.sol``, ``math/MathUtils.sol``); v3.7 from aave-dao/aave-v3-origin @4fbd7442
  ``docs/3.7/Aave-v3.7-changelog.md`` and ``docs/3.7/liquidation-rounding.md`` (v3.7 is not on npm;
  its LiquidationLogic.sol is not in the reference index: the changelog, the rounding note and
  aave-v3-origin's own ``Pool.Liquidations.t.sol`` regression cases give the code).
- Morpho Blue = npm ``@morpho-org/morpho-blue`` 1.0.0 ``src/`` (``Morpho.sol``,
  ``libraries/MathLib.sol``, ``SharesMathLib.sol``, ``periphery/MorphoBalancesLib.sol``).
- Compound V3 = compound-finance/comet ``CometCore.sol`` / ``Comet.sol`` (``presentValue``,
  ``isLiquidatable``, ``signedMulPrice``, ``mulPrice``, ``mulFactor``).

Units: ``*_raw`` token units, ``*_base`` Aave oracle base units (``BASE_CURRENCY_UNIT``),
``*_bps`` 1e4 = 100%, ``*_wad`` 1e18, ``*_ray`` 1e27, ``*_1e36`` Morpho oracle scale.
Solidity reverts (division by zero, uint256 overflow) become :class:`ValueError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from risk.snapshot import Market, Position, morpho_lif_wad

WAD = 10**18
HALF_WAD = WAD // 2
RAY = 10**27
HALF_RAY = RAY // 2
PERCENTAGE_FACTOR = 10**4
HALF_PERCENTAGE_FACTOR = PERCENTAGE_FACTOR // 2
UINT256_MAX = 2**256 - 1
SECONDS_PER_YEAR = 365 * 24 * 3600

# Aave liquidation constants (LiquidationLogic / ValidationLogic).
HEALTH_FACTOR_LIQUIDATION_THRESHOLD_WAD = WAD
CLOSE_FACTOR_HF_THRESHOLD_WAD = 95 * 10**16
DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS = 5_000
MAX_LIQUIDATION_CLOSE_FACTOR_BPS = 10_000  # v3.0-v3.2 only
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_BASE = 2_000 * 10**8  # v3.3+, assumes 8-decimal USD base
MIN_LEFTOVER_BASE = MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_BASE // 2

# Morpho Blue constants (ConstantsLib, SharesMathLib).
ORACLE_PRICE_SCALE = 10**36
VIRTUAL_SHARES = 10**6
VIRTUAL_ASSETS = 1

# Compound V3 constants (CometCore).
BASE_INDEX_SCALE = 10**15
FACTOR_SCALE = 10**18


class ProtocolRevert(ValueError):
    """The contract would revert on these inputs; ``reason`` is its error string/name."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


def _uint(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0 or value > UINT256_MAX:
        raise ValueError(f"{name}={value} is outside uint256")
    return value


def _checked(name: str, value: int) -> int:
    if value > UINT256_MAX:
        raise ValueError(f"{name}: uint256 overflow (the contract reverts)")
    return value


# --------------------------------------------------------------------------------------------
# Aave WadRayMath / PercentageMath (v3.0.2: half-up rounding everywhere)
# --------------------------------------------------------------------------------------------


def wad_mul(a: int, b: int) -> int:
    """``WadRayMath.wadMul``: ``(a*b + WAD/2) / WAD`` (half up)."""
    return _checked("wadMul", a * b + HALF_WAD) // WAD


def wad_div(a: int, b: int) -> int:
    """``WadRayMath.wadDiv``: ``(a*WAD + b/2) / b`` (half up); reverts on ``b == 0``."""
    if b == 0:
        raise ProtocolRevert("wadDiv", "division by zero")
    return _checked("wadDiv", a * WAD + b // 2) // b


def ray_mul(a: int, b: int) -> int:
    """``WadRayMath.rayMul``: ``(a*b + RAY/2) / RAY`` (half up)."""
    return _checked("rayMul", a * b + HALF_RAY) // RAY


def ray_div(a: int, b: int) -> int:
    """``WadRayMath.rayDiv``: ``(a*RAY + b/2) / b`` (half up); reverts on ``b == 0``."""
    if b == 0:
        raise ProtocolRevert("rayDiv", "division by zero")
    return _checked("rayDiv", a * RAY + b // 2) // b


def percent_mul(value: int, percentage_bps: int) -> int:
    """``PercentageMath.percentMul``: ``(value*p + 0.5e4) / 1e4`` (half up)."""
    return _checked("percentMul", value * percentage_bps + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def percent_div(value: int, percentage_bps: int) -> int:
    """``PercentageMath.percentDiv``: ``(value*1e4 + p/2) / p`` (half up); reverts on ``p == 0``."""
    if percentage_bps == 0:
        raise ProtocolRevert("percentDiv", "division by zero")
    return _checked("percentDiv", value * PERCENTAGE_FACTOR + percentage_bps // 2) // percentage_bps


def _mul_div_ceil(a: int, b: int, c: int) -> int:
    """``MathUtils.mulDivCeil`` (v3.5+)."""
    return -((-a * b) // c)


# Explicit-direction variants (aave-v3-origin 3.6.0 WadRayMath / PercentageMath; percentDivFloor is
# new in v3.7). A zero divisor or uint256 overflow reverts (here: ProtocolRevert / ValueError).


def ray_mul_floor(a: int, b: int) -> int:
    """``WadRayMath.rayMulFloor`` (``TokenMath.getATokenBalance``, v3.5+)."""
    return _checked("rayMulFloor", a * b) // RAY


def ray_mul_ceil(a: int, b: int) -> int:
    """``WadRayMath.rayMulCeil`` (``TokenMath.getVTokenBalance``, v3.5+)."""
    return -(-_checked("rayMulCeil", a * b) // RAY)


def ray_div_floor(a: int, b: int) -> int:
    """``WadRayMath.rayDivFloor`` (aToken mint / vToken burn scaled amounts, v3.5+)."""
    if b == 0:
        raise ProtocolRevert("rayDivFloor", "division by zero")
    return _checked("rayDivFloor", a * RAY) // b


def ray_div_ceil(a: int, b: int) -> int:
    """``WadRayMath.rayDivCeil`` (aToken burn / transfer scaled amounts, v3.5+)."""
    if b == 0:
        raise ProtocolRevert("rayDivCeil", "division by zero")
    return -(-_checked("rayDivCeil", a * RAY) // b)


def percent_mul_floor(value: int, percentage_bps: int) -> int:
    """``PercentageMath.percentMulFloor``."""
    return _checked("percentMulFloor", value * percentage_bps) // PERCENTAGE_FACTOR


def percent_mul_ceil(value: int, percentage_bps: int) -> int:
    """``PercentageMath.percentMulCeil``."""
    return -(-_checked("percentMulCeil", value * percentage_bps) // PERCENTAGE_FACTOR)


def percent_div_floor(value: int, percentage_bps: int) -> int:
    """``PercentageMath.percentDivFloor`` (v3.7)."""
    if percentage_bps == 0:
        raise ProtocolRevert("percentDivFloor", "division by zero")
    return _checked("percentDivFloor", value * PERCENTAGE_FACTOR) // percentage_bps


def percent_div_ceil(value: int, percentage_bps: int) -> int:
    """``PercentageMath.percentDivCeil`` (v3.5+: debt needed when the collateral is short)."""
    if percentage_bps == 0:
        raise ProtocolRevert("percentDivCeil", "division by zero")
    return -(-_checked("percentDivCeil", value * PERCENTAGE_FACTOR) // percentage_bps)


# --------------------------------------------------------------------------------------------
# Aave interest indices (MathUtils + ReserveLogic.getNormalizedIncome / getNormalizedDebt)
# --------------------------------------------------------------------------------------------


def aave_linear_interest_ray(rate_ray: int, last_update_timestamp: int, timestamp: int) -> int:
    """``MathUtils.calculateLinearInterest``: ``RAY + rate * dt / SECONDS_PER_YEAR`` (floor)."""
    return RAY + rate_ray * (timestamp - last_update_timestamp) // SECONDS_PER_YEAR


def aave_compounded_interest_ray(rate_ray: int, last_update_timestamp: int, timestamp: int) -> int:
    """``MathUtils.calculateCompoundedInterest``: 3-term binomial expansion of (1+r/yr)^dt."""
    exp = timestamp - last_update_timestamp
    if exp == 0:
        return RAY
    exp_minus_one = exp - 1
    exp_minus_two = exp - 2 if exp > 2 else 0
    base_power_two = ray_mul(rate_ray, rate_ray) // (SECONDS_PER_YEAR * SECONDS_PER_YEAR)
    base_power_three = ray_mul(base_power_two, rate_ray) // SECONDS_PER_YEAR
    second_term = exp * exp_minus_one * base_power_two // 2
    third_term = exp * exp_minus_one * exp_minus_two * base_power_three // 6
    return RAY + rate_ray * exp // SECONDS_PER_YEAR + second_term + third_term


def aave_normalized_income_ray(
    liquidity_index_ray: int, liquidity_rate_ray: int, last_update_timestamp: int, timestamp: int
) -> int:
    """``ReserveLogic.getNormalizedIncome`` at ``timestamp`` (what aToken.balanceOf uses)."""
    if timestamp == last_update_timestamp:
        return liquidity_index_ray
    return ray_mul(aave_linear_interest_ray(liquidity_rate_ray, last_update_timestamp, timestamp), liquidity_index_ray)


def aave_normalized_debt_ray(
    variable_borrow_index_ray: int, variable_borrow_rate_ray: int, last_update_timestamp: int, timestamp: int
) -> int:
    """``ReserveLogic.getNormalizedDebt`` at ``timestamp`` (what vToken.balanceOf uses)."""
    if timestamp == last_update_timestamp:
        return variable_borrow_index_ray
    return ray_mul(
        aave_compounded_interest_ray(variable_borrow_rate_ray, last_update_timestamp, timestamp),
        variable_borrow_index_ray,
    )


def aave_scaled_to_balance_raw(scaled_raw: int, index_ray: int) -> int:
    """aToken/vToken ``balanceOf`` from ``scaledBalanceOf`` (≤ v3.4: ``rayMul`` half up)."""
    return ray_mul(scaled_raw, index_ray) if scaled_raw else 0


# --------------------------------------------------------------------------------------------
# Aave health factor (GenericLogic.calculateUserAccountData)
# --------------------------------------------------------------------------------------------

AaveHfRule = Literal["avg", "sum"]
"""``avg``: v3.0-v3.4 (average LT floored, then ``percentMul``); ``sum``: v3.5+ (un-averaged
``wadDiv(Σ coll_i × LT_i, debt) / 1e4``, debt value rounded up)."""

AaveLiquidationRule = Literal["v30", "v33"]
"""Liquidation sizing: ``v30`` = v3.0-v3.2 and Spark (per-reserve 50%/100% close factor);
``v33`` = v3.3+ (position-wide 50% cap only above $2,000 and HF > 0.95; $1,000 dust rule)."""


AaveRounding = Literal["half_up", "v35", "v37"]
"""Rounding of the liquidation arithmetic (``liquidationCall``), by version:

- ``half_up`` (v3.0-v3.4): ``percentMul``/``percentDiv``/``rayMul``/``rayDiv`` half up; reserve
  debt value floored; v3.3 dust check: debt left floored, collateral left = balance minus the
  liquidator's part (the fee is not subtracted), floored; fee clamp with rayDiv/rayMul.
- ``v35`` (v3.5, v3.6; read from the 3.6.0 sources): aToken balances rayMulFloor, vToken
  rayMulCeil; reserve debt value ``mulDivCeil`` (the $2,000 test); debt needed when the
  collateral is short ``percentDivCeil``; bonus ``percentMul`` and fee (``percentDiv`` base,
  ``percentMul`` fee) still half up; dust check: debt left ``mulDivCeil``, collateral left =
  balance − liquidator's part − fee, floored; no-collateral-left when the position's total
  collateral value equals the seized value (floor); fee clamp rayDivCeil / rayMulFloor.
- ``v37`` (v3.7): as ``v35`` except bonus ``percentMulFloor``, fee base ``percentDivFloor``, fee
  ``percentMulCeil``, and no-collateral-left from the *scaled* consumption (``rayDivCeil`` of the
  liquidator's part + ``rayDivCeil`` of the fee, capped at the scaled balance, valued with
  rayMulFloor, equal to the total collateral value).

Every version keeps the close factor's ``percentMul(totalDebt, 50%)`` half up. v3.4 is taken to
round as v3.3 and v3.5 as v3.6: the reference index holds the v3.3 and the 3.6.0 sources, not the
v3.4/v3.5 LiquidationLogic (unverified assumption).
"""


def aave_rounding(protocol_version: str) -> AaveRounding:
    """Liquidation rounding from ``Market.protocol_version`` (see :data:`AaveRounding`)."""
    minor = _aave_minor(protocol_version)
    return "v37" if minor >= 7 else "v35" if minor >= 5 else "half_up"


def aave_hf_rule(protocol_version: str) -> AaveHfRule:
    """HF rule from ``Market.protocol_version`` (``'aave-v3.0'`` … ``'aave-v3.7'``)."""
    minor = _aave_minor(protocol_version)
    return "sum" if minor >= 5 else "avg"


def aave_liquidation_rule(protocol_version: str) -> AaveLiquidationRule:
    return "v33" if _aave_minor(protocol_version) >= 3 else "v30"


def _aave_minor(protocol_version: str) -> int:
    prefix = "aave-v3."
    if not protocol_version.startswith(prefix):
        raise ValueError(f"not an Aave V3 protocol_version: {protocol_version!r}")
    digits = protocol_version[len(prefix) :].split(".")[0]
    if not digits.isdigit():
        raise ValueError(f"cannot parse Aave minor version from {protocol_version!r}")
    return int(digits)


@dataclass(frozen=True, slots=True)
class AaveReserveLeg:
    """One reserve of one Aave user, as ``calculateUserAccountData`` sees it.

    ``collateral_raw`` is the aToken balance if the reserve is enabled as collateral (else 0);
    it only counts when ``liquidation_threshold_bps`` (eMode applied) is non-zero.
    ``debt_raw`` is variable + stable debt. ``price_base`` is the oracle answer in base units.
    """

    collateral_raw: int
    debt_raw: int
    price_base: int
    decimals: int
    liquidation_threshold_bps: int

    def __post_init__(self) -> None:
        for name in ("collateral_raw", "debt_raw", "price_base", "decimals", "liquidation_threshold_bps"):
            _uint(name, getattr(self, name))
        if self.liquidation_threshold_bps > PERCENTAGE_FACTOR:
            raise ValueError(f"liquidation_threshold_bps={self.liquidation_threshold_bps} > 10000")


@dataclass(frozen=True, slots=True)
class AaveAccountData:
    """``getUserAccountData`` fields the risk engine uses (base units, bps, WAD)."""

    total_collateral_base: int
    total_debt_base: int
    avg_liquidation_threshold_bps: int
    health_factor_wad: int


def aave_account_data(legs: Sequence[AaveReserveLeg], *, rule: AaveHfRule = "avg") -> AaveAccountData:
    """Mirror ``GenericLogic.calculateUserAccountData``.

    Collateral value per reserve = ``floor(balance × price / unit)``; debt value floors (``avg``)
    or ceils (``sum``, v3.5+ ``mulDivCeil``). HF = ``type(uint256).max`` without debt.
    """
    total_collateral_base = 0
    total_debt_base = 0
    weighted_lt = 0  # Σ collateral_base × LT_bps
    for leg in legs:
        unit = 10**leg.decimals
        if leg.liquidation_threshold_bps != 0 and leg.collateral_raw:
            collateral_base = leg.collateral_raw * leg.price_base // unit
            total_collateral_base += collateral_base
            weighted_lt += collateral_base * leg.liquidation_threshold_bps
        if leg.debt_raw:
            if rule == "sum":
                total_debt_base += _mul_div_ceil(leg.debt_raw, leg.price_base, unit)
            else:
                total_debt_base += leg.debt_raw * leg.price_base // unit
    avg_lt_bps = weighted_lt // total_collateral_base if total_collateral_base else 0
    if total_debt_base == 0:
        hf_wad = UINT256_MAX
    elif rule == "sum":
        hf_wad = wad_div(weighted_lt, total_debt_base) // PERCENTAGE_FACTOR
    elif rule == "avg":
        hf_wad = wad_div(percent_mul(total_collateral_base, avg_lt_bps), total_debt_base)
    else:
        raise ValueError(f"unknown Aave HF rule {rule!r} (expected 'avg' or 'sum')")
    return AaveAccountData(total_collateral_base, total_debt_base, avg_lt_bps, hf_wad)


def aave_health_factor_wad(legs: Sequence[AaveReserveLeg], *, rule: AaveHfRule = "avg") -> int:
    """Health factor in WAD exactly as ``getUserAccountData`` returns it."""
    return aave_account_data(legs, rule=rule).health_factor_wad


def aave_is_liquidatable(legs: Sequence[AaveReserveLeg], *, rule: AaveHfRule = "avg") -> bool:
    """``HF < 1e18`` (``ValidationLogic.validateLiquidationCall``; other gates not modelled)."""
    return aave_health_factor_wad(legs, rule=rule) < HEALTH_FACTOR_LIQUIDATION_THRESHOLD_WAD


def aave_liquidation_oracle_price(
    legs: Sequence[AaveReserveLeg], index: int, *, rule: AaveHfRule = "avg"
) -> int | None:
    """Exact oracle-answer boundary for ``legs[index]`` with every other price fixed.

    - collateral asset (long): the **largest** price ``P`` with ``HF(P) < 1e18``; at every
      price above ``P`` the position is not liquidatable;
    - debt asset (short): the **smallest** price ``P`` with ``HF(P) < 1e18`` (HF is monotone
      in a debt price, so every price at or above ``P`` is liquidatable).

    Returns ``None`` when no price makes it liquidatable (long) or when the asset is neither
    counted collateral nor debt. An asset that is both collateral and debt is rejected.

    Method: closed-form float estimate, then an integer search with :func:`aave_health_factor_wad`.
    Under the ``avg`` rule HF is *not* monotone in a collateral price (the floored average LT
    can step down when a low-LT collateral grows), so the search walks the price intervals on
    which the floored average is constant (it is monotone in the price) from a price above
    which liquidation is provably impossible, and takes the top liquidatable price.
    """
    if not 0 <= index < len(legs):
        raise IndexError(f"leg index {index} out of range for {len(legs)} legs")
    leg = legs[index]
    counted_collateral = leg.collateral_raw > 0 and leg.liquidation_threshold_bps > 0
    if counted_collateral and leg.debt_raw > 0:
        raise ValueError("asset is both collateral and debt of the position: boundary is not one-sided")
    legs = list(legs)

    def with_price(price_base: int) -> list[AaveReserveLeg]:
        out = legs.copy()
        out[index] = replace(leg, price_base=price_base)
        return out

    def liquidatable(price_base: int) -> bool:
        return aave_is_liquidatable(with_price(price_base), rule=rule)

    unit = 10**leg.decimals
    others = [other for i, other in enumerate(legs) if i != index]
    other_data = aave_account_data(others, rule=rule)
    weighted_other = sum(
        (o.collateral_raw * o.price_base // 10**o.decimals) * o.liquidation_threshold_bps
        for o in others
        if o.collateral_raw and o.liquidation_threshold_bps
    )

    if leg.debt_raw > 0:  # short: HF non-increasing in the price
        if liquidatable(0):
            return 0
        estimate = (weighted_other / PERCENTAGE_FACTOR - other_data.total_debt_base) * unit / leg.debt_raw
        hi = _first_true_upward(liquidatable, max(1, int(estimate)))
        return _first_true(liquidatable, 0, hi)

    if not counted_collateral:
        return None
    debt_base = aave_account_data(with_price(0), rule=rule).total_debt_base
    if debt_base == 0:
        return None
    lt = leg.liquidation_threshold_bps

    if rule == "sum":  # Σ coll_i × LT_i is non-decreasing in the price: HF monotone
        if not liquidatable(0):
            return None
        estimate = (debt_base * PERCENTAGE_FACTOR - weighted_other) * unit / (leg.collateral_raw * lt)
        hi = _first_true_upward(lambda p: not liquidatable(p), max(1, int(estimate)))
        return _first_true(lambda p: not liquidatable(p), 0, hi) - 1

    # avg rule. percentMul(T, floor(S/T)) >= (S - T)/1e4 - 1/2 and S - T is non-decreasing in
    # the price, so once (S - T) >= 1e4 × debt no higher price is liquidatable.
    weighted_other_minus_total = weighted_other - other_data.total_collateral_base

    def provably_safe(price_base: int) -> bool:
        collateral_base = leg.collateral_raw * price_base // unit
        return bool(weighted_other_minus_total + collateral_base * (lt - 1) >= PERCENTAGE_FACTOR * debt_base)

    if lt > 1:
        estimate = (PERCENTAGE_FACTOR * debt_base - weighted_other_minus_total) * unit / (leg.collateral_raw * (lt - 1))
        safe = _first_true(provably_safe, 0, _first_true_upward(provably_safe, max(1, int(estimate))))
    else:
        # LT of 1 bp (legal, absurd): S - T does not grow with this price, so there is no
        # provable bound; assume HF is monotone above the first non-liquidatable price.
        estimate = (debt_base * PERCENTAGE_FACTOR - weighted_other) * unit / leg.collateral_raw
        safe = _first_true_upward(lambda p: not liquidatable(p), max(1, int(estimate)))

    def avg_lt(price_base: int) -> int:
        return aave_account_data(with_price(price_base), rule=rule).avg_liquidation_threshold_bps

    top = safe  # invariant: no price above `top` is liquidatable
    while top >= 0:
        if liquidatable(top):
            return top
        q_top = avg_lt(top)
        low = _first_true(lambda p: avg_lt(p) == q_top, 0, top)  # avg LT is monotone in the price
        if liquidatable(low):  # HF non-decreasing on [low, top]: the answer is in here
            return _first_true(lambda p: not liquidatable(p), low, top) - 1
        top = low - 1
    return None


def _first_true(predicate: Callable[[int], bool], lo: int, hi: int) -> int:
    """Smallest ``x`` in ``[lo, hi]`` with ``predicate(x)``, for a predicate false…false true…true.

    ``predicate(hi)`` must be true (returns ``hi`` without checking it)."""
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def _first_true_upward(predicate: Callable[[int], bool], start: int) -> int:
    """Some ``x >= start`` with ``predicate(x)`` true, by doubling (for monotone predicates)."""
    x = max(1, start)
    for _ in range(600):
        if predicate(x):
            return x
        x *= 2
    raise ValueError("no price up to 2**600 satisfies the boundary condition")


@dataclass(frozen=True, slots=True)
class AaveLiquidation:
    """One ``liquidationCall``'s amounts.

    ``collateral_seized_raw`` leaves the borrower in total (liquidator + treasury);
    the liquidator receives ``collateral_seized_raw - protocol_fee_raw``.
    ``has_no_collateral_left`` (v3.3+, when the position's total collateral value was given):
    the call consumes the position's whole collateral, so every debt it leaves becomes reserve
    deficit (bad debt): ``deficit_raw`` of the repaid reserve here, the whole debt of the others
    (``_burnBadDebt``).
    """

    debt_repaid_raw: int
    collateral_seized_raw: int
    protocol_fee_raw: int
    has_no_collateral_left: bool = False
    deficit_raw: int = 0
    collateral_seized_base: int = 0  # collateralToLiquidateInBaseCurrency (seized value, floor)

    @property
    def collateral_to_liquidator_raw(self) -> int:
        return self.collateral_seized_raw - self.protocol_fee_raw


def aave_collateral_to_liquidate(
    *,
    debt_to_cover_raw: int,
    user_collateral_raw: int,
    collateral_price_base: int,
    debt_price_base: int,
    collateral_decimals: int,
    debt_decimals: int,
    liquidation_bonus_bps: int,
    protocol_fee_bps: int,
    rounding: AaveRounding = "half_up",
) -> AaveLiquidation:
    """``LiquidationLogic._calculateAvailableCollateralToLiquidate`` with the version's rounding
    (:data:`AaveRounding`; ``half_up`` = v3.0.2 = v3.3 arithmetic)."""
    if rounding not in ("half_up", "v35", "v37"):
        raise ValueError(f"unknown Aave rounding {rounding!r}")
    collateral_unit = 10**collateral_decimals
    debt_unit = 10**debt_decimals
    if collateral_price_base == 0 or debt_price_base == 0:
        raise ProtocolRevert("division by zero", "zero oracle price")
    base_collateral = (debt_price_base * debt_to_cover_raw * collateral_unit) // (collateral_price_base * debt_unit)
    bonus_mul = percent_mul_floor if rounding == "v37" else percent_mul
    max_collateral = bonus_mul(base_collateral, liquidation_bonus_bps)
    if max_collateral > user_collateral_raw:
        collateral_amount = user_collateral_raw
        needed_div = percent_div if rounding == "half_up" else percent_div_ceil
        debt_needed = needed_div(
            (collateral_price_base * collateral_amount * debt_unit) // (debt_price_base * collateral_unit),
            liquidation_bonus_bps,
        )
    else:
        collateral_amount = max_collateral
        debt_needed = debt_to_cover_raw
    seized_base = collateral_amount * collateral_price_base // collateral_unit
    fee = 0
    if protocol_fee_bps != 0:
        base_div = percent_div_floor if rounding == "v37" else percent_div
        fee_mul = percent_mul_ceil if rounding == "v37" else percent_mul
        bonus_collateral = collateral_amount - base_div(collateral_amount, liquidation_bonus_bps)
        fee = fee_mul(bonus_collateral, protocol_fee_bps)
    return AaveLiquidation(debt_needed, collateral_amount, fee, collateral_seized_base=seized_base)


def aave_liquidation_amounts(
    *,
    rule: AaveLiquidationRule,
    debt_to_cover_raw: int,
    health_factor_wad: int,
    user_reserve_debt_raw: int,
    user_collateral_raw: int,
    collateral_price_base: int,
    debt_price_base: int,
    collateral_decimals: int,
    debt_decimals: int,
    liquidation_bonus_bps: int,
    protocol_fee_bps: int,
    total_debt_base: int | None = None,
    collateral_scaled_raw: int | None = None,
    collateral_liquidity_index_ray: int | None = None,
    rounding: AaveRounding = "half_up",
    total_collateral_base: int | None = None,
) -> AaveLiquidation:
    """Amounts of one ``liquidationCall(collateral, debt, user, debtToCover, …)``.

    ``v30`` (``LiquidationLogic._calculateDebt``, 1.19.3): cap = ``percentMul(reserveDebt,
    50% if HF > 0.95 else 100%)``. ``v33`` (aave-v3-origin v3.3+): the whole reserve debt, or
    50% of the position's total debt (``total_debt_base``, needed) when HF > 0.95 and both the
    collateral and the debt reserve are worth ≥ 2,000 base units ×1e8; then capped by the
    user's collateral; then the dust rule: a call that repays only part of the reserve debt and
    seizes only part of the collateral reserve must leave ≥ 1,000 ×1e8 of **both**, else the
    Pool reverts (:class:`ProtocolRevert` ``MUST_NOT_LEAVE_DUST``; it does not shrink the
    amount — see :func:`aave_largest_accepted_liquidation`). ``rounding`` per version
    (:data:`AaveRounding`, :func:`aave_rounding`). Raises :class:`ProtocolRevert` when HF ≥ 1
    or the user has no debt in that reserve.

    With the user's scaled aToken balance (``collateral_scaled_raw``) and the collateral's
    normalized income at the liquidation (``collateral_liquidity_index_ray``), the fee gets the
    contract's final clamp: when the scaled fee exceeds what is left after the liquidator's part
    is burnt/transferred, the treasury gets the value of the scaled balance left instead.
    With ``total_collateral_base`` (``getUserAccountData``'s total collateral) the ``v33`` rule
    also reports ``has_no_collateral_left`` and ``deficit_raw`` (``v37`` needs the scaled balance
    and index for it). Not modelled: paused/frozen/grace-period gates, ``InvalidBurnAmount`` for
    amounts whose scaled value is 0.
    """
    if health_factor_wad >= HEALTH_FACTOR_LIQUIDATION_THRESHOLD_WAD:
        raise ProtocolRevert("HEALTH_FACTOR_NOT_BELOW_THRESHOLD", f"HF={health_factor_wad}")
    if user_reserve_debt_raw == 0:
        raise ProtocolRevert("SPECIFIED_CURRENCY_NOT_BORROWED_BY_USER")
    collateral_unit = 10**collateral_decimals
    debt_unit = 10**debt_decimals
    ceil_values = rounding in ("v35", "v37")
    if rule == "v30":
        close_factor_bps = (
            DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS
            if health_factor_wad > CLOSE_FACTOR_HF_THRESHOLD_WAD
            else MAX_LIQUIDATION_CLOSE_FACTOR_BPS
        )
        max_debt = percent_mul(user_reserve_debt_raw, close_factor_bps)
    elif rule == "v33":
        if ceil_values:
            reserve_debt_base = _mul_div_ceil(user_reserve_debt_raw, debt_price_base, debt_unit)
        else:
            reserve_debt_base = user_reserve_debt_raw * debt_price_base // debt_unit
        reserve_collateral_base = user_collateral_raw * collateral_price_base // collateral_unit
        max_debt = user_reserve_debt_raw
        if (
            reserve_collateral_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_BASE
            and reserve_debt_base >= MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_BASE
            and health_factor_wad > CLOSE_FACTOR_HF_THRESHOLD_WAD
        ):
            if total_debt_base is None:
                raise ValueError("rule 'v33' needs total_debt_base for the position-wide close factor")
            default_base = percent_mul(total_debt_base, DEFAULT_LIQUIDATION_CLOSE_FACTOR_BPS)  # half up in all
            if reserve_debt_base > default_base:
                max_debt = default_base * debt_unit // debt_price_base
    else:
        raise ValueError(f"unknown Aave liquidation rule {rule!r} (expected 'v30' or 'v33')")
    result = aave_collateral_to_liquidate(
        debt_to_cover_raw=min(debt_to_cover_raw, max_debt),
        user_collateral_raw=user_collateral_raw,
        collateral_price_base=collateral_price_base,
        debt_price_base=debt_price_base,
        collateral_decimals=collateral_decimals,
        debt_decimals=debt_decimals,
        liquidation_bonus_bps=liquidation_bonus_bps,
        protocol_fee_bps=protocol_fee_bps,
        rounding=rounding,
    )
    if rule == "v33" and (
        result.debt_repaid_raw < user_reserve_debt_raw and result.collateral_seized_raw < user_collateral_raw
    ):
        debt_left_raw = user_reserve_debt_raw - result.debt_repaid_raw
        if ceil_values:
            debt_left_base = _mul_div_ceil(debt_left_raw, debt_price_base, debt_unit)
            # v3.5+ subtracts what leaves the borrower in total (liquidator's part + fee)
            collateral_left_raw = user_collateral_raw - result.collateral_seized_raw
        else:
            debt_left_base = debt_left_raw * debt_price_base // debt_unit
            # v3.3 subtracts the collateral *net of fee* here (actualCollateralToLiquidate)
            collateral_left_raw = user_collateral_raw - result.collateral_to_liquidator_raw
        collateral_left_base = collateral_left_raw * collateral_price_base // collateral_unit
        if debt_left_base < MIN_LEFTOVER_BASE or collateral_left_base < MIN_LEFTOVER_BASE:
            raise ProtocolRevert("MUST_NOT_LEAVE_DUST", f"debt left {debt_left_base}, collateral left {collateral_left_base} (base)")
    scaled, index = collateral_scaled_raw, collateral_liquidity_index_ray
    has_no_collateral_left = False
    if rule == "v33" and total_collateral_base is not None:
        if rounding == "v37":
            if scaled is None or index is None:
                raise ValueError("rounding 'v37' needs collateral_scaled_raw and collateral_liquidity_index_ray "
                                 "for the scaled no-collateral-left check")
            # v3.7: what the two aToken operations consume in scaled units (each rayDivCeil)
            consumed = ray_div_ceil(result.collateral_to_liquidator_raw, index)
            if result.protocol_fee_raw:
                consumed += ray_div_ceil(result.protocol_fee_raw, index)
            consumed = min(consumed, scaled)
            consumed_base = ray_mul_floor(consumed, index) * collateral_price_base // collateral_unit
            has_no_collateral_left = consumed_base == total_collateral_base
        else:
            has_no_collateral_left = total_collateral_base == result.collateral_seized_base
    if result.protocol_fee_raw and scaled is not None and index is not None:
        if rounding == "half_up":
            scaled_left = scaled - ray_div(result.collateral_to_liquidator_raw, index)
            if ray_div(result.protocol_fee_raw, index) > scaled_left:
                fee = ray_mul(scaled_left, index)
                result = replace(result, collateral_seized_raw=result.collateral_to_liquidator_raw + fee,
                                 protocol_fee_raw=fee)
        else:
            scaled_left = scaled - ray_div_ceil(result.collateral_to_liquidator_raw, index)
            if ray_div_ceil(result.protocol_fee_raw, index) > scaled_left:
                fee = ray_mul_floor(scaled_left, index)
                result = replace(result, collateral_seized_raw=result.collateral_to_liquidator_raw + fee,
                                 protocol_fee_raw=fee)
    if has_no_collateral_left:
        result = replace(result, has_no_collateral_left=True,
                         deficit_raw=user_reserve_debt_raw - result.debt_repaid_raw)
    return result


def aave_largest_accepted_liquidation(**kwargs: Any) -> tuple[int, AaveLiquidation]:
    """What a liquidator can actually do on a v3.3+ pool: ``(debtToCover, amounts)`` of the
    largest liquidation the Pool accepts for this (collateral, debt) pair.

    Takes :func:`aave_liquidation_amounts`'s keyword arguments except ``debt_to_cover_raw``.
    When ``debtToCover = type(uint256).max`` is accepted, that is the answer (``UINT256_MAX``).
    When it reverts with ``MUST_NOT_LEAVE_DUST`` (the 50% close factor would leave under $1,000
    of the debt reserve or of the seized collateral reserve), the Pool does not shrink it: the
    liquidator must pass a smaller amount. Both leftovers fall as ``debtToCover`` grows, so the
    accepted amounts are ``1 … d*``; ``d*`` is found by bisection on the exact arithmetic (so the
    next unit, ``d* + 1``, reverts). Other reverts propagate.
    """
    if "debt_to_cover_raw" in kwargs:
        raise TypeError("aave_largest_accepted_liquidation chooses debt_to_cover_raw itself")
    try:
        return UINT256_MAX, aave_liquidation_amounts(debt_to_cover_raw=UINT256_MAX, **kwargs)
    except ProtocolRevert as exc:
        if exc.reason != "MUST_NOT_LEAVE_DUST":
            raise

    def accepted(amount: int) -> bool:
        try:
            aave_liquidation_amounts(debt_to_cover_raw=amount, **kwargs)
        except ProtocolRevert as exc:
            if exc.reason != "MUST_NOT_LEAVE_DUST":
                raise
            return False
        return True

    lo, hi = 0, kwargs["user_reserve_debt_raw"]  # accepted(lo) by convention; hi is not accepted
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if accepted(mid):
            lo = mid
        else:
            hi = mid
    if lo == 0:
        raise ProtocolRevert("MUST_NOT_LEAVE_DUST", "no debtToCover leaves $1,000 of both reserves")
    return lo, aave_liquidation_amounts(debt_to_cover_raw=lo, **kwargs)


def aave_position_account(market: Market, position: Position, decimals: Mapping[str, int]) -> AaveAccountData:
    """``getUserAccountData`` of a snapshot position, with the HF rule of its market's version."""
    _, legs = aave_position_legs(market, position, decimals)
    return aave_account_data(legs, rule=aave_hf_rule(market.protocol_version))


def aave_position_liquidation(
    market: Market,
    position: Position,
    decimals: Mapping[str, int],
    collateral: str,
    debt: str,
    debt_to_cover_raw: int | None = None,
    *,
    collateral_scaled_raw: int | None = None,
    collateral_liquidity_index_ray: int | None = None,
) -> tuple[int, AaveLiquidation]:
    """``liquidationCall(collateral, debt, user, debtToCover)`` of a snapshot position, every
    rule and rounding taken from ``market.protocol_version``; ``(debtToCover, amounts)``.

    ``debt_to_cover_raw=None``: the largest the Pool accepts (:func:`aave_largest_accepted_liquidation`
    on v3.3+, ``UINT256_MAX`` below)."""
    account = aave_position_account(market, position, decimals)
    version = market.protocol_version
    kwargs: dict[str, Any] = dict(
        rule=aave_liquidation_rule(version),
        health_factor_wad=account.health_factor_wad,
        user_reserve_debt_raw=position.debt.get(debt, 0),
        user_collateral_raw=position.collateral.get(collateral, 0),
        collateral_price_base=market.reserve(collateral).oracle_price,
        debt_price_base=market.reserve(debt).oracle_price,
        collateral_decimals=decimals[collateral],
        debt_decimals=decimals[debt],
        liquidation_bonus_bps=aave_effective_liquidation_bonus_bps(market, position.emode, collateral),
        protocol_fee_bps=_wad_to_bps(market.reserve(collateral).protocol_fee_wad, f"{market.id}/{collateral} fee"),
        total_debt_base=account.total_debt_base,
        total_collateral_base=account.total_collateral_base,
        collateral_scaled_raw=collateral_scaled_raw,
        collateral_liquidity_index_ray=collateral_liquidity_index_ray,
        rounding=aave_rounding(version),
    )
    if debt_to_cover_raw is not None:
        return debt_to_cover_raw, aave_liquidation_amounts(debt_to_cover_raw=debt_to_cover_raw, **kwargs)
    if kwargs["rule"] == "v33":
        return aave_largest_accepted_liquidation(**kwargs)
    return UINT256_MAX, aave_liquidation_amounts(debt_to_cover_raw=UINT256_MAX, **kwargs)


# --------------------------------------------------------------------------------------------
# Snapshot glue for Aave (pure: reads risk.snapshot models only)
# --------------------------------------------------------------------------------------------


def _wad_to_bps(value_wad: int, what: str) -> int:
    bps, remainder = divmod(value_wad, 10**14)
    if remainder:
        raise ValueError(f"{what}={value_wad} is not a whole number of bps")
    return bps


def aave_effective_liquidation_threshold_bps(market: Market, emode: int, symbol: str) -> int:
    """Reserve LT, or the user's eMode category LT when that category covers ``symbol``.

    A reserve whose own LT is 0 never counts as collateral, eMode or not (GenericLogic tests
    the reserve LT before applying the category)."""
    reserve = market.reserve(symbol)
    if reserve.liquidation_threshold_wad == 0:
        return 0
    if emode:
        for category in market.emode_categories:
            if category.id == emode and symbol in category.collateral_assets:
                return _wad_to_bps(category.liquidation_threshold_wad, f"eMode {emode} LT")
    return _wad_to_bps(reserve.liquidation_threshold_wad, f"{market.id}/{symbol} LT")


def aave_effective_liquidation_bonus_bps(market: Market, emode: int, symbol: str) -> int:
    """Reserve LB, or the eMode category LB when the user's category covers ``symbol``."""
    reserve = market.reserve(symbol)
    if emode:
        for category in market.emode_categories:
            if category.id == emode and symbol in category.collateral_assets:
                return _wad_to_bps(category.liquidation_bonus_wad, f"eMode {emode} LB")
    return _wad_to_bps(reserve.liquidation_bonus_wad, f"{market.id}/{symbol} LB")


def aave_position_legs(
    market: Market, position: Position, decimals: Mapping[str, int]
) -> tuple[tuple[str, ...], tuple[AaveReserveLeg, ...]]:
    """(symbols, legs) of an Aave position from the snapshot, eMode applied, in reserve order."""
    if market.venue not in ("aave_v30", "aave_v33"):
        raise ValueError(f"market {market.id!r} is {market.venue}, not Aave")
    symbols: list[str] = []
    legs: list[AaveReserveLeg] = []
    for reserve in market.reserves:
        collateral = position.collateral.get(reserve.asset, 0)
        debt = position.debt.get(reserve.asset, 0)
        if not collateral and not debt:
            continue
        if reserve.oracle_price is None:
            raise ValueError(f"market {market.id!r} reserve {reserve.asset} has no oracle price")
        symbols.append(reserve.asset)
        legs.append(
            AaveReserveLeg(
                collateral_raw=collateral,
                debt_raw=debt,
                price_base=reserve.oracle_price,
                decimals=decimals[reserve.asset],
                liquidation_threshold_bps=aave_effective_liquidation_threshold_bps(market, position.emode, reserve.asset),
            )
        )
    return tuple(symbols), tuple(legs)


def aave_position_liquidation_oracle_price(
    market: Market, position: Position, decimals: Mapping[str, int], symbol: str
) -> int | None:
    """:func:`aave_liquidation_oracle_price` of a snapshot position for asset ``symbol``
    (the HF rule follows ``market.protocol_version``); ``None`` if the position does not hold it."""
    symbols, legs = aave_position_legs(market, position, decimals)
    if symbol not in symbols:
        return None
    return aave_liquidation_oracle_price(legs, symbols.index(symbol), rule=aave_hf_rule(market.protocol_version))


# --------------------------------------------------------------------------------------------
# Morpho Blue (MathLib, SharesMathLib, Morpho._accrueInterest / _isHealthy / liquidate)
# --------------------------------------------------------------------------------------------


def mul_div_down(x: int, y: int, d: int) -> int:
    """``MathLib.mulDivDown``: ``x*y / d``."""
    if d == 0:
        raise ProtocolRevert("mulDivDown", "division by zero")
    return _checked("mulDivDown", x * y) // d


def mul_div_up(x: int, y: int, d: int) -> int:
    """``MathLib.mulDivUp``: ``(x*y + d - 1) / d``."""
    if d == 0:
        raise ProtocolRevert("mulDivUp", "division by zero")
    return _checked("mulDivUp", x * y + (d - 1)) // d


def w_mul_down(x: int, y: int) -> int:
    return mul_div_down(x, y, WAD)


def w_div_down(x: int, y: int) -> int:
    return mul_div_down(x, WAD, y)


def w_div_up(x: int, y: int) -> int:
    return mul_div_up(x, WAD, y)


def w_taylor_compounded(x: int, n: int) -> int:
    """``MathLib.wTaylorCompounded``: e^(x n) - 1 to three terms, WAD."""
    first = x * n
    second = mul_div_down(first, first, 2 * WAD)
    third = mul_div_down(second, first, 3 * WAD)
    return first + second + third


def to_shares_down(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_down(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_shares_up(assets: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(assets, total_shares + VIRTUAL_SHARES, total_assets + VIRTUAL_ASSETS)


def to_assets_down(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_down(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


def to_assets_up(shares: int, total_assets: int, total_shares: int) -> int:
    return mul_div_up(shares, total_assets + VIRTUAL_ASSETS, total_shares + VIRTUAL_SHARES)


@dataclass(frozen=True, slots=True)
class MorphoMarketState:
    """``IMorpho.market(id)`` (raw loan-token units and shares; ``fee`` WAD)."""

    total_supply_assets: int
    total_supply_shares: int
    total_borrow_assets: int
    total_borrow_shares: int
    last_update: int
    fee: int


def morpho_accrue_interest(state: MorphoMarketState, borrow_rate_wad: int, timestamp: int) -> MorphoMarketState:
    """Totals after ``_accrueInterest`` at ``timestamp`` (= ``MorphoBalancesLib.expectedMarketBalances``).

    ``borrow_rate_wad`` is the IRM's per-second rate for ``state`` (``borrowRateView``); pass 0
    for ``irm == address(0)``. Fee shares are added to ``total_supply_shares``.
    """
    elapsed = timestamp - state.last_update
    if elapsed < 0:
        raise ValueError(f"timestamp {timestamp} is before the market's lastUpdate {state.last_update}")
    if elapsed == 0:
        return state
    interest = w_mul_down(state.total_borrow_assets, w_taylor_compounded(borrow_rate_wad, elapsed))
    supply_assets = state.total_supply_assets + interest
    supply_shares = state.total_supply_shares
    if state.fee != 0:
        fee_amount = w_mul_down(interest, state.fee)
        supply_shares += to_shares_down(fee_amount, supply_assets - fee_amount, supply_shares)
    return MorphoMarketState(
        total_supply_assets=supply_assets,
        total_supply_shares=supply_shares,
        total_borrow_assets=state.total_borrow_assets + interest,
        total_borrow_shares=state.total_borrow_shares,
        last_update=timestamp,
        fee=state.fee,
    )


def morpho_borrow_assets(borrow_shares: int, total_borrow_assets: int, total_borrow_shares: int) -> int:
    """Debt of a position in loan units, rounded up (``toAssetsUp``), as ``_isHealthy`` uses it."""
    return to_assets_up(borrow_shares, total_borrow_assets, total_borrow_shares)


def morpho_max_borrow(collateral_raw: int, oracle_price_1e36: int, lltv_wad: int) -> int:
    """``collateral.mulDivDown(price, 1e36).wMulDown(lltv)`` in loan units."""
    return w_mul_down(mul_div_down(collateral_raw, oracle_price_1e36, ORACLE_PRICE_SCALE), lltv_wad)


def morpho_is_healthy(
    *, collateral_raw: int, borrowed_raw: int, oracle_price_1e36: int, lltv_wad: int
) -> bool:
    """``Morpho._isHealthy``: ``maxBorrow >= borrowed`` (``borrowed`` = :func:`morpho_borrow_assets`)."""
    if borrowed_raw == 0:
        return True
    return morpho_max_borrow(collateral_raw, oracle_price_1e36, lltv_wad) >= borrowed_raw


def morpho_liquidation_oracle_price(*, collateral_raw: int, borrowed_raw: int, lltv_wad: int) -> int | None:
    """Largest ``IOracle.price()`` answer (1e36 scale) at which the position is unhealthy.

    Exact closed form of ``floor(floor(c·P/1e36)·lltv/1e18) < B``: with
    ``X = ceil(B·1e18/lltv) − 1``, unhealthy ⇔ ``floor(c·P/1e36) ≤ X`` ⇔ ``P ≤ ceil((X+1)·1e36/c) − 1``
    (checked against :func:`morpho_is_healthy`). ``None`` when it is never unhealthy (no debt)
    or unhealthy at every price (no collateral or zero LLTV).
    """
    _uint("collateral_raw", collateral_raw)
    _uint("borrowed_raw", borrowed_raw)
    if borrowed_raw == 0 or collateral_raw == 0 or lltv_wad == 0:
        return None
    x = -((-borrowed_raw * WAD) // lltv_wad) - 1
    price = -((-(x + 1) * ORACLE_PRICE_SCALE) // collateral_raw) - 1

    def healthy(p: int) -> bool:
        return morpho_is_healthy(collateral_raw=collateral_raw, borrowed_raw=borrowed_raw, oracle_price_1e36=p, lltv_wad=lltv_wad)

    if healthy(price) or not healthy(price + 1):  # pragma: no cover - guards the algebra above
        raise AssertionError("Morpho boundary closed form disagrees with _isHealthy")
    return price


def morpho_position_liquidation_oracle_price(market: Market, position: Position) -> int | None:
    """:func:`morpho_liquidation_oracle_price` of a snapshot position (its market's LLTV; debt
    = borrow assets rounded up, as the snapshot stores it)."""
    if market.venue != "morpho_blue" or market.lltv_wad is None:
        raise ValueError(f"market {market.id!r} is not a Morpho Blue market")
    return morpho_liquidation_oracle_price(
        collateral_raw=sum(position.collateral.values()), borrowed_raw=sum(position.debt.values()), lltv_wad=market.lltv_wad
    )


@dataclass(frozen=True, slots=True)
class MorphoLiquidation:
    """One ``Morpho.liquidate`` call: collateral seized, shares and assets repaid, bad debt."""

    seized_assets: int
    repaid_shares: int
    repaid_assets: int
    bad_debt_shares: int = 0
    bad_debt_assets: int = 0


def morpho_liquidation_amounts(
    *,
    oracle_price_1e36: int,
    lltv_wad: int,
    total_borrow_assets: int,
    total_borrow_shares: int,
    seized_assets: int = 0,
    repaid_shares: int = 0,
    borrower_collateral_raw: int | None = None,
    borrower_borrow_shares: int | None = None,
) -> MorphoLiquidation:
    """``Morpho.liquidate`` arithmetic on accrued totals; exactly one of ``seized_assets`` /
    ``repaid_shares`` is non-zero. With the borrower's position given, also the bad debt that
    is socialised when the collateral reaches zero (and the underflow reverts)."""
    if (seized_assets == 0) == (repaid_shares == 0):
        raise ProtocolRevert("inconsistent input", "exactly one of seized_assets / repaid_shares must be non-zero")
    lif_wad = morpho_lif_wad(lltv_wad)
    if seized_assets > 0:
        quoted = mul_div_up(seized_assets, oracle_price_1e36, ORACLE_PRICE_SCALE)
        repaid_shares = to_shares_up(w_div_up(quoted, lif_wad), total_borrow_assets, total_borrow_shares)
    else:
        seized_assets = mul_div_down(
            w_mul_down(to_assets_down(repaid_shares, total_borrow_assets, total_borrow_shares), lif_wad),
            ORACLE_PRICE_SCALE,
            oracle_price_1e36,
        )
    repaid_assets = to_assets_up(repaid_shares, total_borrow_assets, total_borrow_shares)
    bad_shares = bad_assets = 0
    if borrower_collateral_raw is not None and borrower_borrow_shares is not None:
        if repaid_shares > borrower_borrow_shares or repaid_shares > total_borrow_shares:
            raise ProtocolRevert("arithmetic underflow", "repaid shares exceed the borrower's shares")
        if seized_assets > borrower_collateral_raw:
            raise ProtocolRevert("arithmetic underflow", "seized assets exceed the borrower's collateral")
        if seized_assets == borrower_collateral_raw:
            remaining_total_assets = max(0, total_borrow_assets - repaid_assets)
            remaining_total_shares = total_borrow_shares - repaid_shares
            bad_shares = borrower_borrow_shares - repaid_shares
            bad_assets = min(
                remaining_total_assets, to_assets_up(bad_shares, remaining_total_assets, remaining_total_shares)
            )
    return MorphoLiquidation(seized_assets, repaid_shares, repaid_assets, bad_shares, bad_assets)


# --------------------------------------------------------------------------------------------
# Compound V3 (CometCore.presentValue, Comet.isLiquidatable)
# --------------------------------------------------------------------------------------------


def _sdiv(a: int, b: int) -> int:
    """Solidity signed division: truncates toward zero."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def comet_present_value(principal: int, base_supply_index: int, base_borrow_index: int) -> int:
    """``CometCore.presentValue``: signed base units; ``principal < 0`` is a borrow."""
    if principal >= 0:
        return principal * base_supply_index // BASE_INDEX_SCALE
    return -((-principal) * base_borrow_index // BASE_INDEX_SCALE)


@dataclass(frozen=True, slots=True)
class CometCollateralLeg:
    """One collateral of a Comet account: balance (raw), ``getPrice`` (8 dec), ``scale`` = 10^dec."""

    balance_raw: int
    price: int
    scale: int
    liquidate_collateral_factor_wad: int


def comet_liquidity(
    *,
    principal: int,
    base_supply_index: int,
    base_borrow_index: int,
    base_price: int,
    base_scale: int,
    collateral: Sequence[CometCollateralLeg],
) -> int:
    """The ``liquidity`` accumulator of ``Comet.isLiquidatable`` (price units, 8 dec; signed)."""
    liquidity = _sdiv(comet_present_value(principal, base_supply_index, base_borrow_index) * base_price, base_scale)
    for leg in collateral:
        value = leg.balance_raw * leg.price // leg.scale
        liquidity += value * leg.liquidate_collateral_factor_wad // FACTOR_SCALE
    return liquidity


def comet_is_liquidatable(
    *,
    principal: int,
    base_supply_index: int,
    base_borrow_index: int,
    base_price: int,
    base_scale: int,
    collateral: Sequence[CometCollateralLeg],
) -> bool:
    """``Comet.isLiquidatable``: a borrower (``principal < 0``) whose liquidity is negative.

    Uses the indices passed in: the contract's view uses the *stored* indices (last accrual).
    ``collateral`` must list only the assets in the account's ``assetsIn``.
    """
    if principal >= 0:
        return False
    return (
        comet_liquidity(
            principal=principal,
            base_supply_index=base_supply_index,
            base_borrow_index=base_borrow_index,
            base_price=base_price,
            base_scale=base_scale,
            collateral=collateral,
        )
        < 0
    )


def comet_position_is_liquidatable(market: Market, position: Position, decimals: Mapping[str, int]) -> bool:
    """``isLiquidatable`` from a snapshot position: its debt (present value, accrued to the
    snapshot block) as the principal at index 1e15, prices from ``Reserve.oracle_price``,
    ``scale = 10**decimals`` and ``liquidation_threshold_wad`` as liquidateCollateralFactor.
    (Comet's own view uses the stored indices; see :mod:`chain.compound_v3`.)"""
    if market.venue != "compound_v3":
        raise ValueError(f"market {market.id!r} is {market.venue}, not compound_v3")
    base = [r for r in market.reserves if r.can_be_borrowed]
    if len(base) != 1 or base[0].oracle_price is None:
        raise ValueError(f"market {market.id!r} must have exactly one priced base reserve")
    debt = sum(position.debt.values())
    legs = []
    for symbol, amount in position.collateral.items():
        reserve = market.reserve(symbol)
        if reserve.oracle_price is None:
            raise ValueError(f"market {market.id!r} reserve {symbol} has no price")
        legs.append(CometCollateralLeg(amount, reserve.oracle_price, 10 ** decimals[symbol], reserve.liquidation_threshold_wad))
    return comet_is_liquidatable(
        principal=-debt,
        base_supply_index=BASE_INDEX_SCALE,
        base_borrow_index=BASE_INDEX_SCALE,
        base_price=base[0].oracle_price,
        base_scale=10 ** decimals[base[0].asset],
        collateral=legs,
    )


__all__ = [
    "AaveAccountData",
    "AaveHfRule",
    "AaveLiquidation",
    "AaveLiquidationRule",
    "AaveReserveLeg",
    "AaveRounding",
    "CometCollateralLeg",
    "MorphoLiquidation",
    "MorphoMarketState",
    "ProtocolRevert",
    "aave_account_data",
    "aave_collateral_to_liquidate",
    "aave_compounded_interest_ray",
    "aave_effective_liquidation_bonus_bps",
    "aave_effective_liquidation_threshold_bps",
    "aave_health_factor_wad",
    "aave_hf_rule",
    "aave_is_liquidatable",
    "aave_linear_interest_ray",
    "aave_liquidation_amounts",
    "aave_liquidation_oracle_price",
    "aave_largest_accepted_liquidation",
    "aave_liquidation_rule",
    "aave_position_account",
    "aave_position_liquidation",
    "aave_rounding",
    "aave_normalized_debt_ray",
    "aave_normalized_income_ray",
    "aave_position_legs",
    "aave_position_liquidation_oracle_price",
    "aave_scaled_to_balance_raw",
    "comet_is_liquidatable",
    "comet_liquidity",
    "comet_position_is_liquidatable",
    "comet_present_value",
    "morpho_accrue_interest",
    "morpho_borrow_assets",
    "morpho_is_healthy",
    "morpho_liquidation_amounts",
    "morpho_liquidation_oracle_price",
    "morpho_max_borrow",
    "morpho_position_liquidation_oracle_price",
    "mul_div_down",
    "mul_div_up",
    "percent_div",
    "percent_div_ceil",
    "percent_div_floor",
    "percent_mul",
    "percent_mul_ceil",
    "percent_mul_floor",
    "ray_div",
    "ray_div_ceil",
    "ray_div_floor",
    "ray_mul",
    "ray_mul_ceil",
    "ray_mul_floor",
    "to_assets_down",
    "to_assets_up",
    "to_shares_down",
    "to_shares_up",
    "w_div_down",
    "w_div_up",
    "w_mul_down",
    "w_taylor_compounded",
    "wad_div",
    "wad_mul",
]

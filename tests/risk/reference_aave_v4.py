"""Plain-loop reference of the Aave V4 spoke rule (``aave_v4``), one position at a time, in Python
floats: the conformance suite's signature (``tests/risk/test_conformance.py``) plus the spoke's
parameters.

Written from aave/aave-v4 ``src/spoke/libraries/LiquidationLogic.sol`` @8e6ea169 (calculateLiquidationBonus,
_calculateDebtToTargetHealthFactor, _calculateDebtToLiquidate, _calculateLiquidationAmounts,
_evaluateDeficit) and ``Spoke._processUserAccountData`` / ``_reportDeficit``, with the liquidator
choosing the largest debt and the largest active collateral reserve by value (the engine's convention).
"""

from __future__ import annotations

DUST_USD = 1_000.0
EMPTY_USD = 1e-6
DEFAULT_PARAMS = (1.05, 0.95, 0.2)  # target HF, HF for max bonus, bonus factor


def bonus_at(health, max_bonus, hf_for_max_bonus, factor):
    if health <= hf_for_max_bonus:
        return max_bonus
    low = 1.0 + (max_bonus - 1.0) * factor
    share = (1.0 - health) / (1.0 - hf_for_max_bonus)
    share = min(max(share, 0.0), 1.0)
    return low + (max_bonus - low) * share


def liquidate_position(coll, debt, lt, bonus, fee, prices, params=None, max_passes=32):
    target, hf_max, factor = DEFAULT_PARAMS if params is None else params
    n = len(prices)
    seized, fees, repaid = [0.0] * n, [0.0] * n, [0.0] * n
    bad, hit = 0.0, False
    for _ in range(max_passes):
        active = [lt[k] > 0 and coll[k] * prices[k] > EMPTY_USD for k in range(n)]
        coll_usd = [coll[k] * prices[k] if active[k] else 0.0 for k in range(n)]
        debt_usd = [debt[k] * prices[k] for k in range(n)]
        total = sum(debt_usd)
        weighted = sum(coll_usd[k] * lt[k] for k in range(n))
        if not (total > EMPTY_USD and weighted < total):
            break
        hit = True
        if not any(active):
            bad += total
            for k in range(n):
                debt[k] = 0.0
            break
        health = weighted / total
        c = max(range(n), key=lambda k: (coll_usd[k], -k))
        j = max(range(n), key=lambda k: (debt_usd[k], -k))
        b = bonus_at(health, bonus[c], hf_max, factor)
        denominator = target - b * lt[c]
        to_target = total * (target - health) / denominator if denominator > 0 else float("inf")
        repay = min(debt_usd[j], max(to_target, 0.0))
        if debt_usd[j] - repay < DUST_USD:
            repay = debt_usd[j]
        seize = repay * b
        leaves_coll_dust = seize < coll_usd[c] and coll_usd[c] - seize < DUST_USD
        whole = seize >= coll_usd[c] or (leaves_coll_dust and repay < debt_usd[j])
        if whole:
            seize = coll_usd[c]
            repay = min(coll_usd[c] / b, debt_usd[j])
        fees[c] += seize * fee[c] * (b - 1.0) / b / prices[c]
        if whole:
            seized[c] += coll[c]
            coll[c] = 0.0
        else:
            seized[c] += seize / prices[c]
            coll[c] = max(coll[c] - seize / prices[c], 0.0)
        if repay >= debt_usd[j]:
            repaid[j] += debt[j]
            debt[j] = 0.0
        else:
            repaid[j] += repay / prices[j]
            debt[j] = max(debt[j] - repay / prices[j], 0.0)
        if whole and sum(active) == 1:
            left = sum(debt[k] * prices[k] for k in range(n))
            if left > 0:
                bad += left
                for k in range(n):
                    debt[k] = 0.0
    return seized, fees, repaid, bad, hit

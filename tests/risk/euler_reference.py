"""Plain-loop reference of the Euler v2 rule (:func:`risk.euler_v2.liquidate_euler_rows`): one
account at a time, one ``liquidate`` call at a time, written from the EVK flow
(euler-xyz/euler-vault-kit src/EVault/modules/Liquidation.sol @1dad88bd: health from the liquidation
LTVs, discount factor floored at 1 - maxLiquidationDiscount, repay the whole debt if the chosen
collateral covers ``liability / discountFactor`` else take all of it, socialise what is left when no
collateral remains; a collateral with LTV 0 adds no health but is seized and blocks socialisation)."""

from __future__ import annotations


def liquidate_euler_loop(collateral, debt, liq_threshold, max_discount, prices):
    n_rows, n_assets = len(collateral), len(collateral[0])
    out = []
    for i in range(n_rows):
        p = prices[i] if isinstance(prices[0], (list, tuple)) else prices
        coll = list(collateral[i])
        owed = list(debt[i])
        row = {"seized": [0.0] * n_assets, "repaid": [0.0] * n_assets, "socialized": 0.0, "hit": False, "calls": 0}
        for _ in range(n_assets + 1):
            value = [coll[j] * p[j] if coll[j] > 0 else 0.0 for j in range(n_assets)]
            adjusted = sum(value[j] * liq_threshold[i][j] for j in range(n_assets))
            liability = sum(owed[j] * p[j] for j in range(n_assets))
            if not (liability > 1e-6 and not adjusted > liability):
                break
            row["hit"] = True
            if max(value) <= 0:
                row["calls"] += 1
                row["socialized"] += liability
                owed = [0.0] * n_assets
                break
            row["calls"] += 1
            factor = max(adjusted / liability, 1.0 - max_discount[i])
            c = max(range(n_assets), key=lambda j: value[j])
            if value[c] >= liability / factor:
                taken = liability / factor / p[c]
                row["seized"][c] += taken
                coll[c] = max(coll[c] - taken, 0.0)
                for j in range(n_assets):
                    row["repaid"][j] += owed[j]
                owed = [0.0] * n_assets
                break
            share = value[c] * factor / liability
            row["seized"][c] += coll[c]
            coll[c] = 0.0
            for j in range(n_assets):
                row["repaid"][j] += owed[j] * share
                owed[j] *= 1.0 - share
            if not any(coll[j] > 0 for j in range(n_assets)):
                left = sum(owed[j] * p[j] for j in range(n_assets))
                if left > 1e-6:
                    row["socialized"] += left
                    owed = [0.0] * n_assets
                break
        row["collateral_after"] = coll
        row["debt_after"] = owed
        out.append(row)
    return out


def conformance(coll, debt, lt, bonus, fee, prices):
    """The conformance suite's one-position signature (``tests/risk/test_conformance.py``): the
    max discount decoded from the bonus column as the kernel does (the largest bonus among the
    collateral columns, ``1 - 1/bonus``); mutates ``coll``/``debt``; returns ``(seized, fee,
    repaid, bad_debt_usd, hit)``."""
    n = len(prices)
    b = max([bonus[k] if coll[k] > 0 else 1.0 for k in range(n)] + [1.0])
    row = liquidate_euler_loop([list(coll)], [list(debt)], [list(lt)], [1.0 - 1.0 / b], list(prices))[0]
    for k in range(n):
        coll[k] = row["collateral_after"][k]
        debt[k] = row["debt_after"][k]
    return row["seized"], [0.0] * n, row["repaid"], row["socialized"], row["hit"]

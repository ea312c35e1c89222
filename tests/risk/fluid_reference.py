"""Plain-loop reference of the Fluid vault T1 float kernel (:func:`risk.fluid_vaults.liquidate_fluid_rows`),
one position at a time, from the vault's flow (Instadapp/fluid-contracts-public vaultT1 main.sol
liquidate, main2.sol absorb): absorbed above the max limit, else liquidated to the liquidation tick."""

from __future__ import annotations

import math


def liquidate_fluid_loop(collateral, debt, liq_threshold, penalty, max_limit, prices):
    out = []
    for i in range(len(collateral)):
        n = len(collateral[i])
        cvals = [collateral[i][k] * prices[k] if liq_threshold[i][k] > 0 else 0.0 for k in range(n)]
        dvals = [debt[i][k] * prices[k] for k in range(n)]
        c = max(range(n), key=lambda k: cvals[k])
        j = max(range(n), key=lambda k: dvals[k])
        cv, dv = cvals[c], dvals[j]
        row = {"seized": [0.0] * n, "repaid": [0.0] * n, "bad": 0.0, "hit": False, "absorbed": False}
        ratio = dv / cv if cv > 0 else math.inf
        limit = max(max_limit[i][c], liq_threshold[i][c])  # never below the threshold (admin module refuses it)
        if dv > 1e-6 and ratio > limit:
            row.update(hit=True, absorbed=True)
            row["seized"][c] = collateral[i][c]
            row["repaid"][j] = min(dv, cv) / prices[j]
            row["bad"] = max(dv - cv, 0.0)
        elif dv > 1e-6 and ratio > liq_threshold[i][c]:
            row["hit"] = True
            r = liq_threshold[i][c]
            x = (dv - r * cv) / (1.0 - r * (1.0 + penalty[i][c]))
            x = min(max(x, 0.0), dv)
            row["seized"][c] = min(x * (1.0 + penalty[i][c]), cv) / prices[c]
            row["repaid"][j] = x / prices[j]
        out.append(row)
    return out


def liquidate_position(coll, debt, lt, bonus, fee, prices):
    """The loop in the conformance suite's one-position signature (``bonus`` = 1 + penalty, ``fee`` =
    the max limit), mutating ``coll``/``debt``; returns ``(seized[], fee[], repaid[], bad_usd, hit)``."""
    n = len(prices)
    # The engine hands a kernel only rows with HF < 1 over all their collateral (risk.liquidation);
    # a Fluid vault has one collateral, where that and the vault's own ratio test agree, but the
    # suite's random rows may hold several (the ratio test alone would liquidate a row the engine
    # never hands over).
    weighted = sum(coll[k] * lt[k] * prices[k] for k in range(n) if lt[k] > 0)
    owed = sum(debt[k] * prices[k] for k in range(n))
    if not (owed > 1e-6 and weighted < owed):
        return [0.0] * n, [0.0] * n, [0.0] * n, 0.0, False
    row = liquidate_fluid_loop([list(coll)], [list(debt)], [list(lt)], [[b - 1.0 for b in bonus]], [list(fee)],
                               list(prices))[0]
    c = max(range(n), key=lambda k: coll[k] * prices[k] if lt[k] > 0 else 0.0)
    j = max(range(n), key=lambda k: debt[k] * prices[k])
    if row["absorbed"]:
        coll[c], debt[j] = 0.0, 0.0
    else:
        coll[c] -= row["seized"][c]
        debt[j] -= row["repaid"][j]
    return row["seized"], [0.0] * n, row["repaid"], row["bad"], row["hit"]

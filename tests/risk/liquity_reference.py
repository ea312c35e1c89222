"""Plain-loop references of the Liquity v2 float models in :mod:`risk.liquity_v2`, one trove at a
time, written from the flow of liquity/bold contracts/src/TroveManager.sol
(@00aa9df025c8677e6f9a24695185dacf3483f0d0): gas compensation first, SP offset, redistribution
of the rest by stake, repeated while redistribution pushes troves below MCR."""

from __future__ import annotations


def liquidate_trove_loop(collateral, debt, liq_threshold, penalty_sp, prices):
    """Reference of :func:`risk.liquity_v2.liquidate_trove_rows` (SP offset of each row)."""
    out = []
    for i in range(len(collateral)):
        p = prices[i] if isinstance(prices[0], (list, tuple)) else prices
        n = len(collateral[i])
        coll_value = [collateral[i][j] * p[j] if liq_threshold[i][j] > 0 else 0.0 for j in range(n)]
        owed = sum(debt[i][j] * p[j] for j in range(n))
        weighted = sum(coll_value[j] * liq_threshold[i][j] for j in range(n))
        row = {"seized": [0.0] * n, "gas": [0.0] * n, "repaid": [0.0] * n, "surplus": [0.0] * n, "bad": 0.0,
               "hit": False}
        if not (owed > 1e-6 and weighted < owed):
            out.append(row)
            continue
        row["hit"] = True
        c = max(range(n), key=lambda j: coll_value[j])
        gas = min(collateral[i][c] / 200.0, 2.0)
        rest = collateral[i][c] - gas
        to_sp = min(rest, owed * (1.0 + penalty_sp[i][c]) / p[c])
        covered = min(to_sp * p[c], owed)
        row["bad"] = owed - covered
        row["seized"][c] = to_sp + gas
        row["gas"][c] = gas
        row["surplus"][c] = rest - to_sp
        for j in range(n):
            row["repaid"][j] = debt[i][j] * (covered / owed)
        out.append(row)
    return out


def liquidate_branch_loop(coll, debt, stake, price, sp, mcr, penalty_sp, penalty_red, max_rounds=64):
    """Reference of :func:`risk.liquity_v2.liquidate_branch`: (coll, debt, liquidated round, totals)."""
    coll, debt, stake = list(coll), list(debt), list(stake)
    n = len(coll)
    alive = [d > 0 for d in debt]
    rnd = [0] * n
    totals = {"offset": 0.0, "to_sp": 0.0, "red_debt": 0.0, "red_coll": 0.0, "surplus": 0.0, "gas": 0.0}
    r = 0
    while r < max_rounds:
        under = [(coll[i] * price / debt[i], i) for i in range(n) if alive[i] and coll[i] * price / debt[i] < mcr]
        if not under:
            break
        r += 1
        under.sort()
        available = max(sp - min(1.0, sp), 0.0)
        red_debt_round = red_coll_round = 0.0
        for _, i in under:
            gas = min(coll[i] / 200.0, 2.0)
            to_liq = coll[i] - gas
            offset = min(debt[i], available) if available > 0 else 0.0
            available -= offset
            sp -= offset
            sp_portion = to_liq * offset / debt[i]
            to_sp = min(sp_portion, offset * (1 + penalty_sp) / price)
            surplus = sp_portion - to_sp
            red = debt[i] - offset
            red_coll = 0.0
            if red > 0 and to_liq - sp_portion > 0:
                pool = to_liq - sp_portion + surplus
                red_coll = min(pool, red * (1 + penalty_red) / price)
                surplus = pool - red_coll
            totals["offset"] += offset
            totals["to_sp"] += to_sp
            totals["red_debt"] += red
            totals["red_coll"] += red_coll
            totals["surplus"] += surplus
            totals["gas"] += gas
            red_debt_round += red
            red_coll_round += red_coll
            alive[i] = False
            rnd[i] = r
            coll[i] = debt[i] = 0.0
        total_stake = sum(stake[i] for i in range(n) if alive[i])
        if red_debt_round > 0 and total_stake > 0:
            for i in range(n):
                if alive[i]:
                    coll[i] += red_coll_round * stake[i] / total_stake
                    debt[i] += red_debt_round * stake[i] / total_stake
    return coll, debt, rnd, totals, sp


def liquidate_position(coll, debt, lt, bonus, fee, prices):
    """The SP-offset loop in the conformance suite's one-position signature (``bonus`` = 1 + SP
    penalty, ``fee`` unused: 0 for this rule), mutating ``coll``/``debt``; returns
    ``(seized[], fee[], repaid[], bad_debt_usd, hit)``."""
    n = len(prices)
    row = liquidate_trove_loop([list(coll)], [list(debt)], [list(lt)], [[b - 1.0 for b in bonus]], list(prices))[0]
    if row["hit"]:
        c = max(range(n), key=lambda k: coll[k] * prices[k] if lt[k] > 0 else 0.0)  # the loop's choice
        coll[c] = 0.0
        for k in range(n):
            debt[k] = 0.0
    return row["seized"], [0.0] * n, row["repaid"], row["bad"], row["hit"]

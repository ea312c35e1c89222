"""Plain-loop reference implementations of the vectorized kernels (tests only).

Written from the definitions, one position and one asset at a time, in pure Python floats,
deliberately without sharing code with ``risk/``: the vectorized kernels are tested equal to
these.
"""

from __future__ import annotations

import math

NEVER, BELOW, ABOVE, NOW = 0, 1, 2, 3


def health(coll, debt, lt, prices):
    c = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    return math.inf if d <= 0 else c / d


def liquidation_price(coll, debt, lt, prices, j):
    """(price, side) at which HF = 1 moving asset j alone."""
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    c = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    if d <= 0:
        return math.nan, NEVER
    if c < d:
        return math.nan, NOW
    slope = coll[j] * lt[j] - debt[j]
    if abs(slope) <= 1e-12 * max(abs(coll[j] * lt[j]), abs(debt[j]), 1e-300):
        return math.nan, NEVER
    c_other = c - coll[j] * lt[j] * prices[j]
    d_other = d - debt[j] * prices[j]
    p = (d_other - c_other) / slope
    if slope > 0:
        return (p, BELOW) if p > 0 else (math.nan, NEVER)
    return p, ABOVE


def driver_return(coll, debt, lt, prices, betas):
    """(r*, side) for p_k = spot_k (1 + beta_k r)."""
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    c = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    if d <= 0:
        return math.nan, NEVER
    if c < d:
        return math.nan, NOW
    cb = sum(coll[k] * lt[k] * prices[k] * betas[k] for k in range(len(prices)))
    db = sum(debt[k] * prices[k] * betas[k] for k in range(len(prices)))
    slope = cb - db
    if abs(slope) <= 1e-12 * max(abs(cb), abs(db), abs(c), 1e-300):
        return math.nan, NEVER
    r = (d - c) / slope
    lowest = -1.0 / max(b for b in betas if b > 0)
    if slope > 0:
        return (r, BELOW) if r > lowest else (math.nan, NEVER)
    return r, ABOVE


VENUE_AAVE_V30, VENUE_AAVE_V33, VENUE_MORPHO, VENUE_COMET = 0, 1, 2, 3


def liquidate_position(coll, debt, lt, bonus, fee, venue, prices, max_passes=32):
    """Liquidate one position at fixed prices until HF >= 1. Mutates coll/debt lists.

    Returns (seized[], fee[], repaid[], bad_debt_usd, hit).
    """
    n = len(prices)
    seized, fees, repaid = [0.0] * n, [0.0] * n, [0.0] * n
    bad = 0.0
    hit = False
    for _ in range(max_passes):
        d_usd = [debt[k] * prices[k] for k in range(n)]
        total_debt = sum(d_usd)
        c_w = sum(coll[k] * lt[k] * prices[k] for k in range(n))
        if not (total_debt > 1e-6 and c_w < total_debt):
            break
        hit = True
        hf = c_w / total_debt
        c_usd = [coll[k] * prices[k] if lt[k] > 0 else 0.0 for k in range(n)]
        if venue == VENUE_COMET:
            credit = sum(c_usd[k] / bonus[k] for k in range(n))
            shortfall = max(total_debt - credit, 0.0)
            cover = min(credit, total_debt) / total_debt
            for k in range(n):
                if lt[k] > 0:
                    seized[k] += coll[k]
                    coll[k] = 0.0
                repaid[k] += debt[k] * cover
                debt[k] = 0.0
            bad += shortfall
        else:
            c = max(range(n), key=lambda k: (c_usd[k], -k))
            j = max(range(n), key=lambda k: (d_usd[k], -k))
            max_repay = d_usd[j]
            if venue == VENUE_AAVE_V30 and hf > 0.95:
                max_repay = 0.5 * d_usd[j]
            if venue == VENUE_AAVE_V33 and hf > 0.95 and c_usd[c] >= 2000 and d_usd[j] >= 2000:
                max_repay = min(d_usd[j], 0.5 * total_debt)
                if 0 < d_usd[j] - max_repay < 1000:
                    max_repay = d_usd[j] - 1000
            seize = max_repay * bonus[c]
            if seize > c_usd[c]:
                seize = c_usd[c]
                repay = c_usd[c] / bonus[c]
                seize_tokens = coll[c]
            else:
                repay = max_repay
                seize_tokens = seize / prices[c]
            fee_usd = (seize - seize / bonus[c]) * fee[c]
            seized[c] += seize_tokens
            fees[c] += fee_usd / prices[c]
            repaid[j] += repay / prices[j]
            coll[c] = max(coll[c] - seize_tokens, 0.0)
            debt[j] = max(debt[j] - repay / prices[j], 0.0)
        for k in range(n):
            if debt[k] * prices[k] < 1e-6:
                debt[k] = 0.0
        left_c = sum(coll[k] * prices[k] for k in range(n) if lt[k] > 0)
        left_d = sum(debt[k] * prices[k] for k in range(n))
        if left_c <= 1e-6 and left_d > 1e-6:
            bad += left_d
            for k in range(n):
                debt[k] = 0.0
    return seized, fees, repaid, bad, hit


def cascade(book_rows, spot, betas, driver, x0, impact_fn, max_rounds=100, tol=1e-9):
    """Plain-loop cascade for one initial drawdown over ALL positions (no candidate shortcut).

    book_rows: list of dicts with coll, debt, lt, bonus, fee, venue (lists per asset).
    impact_fn(net_sold_usd list) -> impact list.
    Returns dict of final_drawdown, rounds, liquidated_usd, seized_usd (list), bad_debt_usd, hit.
    """
    n = len(spot)
    rows = [{k: (list(v) if isinstance(v, list) else v) for k, v in r.items()} for r in book_rows]
    impact = [0.0] * n
    net = [0.0] * n
    seized_usd = [0.0] * n
    liquidated = bad = 0.0
    hit = [False] * len(rows)
    rounds = 0

    def prices_for(impact):
        r_eff = (1 - x0) * (1 - impact[driver]) - 1
        p = [spot[k] * max(1 + betas[k] * r_eff, 0.0) * (1 - impact[k]) for k in range(n)]
        p[driver] = spot[driver] * max(1 + r_eff, 0.0)
        return p, r_eff

    prices, r_eff = prices_for(impact)
    while rounds < max_rounds:
        if not any(health(r["coll"], r["debt"], r["lt"], prices) < 1 and sum(r["debt"][k] * prices[k] for k in range(n)) > 1e-6 for r in rows):
            break
        rounds += 1
        round_seized, round_fee, round_repaid = [0.0] * n, [0.0] * n, [0.0] * n
        for i, r in enumerate(rows):
            s, f, rp, b, h = liquidate_position(r["coll"], r["debt"], r["lt"], r["bonus"], r["fee"], r["venue"], prices)
            hit[i] = hit[i] or h
            bad += b
            for k in range(n):
                round_seized[k] += s[k]
                round_fee[k] += f[k]
                round_repaid[k] += rp[k]
        for k in range(n):
            seized_usd[k] += round_seized[k] * prices[k]
            liquidated += round_repaid[k] * prices[k]
            net[k] += (round_seized[k] - round_fee[k] - round_repaid[k]) * spot[k]
        new_impact = list(impact_fn(net))
        moved = max(abs(a - b) for a, b in zip(new_impact, impact)) > tol
        impact = new_impact
        prices, r_eff = prices_for(impact)
        if not moved:
            break
    return {
        "final_drawdown": -r_eff,
        "rounds": rounds,
        "liquidated_usd": liquidated,
        "seized_usd": seized_usd,
        "bad_debt_usd": bad,
        "positions_hit": sum(hit),
    }

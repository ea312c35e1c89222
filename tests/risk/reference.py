"""Plain-loop reference implementations of the vectorized kernels (tests only).

Written from the definitions, one position and one asset at a time, in pure Python floats,
deliberately without sharing code with ``risk/``: the vectorized kernels are tested equal to
these.
"""

from __future__ import annotations

import math

NEVER, BELOW, ABOVE, NOW = 0, 1, 2, 3


SNAP_BPS = 1e-9  # float slack when flooring an average that is a whole bps in exact arithmetic


def weighted(coll, lt, prices, floored=False):
    """HF numerator: sum(coll*LT*p); floored (Aave v3.0-v3.4) with two or more counted collaterals:
    T * floor(1e4 * sum / T) / 1e4, T = sum(coll*p) over LT > 0 (GenericLogic, v3.0.2)."""
    w = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    counted = [k for k in range(len(prices)) if lt[k] > 0 and coll[k] > 0]
    if not floored or len(counted) < 2:
        return w
    t = sum(coll[k] * prices[k] for k in counted)
    if t <= 0:
        return w
    return t * math.floor(w / t * 1e4 + SNAP_BPS) / 1e4


def health(coll, debt, lt, prices, floored=False):
    c = weighted(coll, lt, prices, floored)
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    return math.inf if d <= 0 else c / d


def _floored_crossing(coll, debt, lt, prices_at, u_lo, u_hi, down):
    """Top (down=True) / bottom of the floored-rule liquidatable set between u_lo and u_hi.

    Candidates where liquidatability can switch: every level's root (T(u) k = 1e4 D(u)) and every
    breakpoint of the floored average (x(u) = m), found from the sums at u = 0 and u = 1 (they
    are affine in u). Between two neighbouring candidates it is constant: test the midpoints
    with the floored health factor itself, from the top (down) or the bottom.
    """
    n = len(coll)
    counted = [k for k in range(n) if lt[k] > 0 and coll[k] > 0]

    def sums(u):
        p = prices_at(u)
        t = sum(coll[k] * p[k] for k in counted)
        w = sum(coll[k] * lt[k] * p[k] for k in range(n))
        d = sum(debt[k] * p[k] for k in range(n))
        return t, w, d

    t0, w0, d0 = sums(0.0)
    t1, w1, d1 = sums(1.0)
    tv, wv, dv = t1 - t0, w1 - w0, d1 - d0
    xs = []
    for u in (u_lo, u_hi):
        t, w = t0 + tv * u, w0 + wv * u
        xs.append(1e4 * w / t if t > 1e-9 * (abs(t0) + abs(tv * u)) else 1e4 * wv / tv)
    candidates = {u_lo, u_hi}
    for m in range(math.floor(min(xs)) - 1, math.floor(max(xs)) + 3):
        if 1e4 * wv - m * tv != 0:
            candidates.add((m * t0 - 1e4 * w0) / (1e4 * wv - m * tv))  # x(u) = m
        if dv - m * tv / 1e4 != 0:
            candidates.add((m * t0 / 1e4 - d0) / (dv - m * tv / 1e4))  # T(u) m = 1e4 D(u)
    points = sorted(c for c in candidates if u_lo <= c <= u_hi)
    pairs = list(zip(points[:-1], points[1:]))
    for a, b in (reversed(pairs) if down else pairs):
        if health(coll, debt, lt, prices_at(0.5 * (a + b)), True) < 1:
            return b if down else a
    return None


def _floored(coll, debt, lt, prices_at, u_cur, lowest, slope, plain_cross, t, tv, c, d, nan_side):
    """Shared by the two crossings below: the floored answer, or None when the plain one stands."""
    # Provably safe where W - T/1e4 >= D (floor(x) > x - 1); liquidatable beyond the plain crossing.
    slope_safe = slope - tv / 1e4
    safe = (d + t / 1e4 - c) / slope_safe if slope_safe != 0 else None
    if slope > 0:
        top = min(u_cur, u_cur + safe) if safe is not None and slope_safe > 0 else u_cur
        low = max(plain_cross, lowest)
        found = _floored_crossing(coll, debt, lt, prices_at, low, top, True) if top > low else None
        if found is None:
            return (plain_cross, BELOW) if plain_cross > lowest else (math.nan, NEVER)
        return found, BELOW
    bottom = max(u_cur, u_cur + safe) if safe is not None and slope_safe < 0 else u_cur
    found = _floored_crossing(coll, debt, lt, prices_at, bottom, plain_cross, False) if plain_cross > bottom else None
    return (plain_cross if found is None else found), ABOVE


def liquidation_price(coll, debt, lt, prices, j, floored=False):
    """(price, side) at which HF = 1 moving asset j alone (floored: the top of the liquidatable
    set below the price for longs, its bottom above the price for shorts)."""
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    c = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    if d <= 0:
        return math.nan, NEVER
    if health(coll, debt, lt, prices, floored) < 1:
        return math.nan, NOW
    slope = coll[j] * lt[j] - debt[j]
    if abs(slope) <= 1e-12 * max(abs(coll[j] * lt[j]), abs(debt[j]), 1e-300):
        return math.nan, NEVER
    c_other = c - coll[j] * lt[j] * prices[j]
    d_other = d - debt[j] * prices[j]
    p = (d_other - c_other) / slope
    counted = [k for k in range(len(prices)) if lt[k] > 0 and coll[k] > 0]
    if floored and len(counted) >= 2:
        def prices_at(u):
            q = list(prices)
            q[j] = u
            return q
        t = sum(coll[k] * prices[k] for k in counted)
        tv = coll[j] if j in counted else 0.0
        # In the price itself: the safe bound is found as an offset from the current price.
        return _floored(coll, debt, lt, prices_at, prices[j], 0.0, slope, p, t, tv, c, d, NEVER)
    if slope > 0:
        return (p, BELOW) if p > 0 else (math.nan, NEVER)
    return p, ABOVE


def driver_return(coll, debt, lt, prices, betas, floored=False):
    """(r*, side) for p_k = spot_k (1 + beta_k r)."""
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    c = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    if d <= 0:
        return math.nan, NEVER
    if health(coll, debt, lt, prices, floored) < 1:
        return math.nan, NOW
    cb = sum(coll[k] * lt[k] * prices[k] * betas[k] for k in range(len(prices)))
    db = sum(debt[k] * prices[k] * betas[k] for k in range(len(prices)))
    slope = cb - db
    if abs(slope) <= 1e-12 * max(abs(cb), abs(db), abs(c), 1e-300):
        return math.nan, NEVER
    r = (d - c) / slope
    lowest = -1.0 / max(b for b in betas if b > 0) + 1e-12  # within float noise of a zero price: no crossing
    counted = [k for k in range(len(prices)) if lt[k] > 0 and coll[k] > 0]
    if floored and len(counted) >= 2:
        def prices_at(u):
            return [prices[k] * (1 + betas[k] * u) for k in range(len(prices))]
        t = sum(coll[k] * prices[k] for k in counted)
        tb = sum(coll[k] * prices[k] * betas[k] for k in counted)
        return _floored(coll, debt, lt, prices_at, 0.0, lowest, slope, r, t, tb, c, d, NEVER)
    if slope > 0:
        return (r, BELOW) if r > lowest else (math.nan, NEVER)
    return r, ABOVE


VENUE_AAVE_V30, VENUE_AAVE_V33, VENUE_MORPHO, VENUE_COMET = 0, 1, 2, 3


def liquidate_position(coll, debt, lt, bonus, fee, venue, prices, max_passes=32, floored=False):
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
        c_w = weighted(coll, lt, prices, floored)
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
        if not any(health(r["coll"], r["debt"], r["lt"], prices, r.get("floored", False)) < 1 and sum(r["debt"][k] * prices[k] for k in range(n)) > 1e-6 for r in rows):
            break
        rounds += 1
        round_seized, round_fee, round_repaid = [0.0] * n, [0.0] * n, [0.0] * n
        for i, r in enumerate(rows):
            s, f, rp, b, h = liquidate_position(r["coll"], r["debt"], r["lt"], r["bonus"], r["fee"], r["venue"], prices,
                                                floored=r.get("floored", False))
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

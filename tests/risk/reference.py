"""Plain-loop reference implementations of the vectorized kernels (tests only).

Written from the definitions, one position and one asset at a time, in pure Python floats,
deliberately without sharing code with ``risk/``: the vectorized kernels are tested equal to
these. The floored-average rule (Aave v3.0-v3.4) is computed in exact rational arithmetic
(``fractions.Fraction``) from the float inputs: a float reference recovering slopes as
differences of sums lost up to ~1e-8 relative to cancellation when the moved asset is a small
part of the position (the "1.3e-9 miss" of the first floored version), so the reference is the
exact answer for its inputs and any difference is the kernel's.
"""

from __future__ import annotations

import math
from fractions import Fraction

NEVER, BELOW, ABOVE, NOW = 0, 1, 2, 3


def _bps(lt):
    """An Aave LT (whole bps, stored as a float fraction) as the exact rational the protocol uses."""
    return Fraction(round(lt * 10_000), 10_000)


def _floored_numerator(coll, lt_bps, prices):
    """Exact HF numerator under the floored-average rule; every argument a list of Fractions."""
    n = len(coll)
    w = sum(coll[k] * lt_bps[k] * prices[k] for k in range(n))
    counted = [k for k in range(n) if lt_bps[k] > 0 and coll[k] > 0]
    if len({lt_bps[k] for k in counted}) < 2:  # one LT: the integer average is that LT exactly
        return w
    t = sum(coll[k] * prices[k] for k in counted)
    if t <= 0:
        return w
    return t * math.floor(w * 10_000 / t) / 10_000


def weighted(coll, lt, prices, floored=False):
    """HF numerator: sum(coll*LT*p); floored (Aave v3.0-v3.4) with two or more counted collaterals:
    T * floor(1e4 * sum / T) / 1e4, T = sum(coll*p) over LT > 0 (GenericLogic, v3.0.2), computed
    in exact rational arithmetic from the float inputs (LTs as the whole bps they stand for)."""
    if not floored:
        return sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    value = _floored_numerator([Fraction(c) for c in coll], [_bps(x) for x in lt], [Fraction(p) for p in prices])
    return float(value)


def health(coll, debt, lt, prices, floored=False):
    c = weighted(coll, lt, prices, floored)
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    return math.inf if d <= 0 else c / d


def _floored_liquidatable_exact(coll, debt, lt_bps, prices):
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    return d > 0 and _floored_numerator(coll, lt_bps, prices) < d


def _floored_line(coll, debt, lt, base, direction, u_cur, u_min, long_side):
    """Floored-rule crossing along the price line ``p(u) = base + direction * u``, exactly.

    Every sum is affine in ``u``; the coefficients are taken from the token amounts themselves
    (never as differences of sums, which cancel) and every step is rational arithmetic, so the
    answer is the exact one for the float inputs, rounded once at the end. Long side: the top of
    the liquidatable set below ``u_cur`` (None if none above ``u_min``); short side: its bottom
    above ``u_cur``. Candidates where liquidatability can switch: each level's root
    (``m T(u) = 1e4 D(u)``) and each step of the floored average (``1e4 W(u) = m T(u)``), for every
    level ``m`` between two provable bounds — below the plain crossing (long) every price is
    liquidatable (``floor(x) <= x``), and where ``W - T/1e4 >= D`` none is (``floor(x) > x - 1``).
    Between neighbouring candidates the status is constant: the midpoints decide.
    """
    n = len(coll)
    c = [Fraction(x) for x in coll]
    dd = [Fraction(x) for x in debt]
    lb = [_bps(x) for x in lt]
    p0 = [Fraction(x) for x in base]
    pv = [Fraction(x) for x in direction]
    u_cur, u_min = Fraction(u_cur), Fraction(u_min)
    counted = [k for k in range(n) if lb[k] > 0 and c[k] > 0]
    t0, tv = sum(c[k] * p0[k] for k in counted), sum(c[k] * pv[k] for k in counted)
    w0, wv = sum(c[k] * lb[k] * p0[k] for k in range(n)), sum(c[k] * lb[k] * pv[k] for k in range(n))
    d0, dv = sum(dd[k] * p0[k] for k in range(n)), sum(dd[k] * pv[k] for k in range(n))

    def liquidatable(u):
        return _floored_liquidatable_exact(c, dd, lb, [p0[k] + pv[k] * u for k in range(n)])

    slope = wv - dv
    plain = (d0 - w0) / slope  # W(u) = D(u)
    slope_safe = slope - tv / 10_000
    safe = (d0 + t0 / 10_000 - w0) / slope_safe if slope_safe != 0 else None  # W - T/1e4 = D
    if long_side:
        hi = min(u_cur, safe) if safe is not None and slope_safe > 0 else u_cur
        lo = max(plain, u_min)
    else:
        lo = max(u_cur, safe) if safe is not None and slope_safe < 0 else u_cur
        hi = plain

    def average_bps(u):
        t = t0 + tv * u
        return 10_000 * (w0 + wv * u) / t if t > 0 else None

    found = None
    if hi > lo:
        xs = [x for x in (average_bps(lo), average_bps(hi)) if x is not None]
        xs = xs or [Fraction(0), Fraction(10_000)]
        candidates = {lo, hi}
        for m in range(math.floor(min(xs)) - 1, math.floor(max(xs)) + 2):
            if 10_000 * wv - m * tv != 0:
                candidates.add((m * t0 - 10_000 * w0) / (10_000 * wv - m * tv))  # x(u) = m
            if m * tv - 10_000 * dv != 0:
                candidates.add((10_000 * d0 - m * t0) / (m * tv - 10_000 * dv))  # m T(u) = 1e4 D(u)
        points = sorted(x for x in candidates if lo <= x <= hi)
        pairs = list(zip(points[:-1], points[1:]))
        for a, b in (reversed(pairs) if long_side else pairs):
            if liquidatable((a + b) / 2):
                found = b if long_side else a
                break
    if long_side:
        if found is None:
            return (float(plain), BELOW) if plain > u_min else (math.nan, NEVER)
        return float(found), BELOW
    return float(plain if found is None else found), ABOVE


def _mixed(coll, lt):
    """Two or more different LTs (whole bps) among the counted collateral."""
    return len({_bps(lt[k]) for k in range(len(coll)) if lt[k] > 0 and coll[k] > 0}) >= 2


def liquidation_price(coll, debt, lt, prices, j, floored=False):
    """(price, side) at which HF = 1 moving asset j alone (floored: the top of the liquidatable
    set below the price for longs, its bottom above the price for shorts, solved exactly)."""
    d = sum(debt[k] * prices[k] for k in range(len(prices)))
    c = sum(coll[k] * lt[k] * prices[k] for k in range(len(prices)))
    if d <= 0:
        return math.nan, NEVER
    if health(coll, debt, lt, prices, floored) < 1:
        return math.nan, NOW
    slope = coll[j] * lt[j] - debt[j]
    if abs(slope) <= 1e-12 * max(abs(coll[j] * lt[j]), abs(debt[j]), 1e-300):
        return math.nan, NEVER
    if floored and _mixed(coll, lt):
        base = list(prices)
        base[j] = 0.0
        direction = [0.0] * len(prices)
        direction[j] = 1.0
        return _floored_line(coll, debt, lt, base, direction, prices[j], 0.0, slope > 0)
    c_other = c - coll[j] * lt[j] * prices[j]
    d_other = d - debt[j] * prices[j]
    p = (d_other - c_other) / slope
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
    if floored and _mixed(coll, lt):
        direction = [prices[k] * betas[k] for k in range(len(prices))]
        return _floored_line(coll, debt, lt, list(prices), direction, 0.0, lowest, slope > 0)
    if slope > 0:
        return (r, BELOW) if r > lowest else (math.nan, NEVER)
    return r, ABOVE


VENUE_AAVE_V30, VENUE_AAVE_V33, VENUE_MORPHO, VENUE_COMET = 0, 1, 2, 3


def liquidate_position(coll, debt, lt, bonus, fee, venue, prices, max_passes=32, floored=False, decide=None):
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
        liquidatable = (total_debt > 1e-6 and c_w < total_debt) if decide is None else decide(coll, debt, prices)
        if not liquidatable:
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


def cascade(book_rows, spot, betas, driver, x0, impact_fn, max_rounds=100, tol=1e-9, decide=None):
    """Plain-loop cascade for one initial drawdown over ALL positions (no candidate shortcut).

    book_rows: list of dicts with coll, debt, lt, bonus, fee, venue (lists per asset).
    impact_fn(net_sold_usd list) -> impact list. ``decide(i, coll, debt, prices) -> bool``, if
    given, replaces the float ``HF < 1`` test of position ``i`` (e.g. by ``risk.exact``); the
    result's ``hit`` lists who was liquidated.
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
        def liquidatable(i, r):
            if decide is not None:
                return decide(i, r["coll"], r["debt"], prices)
            return (health(r["coll"], r["debt"], r["lt"], prices, r.get("floored", False)) < 1
                    and sum(r["debt"][k] * prices[k] for k in range(n)) > 1e-6)

        if not any(liquidatable(i, r) for i, r in enumerate(rows)):
            break
        rounds += 1
        round_seized, round_fee, round_repaid = [0.0] * n, [0.0] * n, [0.0] * n
        for i, r in enumerate(rows):
            own = None if decide is None else (lambda c, d, p, i=i: decide(i, c, d, p))
            s, f, rp, b, h = liquidate_position(r["coll"], r["debt"], r["lt"], r["bonus"], r["fee"], r["venue"], prices,
                                                floored=r.get("floored", False), decide=own)
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
        "hit": hit,
    }

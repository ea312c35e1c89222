"""Plain-loop reference of Sky vault liquidations under the Dog's limits (``hole``/``Hole``) through
whole cascades and Monte Carlo paths, written from makerdao/dss src/dog.sol
@3f30552a586264b32ebdb5bac94ba67020282e53 ``bark`` (room = min(Hole - Dirt, hole - dirt); dart =
min(art, room / rate / chop); a dusty remainder is taken whole; a dusty part reverts; every bark adds
its tab to Dirt and the ilk's dirt) and the float auction model of ``risk.sky_vaults``.

One urn at a time, Python floats and lists, no numpy and nothing from the engine. Assets: 0 = the
collateral (the driver), 1 = DAI (the debt). The room is in DAI (the Vat's unit) and is never given
back within the horizon (no Clipper.take settlement), as the engines model it. Urns are barked
largest DAI debt first, ties by their index (the engines' stated keeper order).

``urns``: list of dicts ``ink`` (collateral tokens), ``dai`` (DAI owed, tokens), ``mat``, ``chop``,
``ratio`` (auction clearing price / oracle price), ``ilk`` (index into the ilk rooms), ``dust`` (DAI).
``rooms``: ``{"ilk": [DAI per ilk], "dog": DAI}``.
"""

from __future__ import annotations

import math


def copy_urns(urns):
    return [dict(u) for u in urns]


def bark_round(urns, prices, rooms, hit):
    """Bark every unsafe urn once at ``prices`` (mutates urns, rooms, hit). Returns the round's
    ``sold``/``penalty`` collateral tokens, ``repaid`` DAI tokens, ``liquidated``/``bad`` USD and
    whether anything was barked."""
    p_c, p_d = prices
    unsafe = [i for i, u in enumerate(urns)
              if u["dai"] * p_d > 1e-6 and u["ink"] * p_c / u["mat"] < u["dai"] * p_d]
    unsafe.sort(key=lambda i: (-urns[i]["dai"], i))
    out = {"sold": 0.0, "penalty": 0.0, "repaid": 0.0, "liquidated": 0.0, "bad": 0.0, "barked": False}
    for i in unsafe:
        u = urns[i]
        available = min(rooms["ilk"][u["ilk"]], rooms["dog"])
        if available <= 0:
            continue  # Dog/liquidation-limit-hit
        take = min(u["dai"], available / u["chop"])
        if take < u["dai"]:
            if u["dai"] - take < u["dust"]:
                take = u["dai"]  # a dusty remainder: the whole urn
            elif take < u["dust"]:
                continue  # Dog/dusty-auction-from-partial-liquidation
        part = take / u["dai"]
        tab_dai = take * u["chop"]
        rooms["ilk"][u["ilk"]] -= tab_dai
        rooms["dog"] -= tab_dai
        hit[i] = True
        out["barked"] = True
        lot = u["ink"] * part
        owed_usd = u["dai"] * p_d * part
        tab_usd = owed_usd * u["chop"]
        r = u["ratio"]
        if r is None or math.isnan(r) or r <= 0:
            sold, proceeds, sale = 0.0, 0.0, None
        else:
            sale = p_c * r
            sold = min(lot, tab_usd / sale)
            proceeds = sold * sale
        covered = min(proceeds, owed_usd)
        out["sold"] += sold
        out["penalty"] += (proceeds - covered) / sale if sale else 0.0
        out["repaid"] += covered / p_d
        out["liquidated"] += covered
        out["bad"] += owed_usd - covered
        if part >= 1.0:
            u["ink"], u["dai"] = 0.0, 0.0
        else:
            u["ink"] -= lot
            u["dai"] *= 1.0 - part
    return out


def cascade(urns, spot, x0, impact_fn, rooms, max_rounds=100, tol=1e-9):
    """One cascade grid point (the collateral is the driver, DAI has beta 0), as risk.cascade runs
    it: rounds at prices moved by the impact of the cumulative net amount sold (tokens at spot)."""
    urns, rooms = copy_urns(urns), {"ilk": list(rooms["ilk"]), "dog": rooms["dog"]}
    impact, net = [0.0, 0.0], [0.0, 0.0]
    hit = [False] * len(urns)
    liquidated = bad = 0.0
    rounds = 0

    def prices_for(imp):
        r_eff = (1 - x0) * (1 - imp[0]) - 1
        return [spot[0] * max(1 + r_eff, 0.0), spot[1] * (1 - imp[1])]

    prices = prices_for(impact)
    while rounds < max_rounds:
        out = bark_round(urns, prices, rooms, hit)
        if not out["barked"]:
            break
        rounds += 1
        liquidated += out["liquidated"]
        bad += out["bad"]
        net[0] += (out["sold"] - out["penalty"]) * spot[0]
        net[1] -= out["repaid"] * spot[1]
        new = list(impact_fn(net))
        moved = max(abs(a - b) for a, b in zip(new, impact)) > tol
        impact = new
        prices = prices_for(impact)
        if not moved:
            break
    return {"liquidated_usd": liquidated, "bad_debt_usd": bad, "positions_hit": sum(hit), "rounds": rounds,
            "rooms": rooms}


def monte_carlo_path(urns, exo, impact_fn, rooms, max_rounds=100):
    """One Monte Carlo path (``exo``: list of steps of ``[collateral price, DAI price]``), as
    risk.montecarlo walks it: at each step barks until nothing more is barked, prices times ``1 -
    impact`` of the cumulative net sold (tokens at the path's first prices); ``impact_fn`` None:
    exogenous prices. The room carries over from step to step."""
    urns, rooms = copy_urns(urns), {"ilk": list(rooms["ilk"]), "dog": rooms["dog"]}
    net, impact = [0.0, 0.0], [0.0, 0.0]
    hit = [False] * len(urns)
    liquidated = bad = 0.0
    for step in exo:
        prices = [step[0] * (1 - impact[0]), step[1] * (1 - impact[1])]
        for _ in range(max_rounds):
            out = bark_round(urns, prices, rooms, hit)
            if not out["barked"]:
                break
            liquidated += out["liquidated"]
            bad += out["bad"]
            if impact_fn is None:
                continue
            net[0] += (out["sold"] - out["penalty"]) * exo[0][0]
            net[1] -= out["repaid"] * exo[0][1]
            impact = list(impact_fn(net))
            prices = [step[0] * (1 - impact[0]), step[1] * (1 - impact[1])]
    return {"liquidated_usd": liquidated, "bad_debt_usd": bad, "positions_hit": sum(hit), "rooms": rooms}

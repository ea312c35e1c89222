"""Plain-loop reference of the Sky vault rule (:func:`risk.sky_vaults.liquidate_vault_rows`):
one urn at a time, written from the dss flow (bark the whole urn, Clipper sells up to ``tab``
at the clearing price, the Vow's ``sin`` is the debt, unsold collateral goes back to the owner)."""

from __future__ import annotations

import math


def liquidate_vault_loop(collateral, debt, liq_threshold, chop, prices, sale_ratio, room=None):
    """``room``: optional ``(group per row, ilk room USD per group, total room USD, dust USD per
    group)``: Dog.bark's hole/Hole caps and dust rules (dss dog.sol), urns in row order."""
    n_rows, n_assets = len(collateral), len(collateral[0])
    out = []
    if room is not None:
        groups, ilk_left, total_left, dusts = room[0], list(room[1]), room[2], room[3]
    for i in range(n_rows):
        p = prices[i] if isinstance(prices[0], (list, tuple)) else prices
        coll_value = [collateral[i][j] * p[j] if liq_threshold[i][j] > 0 else 0.0 for j in range(n_assets)]
        owed = sum(debt[i][j] * p[j] for j in range(n_assets))
        weighted = sum(coll_value[j] * liq_threshold[i][j] for j in range(n_assets))
        row = {"sold": [0.0] * n_assets, "penalty": [0.0] * n_assets, "repaid": [0.0] * n_assets,
               "returned": [0.0] * n_assets, "bad": 0.0, "hit": False}
        if not (owed > 1e-6 and weighted < owed):
            out.append(row)
            continue
        row["hit"] = True
        c = max(range(n_assets), key=lambda j: coll_value[j])
        part = 1.0
        if room is not None:
            g = groups[i]
            left = min(total_left, ilk_left[g]) if g >= 0 else total_left
            if left <= 0:
                row["hit"] = False
                out.append(row)
                continue
            take = min(owed, left / chop[i][c])
            if take < owed:
                dust = dusts[g] if g >= 0 else 0.0
                if owed - take < dust:
                    take = owed
                elif take < dust:
                    row["hit"] = False
                    out.append(row)
                    continue
            part = take / owed
            total_left -= take * chop[i][c]
            if g >= 0:
                ilk_left[g] -= take * chop[i][c]
        lot = collateral[i][c] * part
        owed_all = owed
        owed = owed * part
        tab = owed * chop[i][c]
        r = sale_ratio[i]
        if r is None or math.isnan(r) or r <= 0:
            sold, proceeds, sale = 0.0, 0.0, None
        else:
            sale = p[c] * r
            sold = min(lot, tab / sale)
            proceeds = sold * sale
        covered = min(proceeds, owed)
        row["bad"] = owed - covered
        row["sold"][c] = sold
        row["penalty"][c] = (proceeds - covered) / sale if sale else 0.0
        for j in range(n_assets):
            row["repaid"][j] = debt[i][j] * (covered / owed_all)
        row["returned"][c] = lot - sold
        row["left_collateral"] = collateral[i][c] - lot if part < 1.0 else 0.0
        row["left_debt_share"] = 1.0 - part if part < 1.0 else 0.0
        out.append(row)
    return out

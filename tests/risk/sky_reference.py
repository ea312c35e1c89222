"""Plain-loop reference of the Sky vault rule (:func:`risk.sky_vaults.liquidate_vault_rows`):
one urn at a time, written from the dss flow (bark the whole urn, Clipper sells up to ``tab``
at the clearing price, the Vow's ``sin`` is the debt, unsold collateral goes back to the owner)."""

from __future__ import annotations

import math


def liquidate_vault_loop(collateral, debt, liq_threshold, chop, prices, sale_ratio):
    n_rows, n_assets = len(collateral), len(collateral[0])
    out = []
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
        lot = collateral[i][c]
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
            row["repaid"][j] = debt[i][j] * (covered / owed)
        row["returned"][c] = lot - sold
        out.append(row)
    return out

"""A synthetic Liquity v2 branch added to a snapshot (for report tests without the devnet): one WETH
branch market (as :meth:`chain.liquity_v2.LiquityBranchData.to_market` builds it), its troves as
positions, and the branch state in ``Snapshot.venue_state["liquity_v2"]``. SYNTHETIC data, not a
chain read: the devnet tests (tests/chain/test_liquity_v2.py, tests/liqrisk/test_cli.py) read the
Liquity v2 test double."""

from __future__ import annotations

import numpy as np

from risk.snapshot import Asset, Market, Position, Reserve, Snapshot
from risk.venues.liquity_v2 import LiquityBranch, LiquityState, LiquityTrove

WAD = 10**18
BOLD = "0x" + "b0" * 20
MARKET_ID = "liquity-v2:WETH"


def with_liquity_branch(snapshot: Snapshot, *, n_troves: int = 30, seed: int = 3) -> Snapshot:
    """``snapshot`` plus a Liquity v2 WETH branch whose troves sit between 115% and 260% ICR."""
    weth = snapshot.asset("WETH")
    price_wad = int(round(weth.price_usd * 1e6)) * 10**12
    rng = np.random.default_rng(seed)
    mcr_wad, ccr_wad, scr_wad = 11 * 10**17, 15 * 10**17, 11 * 10**17
    troves, positions = [], []
    for k in range(n_troves):
        debt_wei = int(rng.uniform(2_000, 200_000)) * WAD
        icr = 1.15 + 1.45 * k / max(n_troves - 1, 1)
        coll_wei = debt_wei * int(icr * 1e6) // 10**6 * WAD // price_wad
        account = "0x" + f"{k + 1:040x}"
        troves.append(LiquityTrove(account=account, trove_id=k + 1, status=1,
                                   annual_interest_rate_wad=(5 + (k * 7) % 60) * 10**15, stake=coll_wei,
                                   entire_debt_wei=debt_wei, entire_coll_wei=coll_wei))
        positions.append(Position(market=MARKET_ID, account=account, collateral={"WETH": coll_wei},
                                  debt={"BOLD": debt_wei}))
    troves.sort(key=lambda t: t.annual_interest_rate_wad)  # redemption order: lowest rate first
    total_debt = sum(t.entire_debt_wei for t in troves)
    branch = LiquityBranch(market=MARKET_ID, mcr_wad=mcr_wad, ccr_wad=ccr_wad, scr_wad=scr_wad,
                           penalty_sp_wad=5 * 10**16, penalty_redistribution_wad=10 * 10**16, price_wad=price_wad,
                           sp_deposits_wei=total_debt // 10, branch_coll_wei=sum(t.entire_coll_wei for t in troves),
                           branch_debt_wei=total_debt, troves=tuple(troves))
    lt = WAD * WAD // mcr_wad
    market = Market(id=MARKET_ID, venue="liquity_v2", name="Liquity v2 (synthetic) WETH", address="0x" + "1f" * 20,
                    protocol_version="liquity-v2", price_unit=WAD, reserves=(
                        Reserve(asset="WETH", ltv_wad=lt, liquidation_threshold_wad=lt,
                                liquidation_bonus_wad=WAD + 5 * 10**16, oracle_price=price_wad,
                                can_be_collateral=True, can_be_borrowed=False),
                        Reserve(asset="BOLD", ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                                oracle_price=WAD, can_be_collateral=False, can_be_borrowed=True)))
    bold = Asset(symbol="BOLD", address=BOLD, decimals=18, price_usd=1.0, price_source="liquity-bold")
    return Snapshot.model_validate({
        **{k: getattr(snapshot, k) for k in type(snapshot).model_fields},
        "assets": (*snapshot.assets, bold), "markets": (*snapshot.markets, market),
        "positions": (*snapshot.positions, *positions),
        "venue_state": {**snapshot.venue_state, "liquity_v2": LiquityState(branches=(branch,))},
    })

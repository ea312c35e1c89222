"""The report's Liquity v2 section (registered with :mod:`liqrisk.venues`, key ``liquity_v2``): per branch, what a driver drawdown does beyond the engine's
Stability Pool offset (SP exhaustion, redistribution to the other troves, shutdown below SCR), and
the price-independent redemption exposure (lowest-rate troves first).

The numbers come from :mod:`risk.liquity_v2` (the branch model, checked against the exact
``batchLiquidateTroves`` math and the devnet's Liquity v2 test double) on the Snapshot's
:class:`risk.venues.liquity_v2.LiquityBranch` state (``Snapshot.venue_state["liquity_v2"]``); the collateral moves with the driver by its beta.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from liqrisk.venues import ReportSection, register_report_section
from risk.liquity_v2 import WAD, BranchFloatParams, BranchParams, liquidate_branch, redemption_exposure
from risk.snapshot import Snapshot

REDEMPTION_SHARES: tuple[float, ...] = (0.01, 0.05, 0.10, 0.25)
"""Redemption volumes shown, as shares of the branch's debt."""


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LiquityStressDoc(_Doc):
    drawdown: float = Field(description="driver drawdown")
    collateral_move: float = Field(description="the branch collateral's price move (driver drawdown x beta)")
    troves_liquidated: int
    debt_liquidated_usd: float
    debt_offset_usd: float = Field(description="offset by the Stability Pool (BOLD burned)")
    debt_redistributed_usd: float = Field(description="redistributed to the other troves of the branch")
    sp_left_usd: float
    sp_loss_usd: float = Field(description="debt offset minus the value of the collateral the SP received")
    rounds: int = Field(description="liquidation rounds (redistribution pushing further troves under MCR)")
    tcr_after: float | None = Field(description="branch TCR after the liquidations (None: no debt left)")
    can_shut_down: bool = Field(description="TCR < SCR: BorrowerOperations.shutdown succeeds")


class LiquityRedemptionDoc(_Doc):
    volume_share: float = Field(description="redemption volume as a share of the branch debt")
    volume_usd: float
    troves_hit: int = Field(description="troves redeemed against (lowest interest rate first)")
    highest_rate_hit: float | None = Field(description="annual interest rate of the last trove reached")


class LiquityBranchDoc(_Doc):
    market_id: str
    collateral: str
    price_usd: float
    troves: int
    debt_usd: float
    sp_deposits_usd: float
    tcr: float | None
    mcr: float
    ccr: float
    scr: float
    below_ccr: bool
    shut_down: bool
    unbacked_usd: float = Field(description="branch debt - SP deposits: what CollateralRegistry splits redemptions by")
    redemption_share: float = Field(description="share of a system-wide redemption this branch takes")
    stress: list[LiquityStressDoc]
    redemptions: list[LiquityRedemptionDoc]


def liquity_docs(snapshot: Snapshot, driver: str, betas: Mapping[str, float],
                 drawdowns: Sequence[float]) -> list[LiquityBranchDoc]:
    """One document per Liquity v2 branch of the snapshot (empty when it has none)."""
    markets = {m.id: m for m in snapshot.markets}
    state = snapshot.venue_state.get("liquity_v2")
    branches = [b for b in (state.branches if state is not None else ()) if b.market in markets]
    unbacked = [max(b.branch_debt_wei - b.sp_deposits_wei, 0) for b in branches]
    total_unbacked = sum(unbacked)
    out = []
    for b, unb in zip(branches, unbacked, strict=True):
        m = markets[b.market]
        coll_symbol = next(r.asset for r in m.reserves if r.can_be_collateral)
        beta = 1.0 if coll_symbol == driver else float(betas.get(coll_symbol, 0.0))
        price = b.price_wad / WAD
        coll = np.array([t.entire_coll_wei / WAD for t in b.troves])
        debt = np.array([t.entire_debt_wei / WAD for t in b.troves])
        stake = np.array([t.stake / WAD for t in b.troves])
        rates = np.array([t.annual_interest_rate_wad / WAD for t in b.troves])
        extra_coll = max(b.branch_coll_wei / WAD - coll.sum(), 0.0)
        extra_debt = max(b.branch_debt_wei / WAD - debt.sum(), 0.0)
        fp = BranchFloatParams.from_wad(BranchParams(b.mcr_wad, b.ccr_wad, b.scr_wad, b.penalty_sp_wad,
                                                     b.penalty_redistribution_wad))
        stress = []
        for d in drawdowns:
            move = -beta * d
            o = liquidate_branch(coll, debt, stake, price * (1.0 + move), b.sp_deposits_wei / WAD, fp,
                                 extra_coll=extra_coll, extra_debt=extra_debt)
            stress.append(LiquityStressDoc(
                drawdown=d, collateral_move=move, troves_liquidated=int(o.liquidated.sum()),
                debt_liquidated_usd=o.debt_offset + o.debt_redistributed, debt_offset_usd=o.debt_offset,
                debt_redistributed_usd=o.debt_redistributed, sp_left_usd=o.sp_left, sp_loss_usd=o.sp_loss_bold,
                rounds=o.rounds, tcr_after=o.tcr_after if np.isfinite(o.tcr_after) else None,
                can_shut_down=o.below_scr))
        branch_debt = b.branch_debt_wei / WAD
        # Troves are in redemption order already (SortedTroves from the tail, zombies last).
        active = np.array([t.status == 1 for t in b.troves], dtype=bool)
        expo = redemption_exposure(rates[active], debt[active], [s * branch_debt for s in REDEMPTION_SHARES],
                                   order=list(range(int(active.sum()))))
        redemptions = [LiquityRedemptionDoc(volume_share=s, volume_usd=float(v), troves_hit=int(h),
                                            highest_rate_hit=float(expo.rates[h - 1]) if h else None)
                       for s, v, h in zip(REDEMPTION_SHARES, expo.volumes, expo.troves_hit, strict=True)]
        tcr = b.branch_coll_wei * price / b.branch_debt_wei if b.branch_debt_wei else None
        out.append(LiquityBranchDoc(
            market_id=b.market, collateral=coll_symbol, price_usd=price, troves=len(b.troves), debt_usd=branch_debt,
            sp_deposits_usd=b.sp_deposits_wei / WAD, tcr=tcr, mcr=fp.mcr, ccr=b.ccr_wad / WAD, scr=fp.scr,
            below_ccr=tcr is not None and tcr < b.ccr_wad / WAD, shut_down=b.shutdown_time > 0,
            unbacked_usd=unb / WAD, redemption_share=(unb / total_unbacked) if total_unbacked else 0.0,
            stress=stress, redemptions=redemptions))
    return out


def liquity_section_tables(docs: Sequence[LiquityBranchDoc]) -> tuple[list[str], list[tuple[list[str], list[list[str]]]]]:
    """Paragraphs and tables of the report's Liquity v2 section."""
    def usd(x: float) -> str:
        return f"${x:,.0f}"

    paragraphs = [
        "Per collateral branch (one Market each in the tables above, where the engine assumes the Stability Pool "
        "offsets every liquidated trove). Here the branch model: the SP offsets first (1 BOLD stays in it), the rest "
        "is redistributed to the branch's other troves by stake, which can push them under MCR in further rounds; "
        "a branch whose TCR falls below SCR can be shut down (then only urgent redemptions). Redemptions are "
        "price-independent: they hit the lowest-interest-rate troves first, whatever the price.",
    ]
    tables: list[tuple[list[str], list[list[str]]]] = [(
        ["Branch", "Price", "Troves", "Debt", "SP", "TCR", "MCR / CCR / SCR", "Unbacked", "Redemption share"],
        [[d.market_id, f"${d.price_usd:,.2f}", f"{d.troves:,}", usd(d.debt_usd), usd(d.sp_deposits_usd),
          "—" if d.tcr is None else f"{d.tcr:.0%}" + (" (below CCR)" if d.below_ccr else ""),
          f"{d.mcr:.0%} / {d.ccr:.0%} / {d.scr:.0%}", usd(d.unbacked_usd), f"{d.redemption_share:.0%}"]
         for d in docs])]
    rows = []
    for d in docs:
        for s in d.stress:
            if s.troves_liquidated == 0 and s.drawdown not in (0.1, 0.2, 0.3):
                continue
            rows.append([d.market_id, f"{s.drawdown:.0%}", f"{s.collateral_move:+.0%}", f"{s.troves_liquidated:,}",
                         usd(s.debt_liquidated_usd), usd(s.debt_offset_usd), usd(s.debt_redistributed_usd),
                         usd(s.sp_left_usd), usd(s.sp_loss_usd), str(s.rounds),
                         "—" if s.tcr_after is None else f"{s.tcr_after:.0%}", "yes" if s.can_shut_down else "no"])
    tables.append((["Branch", "Driver", "Collateral", "Troves liquidated", "Debt liquidated", "SP offset",
                    "Redistributed", "SP left", "SP loss", "Rounds", "TCR after", "Can shut down"], rows))
    tables.append((["Branch", "Redemption", "Volume", "Troves hit", "Highest rate hit"],
                   [[d.market_id, f"{r.volume_share:.0%} of debt", usd(r.volume_usd), f"{r.troves_hit:,}",
                     "—" if r.highest_rate_hit is None else f"{r.highest_rate_hit:.2%}"]
                    for d in docs for r in d.redemptions]))
    return paragraphs, tables


class LiquitySectionDoc(_Doc):
    """report.json ``venue_sections.liquity_v2``."""

    branches: list[LiquityBranchDoc] = Field(
        description="Liquity v2 branches: SP exhaustion, redistribution, shutdown, redemptions")


def _build(result: Any) -> LiquitySectionDoc | None:
    """The section of a :class:`liqrisk.report.ReportResult` (None: the snapshot has no Liquity branch)."""
    docs = liquity_docs(result.loaded.snapshot, result.config.driver, result.core.betas, result.config.drawdowns)
    return LiquitySectionDoc(branches=docs) if docs else None


LIQUITY_SECTION = register_report_section(ReportSection(
    "liquity_v2", "Liquity v2 branches", anchor="liquity", doc=LiquitySectionDoc, build=_build,
    render=lambda doc: liquity_section_tables(doc.branches), module=__name__))

__all__ = ["LIQUITY_SECTION", "LiquityBranchDoc", "LiquityRedemptionDoc", "LiquitySectionDoc", "LiquityStressDoc",
           "REDEMPTION_SHARES", "liquity_docs", "liquity_section_tables"]

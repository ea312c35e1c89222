"""The Liquity v2 (BOLD) trove rule (``liquity_v2``), registered with :mod:`risk.rules`, and the
branch state it keeps on the Snapshot (``Snapshot.venue_state["liquity_v2"]``, a :class:`LiquityState`
declared with :mod:`risk.venue_state`).

Math and kernel: :mod:`risk.liquity_v2` (liquity/bold contracts, commit cited there); plain-loop
reference: ``tests/risk/liquity_reference.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from risk.rules import LiquidationRule, register_rule
from risk.venue_state import VenueState, VenueStateType, register_venue_state


def _liquity_v2_kernel(*args: Any, **kwargs: Any) -> Any:
    from risk.liquity_v2 import liquidate_trove_rows_from_book

    return liquidate_trove_rows_from_book(*args, **kwargs)


LIQUITY_V2 = register_rule(LiquidationRule(
    "liquity_v2", "Liquity v2 (BOLD): trove closed below MCR, Stability Pool offset with its penalty, "
    "gas compensation, surplus to the owner", kernel=_liquity_v2_kernel,
    columns=(
        ("liq_threshold", "1 / MCR of the branch"),
        ("liq_bonus", "1 + the Stability Pool liquidation penalty"),
        ("protocol_fee", "unused (0)"),
    ),
    module=__name__,
    reference="tests.risk.liquity_reference:liquidate_position",
))


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class LiquityTrove(_Row):
    """One Liquity v2 trove as its branch's state needs it (``TroveManager.getLatestTroveData`` and
    ``Troves``): the book sees it as the Position ``account`` (the trove id's low 160 bits)."""

    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    trove_id: int = Field(ge=0)
    status: int = Field(ge=0, le=4, description="ITroveManager.Status: 1 active, 4 zombie")
    annual_interest_rate_wad: int = Field(ge=0)
    stake: int = Field(ge=0)
    entire_debt_wei: int = Field(ge=0)
    entire_coll_wei: int = Field(ge=0)
    batch_manager: str | None = None


class LiquityBranch(_Row):
    """A Liquity v2 collateral branch at the block: constants, price, Stability Pool, branch totals and
    its troves in redemption order (SortedTroves from the tail: lowest interest rate first; zombie
    troves, which are not in the list, after them). :mod:`risk.liquity_v2` models it."""

    market: str = Field(description="Market.id")
    mcr_wad: int = Field(gt=0)
    ccr_wad: int = Field(gt=0)
    scr_wad: int = Field(gt=0)
    penalty_sp_wad: int = Field(ge=0)
    penalty_redistribution_wad: int = Field(ge=0)
    price_wad: int = Field(gt=0, description="PriceFeed.fetchPrice at the block (USD per collateral token)")
    sp_deposits_wei: int = Field(ge=0, description="StabilityPool.getTotalBoldDeposits")
    branch_coll_wei: int = Field(ge=0, description="TroveManager.getEntireBranchColl")
    branch_debt_wei: int = Field(ge=0, description="TroveManager.getEntireBranchDebt")
    shutdown_time: int = Field(default=0, ge=0)
    troves: tuple[LiquityTrove, ...] = ()


class LiquityState(VenueState):
    """``Snapshot.venue_state["liquity_v2"]``: every Liquity v2 branch the scan read, in source order."""

    branches: tuple[LiquityBranch, ...] = ()

    @classmethod
    def combine(cls, states: Sequence[VenueState]) -> "LiquityState":
        """Several Liquity deployments in one scan: their branches, in source order."""
        return cls(branches=tuple(b for s in states for b in s.branches))  # type: ignore[attr-defined]


def _from_legacy_field(value: Any) -> dict[str, Any] | None:
    """A snapshot written when the branches were the top-level ``liquity_branches`` field."""
    return {"branches": value} if value else None


LIQUITY_STATE = register_venue_state(VenueStateType(
    "liquity_v2", LiquityState, module=__name__, legacy_field="liquity_branches", from_legacy=_from_legacy_field))

__all__ = ["LIQUITY_STATE", "LIQUITY_V2", "LiquityBranch", "LiquityState", "LiquityTrove"]

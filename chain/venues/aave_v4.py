"""Aave V4 (hub and spokes) as a registered venue (:mod:`chain.venues`): the reader of
:mod:`chain.aave_v4` behind the reader protocol; one Snapshot market per spoke, rule ``aave_v4``
with the spoke's liquidation config as the market's rule parameters.

Prices: an underlying no other source prices gets the spoke oracle's answer (8 decimals USD,
``aave-v4-oracle:<oracle>``), the price the spoke liquidates on. A reserve whose token cannot be
priced or has no decimals is skipped with the positions holding it (the spoke values every
reserve a user holds); so are positions on an older dynamic config key with other parameters.

Accounts: the caller's, keyed by a spoke's address (that spoke) or by the hub's (every spoke of
the entry); otherwise discovered from each spoke's Supply/Borrow events from ``start_block``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chain.aave_v3 import checksum
from chain.aave_v4 import (AaveV4Reader, AaveV4Source, SpokeRef, V4PositionData, V4SpokeData, skipped_position,
                           spoke_event_source)
from chain.markets import address_field
from chain.pricing import UsdPrice, UsdPricing
from chain.venues import AssembleContext, BaseVenueRead, MarketEntryBase, ReadContext, VenueRows, register_venue
from risk.snapshot import Skipped


class AaveV4SpokeEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_\-]+$", description="short name: the market id's suffix")
    address: str

    _check = address_field("address")


class AaveV4MarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "aave_v4"``: a hub and the spokes to read."""

    kind: Literal["aave_v4"]
    hub: str
    spokes: tuple[AaveV4SpokeEntry, ...] = Field(min_length=1)

    _check = address_field("hub")

    @model_validator(mode="after")
    def _unique_spokes(self) -> "AaveV4MarketEntry":
        names = [s.name for s in self.spokes]
        if len(set(names)) != len(names):
            raise ValueError(f"spoke names must be unique (got {names})")
        return self


@dataclass
class AaveV4Read(BaseVenueRead):
    source: AaveV4Source
    spokes: list[tuple[V4SpokeData, list[V4PositionData]]]

    def tokens(self) -> Iterable[str]:
        return sorted({r.underlying for s, _ in self.spokes for r in s.reserves})

    def venue_decimals(self) -> Mapping[str, int]:
        return {r.underlying: r.decimals for s, _ in self.spokes for r in s.reserves}

    def own_prices(self, pricing: UsdPricing) -> None:
        for s, _ in self.spokes:
            for r in s.reserves:
                if r.underlying not in pricing.prices and r.price_problem is None:
                    pricing.prices[r.underlying] = UsdPrice(r.price / 10**8, f"aave-v4-oracle:{s.oracle}")

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        out, src = VenueRows(), self.source
        for spoke, positions in self.spokes:
            market_id = spoke.market_id(src.id)
            if spoke.problem is not None:
                out.skipped.append(Skipped(venue="aave_v4", market=market_id, reason=f"spoke {spoke.spoke} {spoke.problem}"))
                continue
            bad = {r.reserve_id: problem for r in spoke.reserves
                   if (problem := r.price_problem or ctx.prices.problem(r.underlying)) is not None}
            for rid, why in bad.items():
                token = next(r.underlying for r in spoke.reserves if r.reserve_id == rid)
                out.skipped.append(Skipped(venue="aave_v4", market=market_id, asset=token,
                                           reason=f"reserve {ctx.named(token)}: {why}; positions holding it are skipped"))
            kept = V4SpokeData(spoke.name, spoke.spoke, spoke.oracle, spoke.target_health_factor_wad,
                               spoke.health_factor_for_max_bonus_wad, spoke.liquidation_bonus_factor_bps,
                               tuple(r for r in spoke.reserves if r.reserve_id not in bad), spoke.problem)
            if not kept.reserves:
                continue
            out.markets.append(kept.to_market(ctx.symbols, source_id=src.id, name=src.name))
            for p in positions:
                held = [u.reserve_id for u in p.reserves if u.supplied_assets > 0 or u.total_debt > 0]
                if any(rid in bad for rid in held):
                    rid = next(r for r in held if r in bad)
                    out.skipped.append(Skipped(venue="aave_v4", market=market_id, account=p.user,
                                               reason=f"holds reserve {rid}: {bad[rid]}"))
                elif p.stale_config:
                    out.skipped.append(skipped_position(spoke, p, src.id))
                elif any(u.total_debt > 0 for u in p.reserves):
                    out.positions.append(p.to_position(kept, ctx.symbols, src.id))
        return out


def aave_v4_source(value: Any) -> AaveV4Source:
    """An :class:`AaveV4Source`, or a market-file ``aave_v4`` entry."""
    if isinstance(value, AaveV4Source):
        return value
    return AaveV4Source(value.hub, tuple(SpokeRef(s.name, s.address) for s in value.spokes), value.start_block,
                        value.name, value.id)


@register_venue
class AaveV4Venue:
    kind: ClassVar[str] = "aave_v4"
    entry: ClassVar[type] = AaveV4MarketEntry
    source_type: ClassVar[type] = AaveV4Source

    def source_from_entry(self, entry: AaveV4MarketEntry) -> AaveV4Source:
        return aave_v4_source(entry)

    def source_address(self, source: AaveV4Source) -> str:
        return source.hub

    def read(self, source: AaveV4Source, ctx: ReadContext) -> AaveV4Read:
        reader = AaveV4Reader(ctx.transport, source.hub)
        spokes = []
        for ref in source.spokes:
            spoke = reader.read_spoke(ctx.pinned, ref)
            if spoke.problem is not None:
                spokes.append((spoke, []))
                continue
            users = ctx.given_accounts(spoke.spoke)
            if users is None:
                users = ctx.given_accounts(source.hub)
            if users is None:
                users = list(dict.fromkeys(a.account for a in ctx.discover(
                    spoke_event_source(f"{source.id}:{ref.name}", spoke.spoke, source.start_block))))
            spokes.append((spoke, reader.read_positions(ctx.pinned, spoke, users)))
        return AaveV4Read(source, spokes)

    def devnet_entries(self, deployment: Any) -> list[dict[str, Any]]:
        """The devnet market-file entry of the Aave V4 TEST DOUBLE (chain/devnet/deploy_aave_v4.py)."""
        v4 = getattr(deployment, "aave_v4", None)
        if v4 is None:
            return []
        return [{"id": "aave-v4-devnet", "kind": "aave_v4", "name": "Aave V4 double (devnet)", "hub": v4.hub,
                 "spokes": [{"name": s.name, "address": s.spoke} for s in v4.spokes], "start_block": v4.deploy_block,
                 "checked": "Aave V4 TEST DOUBLE (chain/contracts/AaveV4Double.sol) deployed by chain.devnet"}]


__all__ = ["AaveV4MarketEntry", "AaveV4Read", "AaveV4SpokeEntry", "AaveV4Venue", "aave_v4_source"]

"""Compound V3 (Comet) as a registered venue (:mod:`chain.venues`).

Skips: ``getPrice`` reverting for a collateral asset (or the asset unpriced / without decimals):
positions holding it are skipped; for the base token: the whole Comet is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from chain.compound_v3 import CometMarketData, CometPositionData, CometReader
from chain.discovery import comet_source
from chain.markets import address_field
from chain.venues import (AssembleContext, BaseVenueRead, MarketEntryBase, PricingInputs, ReadContext, VenueRows,
                          register_venue)
from chain.venues.aave_v3 import split_positions
from chain.venues.morpho_blue import count
from risk.snapshot import Skipped


class CometMarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "compound_v3"``: one Comet (base asset market)."""

    kind: Literal["compound_v3"]
    address: str

    _check = address_field("address")


@dataclass(frozen=True, slots=True)
class CometSource:
    address: str
    market_id: str | None = None
    name: str | None = None
    start_block: int = 0


@dataclass
class CometRead(BaseVenueRead):
    source: CometSource
    reader: CometReader
    market: CometMarketData
    positions: list[CometPositionData]

    def tokens(self) -> Iterable[str]:
        return [self.market.base_token, *(a.asset for a in self.market.assets)]

    def venue_decimals(self) -> Mapping[str, int]:
        """A Comet asset's ``scale`` / ``baseScale`` (10**decimals)."""
        out: dict[str, int] = {}
        market = self.market
        for token, scale in [(market.base_token, market.base_scale)] + [(a.asset, a.scale) for a in market.assets]:
            digits = len(str(scale)) - 1
            if scale > 0 and 10**digits == scale:
                out.setdefault(token, digits)
        return out

    def pricing_inputs(self) -> PricingInputs:
        return PricingInputs(comets=(self.market,) if self.market.base_price else ())

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        market, out = self.market, VenueRows()
        market_id = self.reader.market_id
        if market.base_price is None or (base_problem := ctx.prices.problem(market.base_token)) is not None:
            why = (f"getPrice(baseTokenPriceFeed {market.base_price_feed}) reverts: Comet cannot value any account"
                   if market.base_price is None else base_problem)
            out.skipped.append(Skipped(venue="compound_v3", market=market_id, asset=market.base_token,
                                       reason=f"{why} ({count(len(self.positions))} not read)"))
            return out
        bad: dict[str, str] = {}
        for a in market.assets:
            if a.price is None:
                bad[a.asset] = f"getPrice({a.price_feed}) reverts (BadPrice): Comet cannot value an account holding it"
            elif (problem := ctx.prices.problem(a.asset)) is not None:
                bad[a.asset] = problem
        kept, dropped = split_positions(self.positions, bad, lambda p: tuple(p.collateral))
        out.skipped += [Skipped(venue="compound_v3", market=market_id, asset=a, reason=f"collateral {ctx.named(a)}: "
                                f"{why}; positions holding it are skipped") for a, why in bad.items()]
        out.skipped += [Skipped(venue="compound_v3", market=market_id, account=p.account, asset=a,
                                reason=f"holds collateral {ctx.named(a)}: {bad[a]}") for p, a in dropped]
        snap_market = market.to_market(ctx.symbols, market_id=market_id, name=self.reader.name)
        bad_symbols = {ctx.symbols[a] for a in bad}
        out.markets.append(snap_market.model_copy(update={
            "reserves": tuple(r for r in snap_market.reserves if r.asset not in bad_symbols)}))
        out.positions += [p.to_position(ctx.symbols, market_id=market_id, base_token=market.base_token) for p in kept]
        return out


@register_venue
class CompoundV3Venue:
    kind: ClassVar[str] = "compound_v3"
    entry: ClassVar[type] = CometMarketEntry
    source_type: ClassVar[type] = CometSource

    def source_from_entry(self, entry: CometMarketEntry) -> CometSource:
        return CometSource(entry.address, entry.id, entry.name, entry.start_block)

    def source_address(self, source: CometSource) -> str:
        return source.address

    def read(self, source: CometSource, ctx: ReadContext) -> CometRead:
        reader = CometReader(ctx.transport, source.address, market_id=source.market_id, name=source.name)
        market = reader.read_market(ctx.pinned)
        users = ctx.given_accounts(source.address)
        if users is None:
            users = [a.account for a in ctx.discover(comet_source(market.comet, source.start_block))]
        return CometRead(source, reader, market,
                         reader.read_positions(ctx.pinned, users, market, include_suppliers=ctx.include_suppliers))


__all__ = ["CometMarketEntry", "CometRead", "CometSource", "CompoundV3Venue"]

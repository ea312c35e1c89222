"""Morpho Blue as a registered venue (:mod:`chain.venues`): one source = one Morpho singleton, every
market created up to the block (or the listed ones), positions grouped by market.

Skips: a market whose oracle reverts or answers 0, or whose IRM reverts
(:attr:`chain.morpho_blue.MorphoMarketData.unreadable_reason`), whose loan token has no USD anchor
or no decimals: the whole market is listed in ``Snapshot.skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar, Literal

from pydantic import Field, field_validator

from chain.discovery import morpho_blue_source
from chain.markets import address_field
from chain.morpho_blue import MorphoBlueReader, MorphoMarketData, MorphoPositionData, snapshot_market_id
from chain.venues import (AssembleContext, BaseVenueRead, MarketEntryBase, PricingInputs, ReadContext, VenueRows,
                          register_venue)
from risk.snapshot import Skipped


class MorphoMarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "morpho_blue"``: the Morpho singleton (at most one per network)."""

    kind: Literal["morpho_blue"]
    address: str
    market_ids: tuple[str, ...] | None = Field(default=None, description="None: every market created")

    _check = address_field("address")

    @field_validator("market_ids")
    @classmethod
    def _ids(cls, ids: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for i in ids or ():
            if len(i) != 66 or not i.startswith("0x"):
                raise ValueError(f"Morpho market id {i!r} must be 0x + 64 hex digits")
        return ids


@dataclass(frozen=True, slots=True)
class MorphoSource:
    """Morpho Blue; ``market_ids`` None = every market created up to the block."""

    address: str
    market_ids: tuple[str, ...] | None = None
    start_block: int = 0


def count(n: int) -> str:
    return f"{n} position" + ("" if n == 1 else "s")


@dataclass
class MorphoRead(BaseVenueRead):
    markets: list[tuple[MorphoMarketData, list[MorphoPositionData]]]

    def tokens(self) -> Iterable[str]:
        return [t for m, _ in self.markets for t in (m.collateral_token, m.loan_token)]

    def venue_decimals(self) -> Mapping[str, int]:
        return {}

    def pricing_inputs(self) -> PricingInputs:
        return PricingInputs(morpho=tuple(m for m, _ in self.markets if m.unreadable_reason is None))

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        out = VenueRows()
        for market, pos in self.markets:
            market_id = snapshot_market_id(market.id)
            reason = (market.unreadable_reason or ctx.pricing.morpho_skipped.get(market.id)
                      or ctx.prices.problem(market.loan_token) or ctx.prices.problem(market.collateral_token))
            if reason is not None:
                pair = f"{ctx.symbols[market.collateral_token]}/{ctx.symbols[market.loan_token]}"
                out.skipped.append(Skipped(venue="morpho_blue", market=market_id,
                                           reason=f"{pair}: {reason} ({count(len(pos))} not read)"))
                continue
            out.markets.append(market.to_market(ctx.symbols))
            out.positions += [p.to_position(market, ctx.symbols) for p in pos]
        return out


@register_venue
class MorphoBlueVenue:
    kind: ClassVar[str] = "morpho_blue"
    entry: ClassVar[type] = MorphoMarketEntry
    source_type: ClassVar[type] = MorphoSource

    def source_from_entry(self, entry: MorphoMarketEntry) -> MorphoSource:
        return MorphoSource(entry.address, entry.market_ids, entry.start_block)

    def source_address(self, source: MorphoSource) -> str:
        return source.address

    def read(self, source: MorphoSource, ctx: ReadContext) -> MorphoRead:
        reader = MorphoBlueReader(ctx.transport, source.address, market_ids=source.market_ids,
                                  start_block=source.start_block)
        given = ctx.given_accounts(source.address)
        per_market: Mapping[str, Iterable[str]] | Iterable[str]
        if given is not None:
            markets = reader.read_markets(ctx.pinned)
            per_market = given
        else:
            found = ctx.discover(morpho_blue_source(reader.address, source.start_block))
            ids = source.market_ids or tuple(a.account.lower() for a in found if a.event == "CreateMarket")
            markets = reader.read_markets(ctx.pinned, ids)
            grouped: dict[str, list[str]] = {}
            for a in found:
                if a.event != "CreateMarket":
                    grouped.setdefault(a.group.lower(), []).append(a.account)
            per_market = grouped
        positions = reader.read_positions(ctx.pinned, markets, per_market)
        return MorphoRead([(m, [p for p in positions if p.market_id == m.id]) for m in markets])


__all__ = ["MorphoBlueVenue", "MorphoMarketEntry", "MorphoRead", "MorphoSource", "count"]

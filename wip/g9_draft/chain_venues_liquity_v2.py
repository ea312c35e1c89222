"""Liquity v2 (BOLD) as a registered venue (:mod:`chain.venues`): the reader of :mod:`chain.liquity_v2`
(troves from each branch's TroveManager ``TroveIds`` at the pinned block, no event scan) behind the
reader protocol.

Prices: a collateral no other source prices gets the price its branch liquidates at
(``PriceFeed.fetchPrice``, source ``liquity-feed:<feed>``); BOLD gets 1 USD (``liquity-bold``: the
protocol's own accounting unit). A branch whose collateral or BOLD cannot be priced or has no
decimals is listed in ``Snapshot.skipped``. The branch state (SP, TCR, redemption order) goes into
``Snapshot.liquity_branches`` for the report's Liquity section.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from chain.aave_v3 import checksum
from chain.liquity_v2 import LiquityRead, LiquitySource, branch_state, read_liquity
from chain.markets import address_field
from chain.pricing import UsdPrice, UsdPricing
from chain.venues import AssembleContext, BaseVenueRead, MarketEntryBase, ReadContext, VenueRows, register_venue
from risk.snapshot import Skipped


class LiquityMarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "liquity_v2"``: the BOLD token and one AddressesRegistry per branch
    (liquity/bold ``contracts/addresses/<chain id>.json``)."""

    kind: Literal["liquity_v2"]
    bold: str
    registries: tuple[str, ...] = Field(min_length=1, description="AddressesRegistry of each collateral branch")

    _check = address_field("bold", "registries")


@dataclass
class LiquityVenueRead(BaseVenueRead):
    read: LiquityRead

    @property
    def bold(self) -> str:
        return checksum(self.read.source.bold, "BOLD")

    def tokens(self) -> Iterable[str]:
        return sorted(self.read.tokens())

    def own_prices(self, pricing: UsdPricing) -> None:
        for b, _ in self.read.branches:
            if b.coll_token not in pricing.prices:
                pricing.prices[b.coll_token] = UsdPrice(b.price_wad / 10**18, f"liquity-feed:{b.price_feed}")
        if self.bold not in pricing.prices:
            pricing.prices[self.bold] = UsdPrice(1.0, "liquity-bold")

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        out, bold = VenueRows(), self.bold
        for b, troves in self.read.branches:
            reason = ctx.prices.problem(b.coll_token) or ctx.prices.problem(bold)
            market_id = b.market_id(ctx.symbols[b.coll_token])
            if reason is not None:
                out.skipped.append(Skipped(venue="liquity_v2", market=market_id, asset=b.coll_token,
                                           reason=f"{reason} ({len(troves)} troves not read)"))
                continue
            out.markets.append(b.to_market(ctx.symbols, bold=bold, name=self.read.source.name))
            out.positions += [t.to_position(market_id, ctx.symbols[b.coll_token], ctx.symbols[bold]) for t in troves
                              if t.entire_debt_wei > 0]
            out.liquity_branches.append(branch_state(b, troves, market_id))
        return out


def liquity_source(value: Any) -> LiquitySource:
    if isinstance(value, LiquitySource):
        return value
    return LiquitySource(value.bold, tuple(value.registries), value.start_block, value.name)


@register_venue
class LiquityV2Venue:
    kind: ClassVar[str] = "liquity_v2"
    entry: ClassVar[type] = LiquityMarketEntry
    source_type: ClassVar[type] = LiquitySource

    def source_from_entry(self, entry: LiquityMarketEntry) -> LiquitySource:
        return liquity_source(entry)

    def source_address(self, source: LiquitySource) -> str:
        return source.registries[0]

    def read(self, source: LiquitySource, ctx: ReadContext) -> LiquityVenueRead:
        return LiquityVenueRead(read_liquity(ctx.transport, ctx.pinned, source))


__all__ = ["LiquityMarketEntry", "LiquityV2Venue", "LiquityVenueRead", "liquity_source"]

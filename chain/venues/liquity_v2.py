"""Liquity v2 (BOLD) as a registered venue (:mod:`chain.venues`): the branch reader of
:mod:`chain.liquity_v2` behind the reader protocol (troves are discovered from each TroveManager's
trove ids at the block, not from events; caller-given accounts do not apply).

Prices: a branch's collateral that no other source prices gets the branch PriceFeed's answer at
the block (``liquity-feed:<feed>``); BOLD is 1 USD (``liquity-bold``, the protocol's unit). A branch
whose collateral or BOLD cannot be priced is listed in ``Snapshot.skipped``. Each branch's state
(Stability Pool, totals, troves in redemption order) goes into ``Snapshot.venue_state["liquity_v2"]`` (:class:`risk.venues.liquity_v2.LiquityState`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from chain.aave_v3 import checksum
from chain.liquity_v2 import LiquityRead, LiquitySource, branch_state, read_liquity
from chain.markets import _address, address_field
from chain.pricing import UsdPrice, UsdPricing
from chain.venues import AssembleContext, BaseVenueRead, MarketEntryBase, ReadContext, VenueRows, register_venue
from chain.venues.morpho_blue import count
from risk.snapshot import Skipped
from risk.venues.liquity_v2 import LiquityState


class LiquityMarketEntry(MarketEntryBase):
    """Liquity v2 (BOLD): the BOLD token and one AddressesRegistry per collateral branch (liquity/bold
    ``contracts/addresses/<chain id>.json``); troves are discovered from each TroveManager's TroveIds."""

    kind: Literal["liquity_v2"]
    bold: str
    registries: tuple[str, ...] = Field(min_length=1, description="AddressesRegistry of each branch")

    _check = address_field("bold")
    _check_registries = field_validator("registries")(classmethod(lambda cls, v: tuple(_address(r) for r in v)))


@dataclass
class LiquityVenueRead(BaseVenueRead):
    read_: LiquityRead

    @property
    def bold(self) -> str:
        return checksum(self.read_.source.bold, "BOLD")

    def tokens(self) -> Iterable[str]:
        return self.read_.tokens()

    def own_prices(self, pricing: UsdPricing) -> None:
        for b, _ in self.read_.branches:  # the price each branch liquidates at; BOLD at 1 USD
            if b.coll_token not in pricing.prices:
                pricing.prices[b.coll_token] = UsdPrice(b.price_wad / 10**18, f"liquity-feed:{b.price_feed}")
        if self.bold not in pricing.prices:
            pricing.prices[self.bold] = UsdPrice(1.0, "liquity-bold")

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        out, bold = VenueRows(), self.bold
        branches = []
        for b, troves in self.read_.branches:
            reason = ctx.prices.problem(b.coll_token) or ctx.prices.problem(bold)
            market_id = b.market_id(ctx.symbols[b.coll_token])
            if reason is not None:
                out.skipped.append(Skipped(venue="liquity_v2", market=market_id, asset=b.coll_token,
                                           reason=f"{reason} ({count(len(troves))} not read)"))
                continue
            out.markets.append(b.to_market(ctx.symbols, bold=bold, name=self.read_.source.name))
            out.positions += [t.to_position(market_id, ctx.symbols[b.coll_token], ctx.symbols[bold]) for t in troves
                              if t.entire_debt_wei > 0]
            branches.append(branch_state(b, troves, market_id))
        if branches:
            out.venue_state["liquity_v2"] = LiquityState(branches=tuple(branches))
        return out


def liquity_source(value: Any) -> LiquitySource:
    """A :class:`LiquitySource`, or a market-file ``liquity_v2`` entry."""
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
        return source.bold

    def read(self, source: LiquitySource, ctx: ReadContext) -> LiquityVenueRead:
        return LiquityVenueRead(read_liquity(ctx.transport, ctx.pinned, source))

    def devnet_entries(self, deployment: Any) -> list[dict[str, Any]]:
        """The devnet market-file entry of the Liquity v2 TEST DOUBLE (chain/devnet/deploy_liquity.py)."""
        liquity = getattr(deployment, "liquity", None)
        if liquity is None:
            return []
        return [{"id": "liquity-devnet", "kind": "liquity_v2", "name": "Liquity v2 double (devnet)",
                 "bold": liquity.bold, "registries": [b.addresses_registry for b in liquity.branches],
                 "start_block": liquity.deploy_block,
                 "checked": "Liquity v2 TEST DOUBLE (chain/contracts/LiquityV2Double.sol) deployed by chain.devnet"}]


__all__ = ["LiquityMarketEntry", "LiquityV2Venue", "LiquityVenueRead", "liquity_source"]

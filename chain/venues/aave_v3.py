"""Aave V3 / SparkLend as a registered venue (:mod:`chain.venues`): the :class:`chain.aave_v3.AaveV3Reader`
behind the reader protocol, and the snapshot rows with the scan's per-reserve skip rules.

Skips (see :mod:`chain.scan`): an AaveOracle that reverts or answers 0 for a reserve, or a reserve
token that cannot be priced or has no decimals: ``GenericLogic.calculateUserAccountData`` prices
every reserve a user holds, so the reserve and the positions holding it are skipped. Paused or
frozen reserves are read and flagged (``Reserve.paused`` / ``Reserve.frozen``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field

from chain.aave_v3 import AaveMarketData, AavePositionData, AaveV3Reader, checksum
from chain.discovery import aave_pool_source
from chain.markets import address_field
from chain.venues import (AssembleContext, BaseVenueRead, MarketEntryBase, PricingInputs, ReadContext, VenueRows,
                          register_venue)
from risk.snapshot import Skipped

log = logging.getLogger(__name__)


class AaveMarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "aave_v3"`` (Aave V3 and its forks, e.g. SparkLend)."""

    kind: Literal["aave_v3"]
    address: str = Field(description="PoolAddressesProvider (or Pool)")

    _check = address_field("address")


@dataclass(frozen=True, slots=True)
class AaveSource:
    """An Aave V3 / Spark pool (or its PoolAddressesProvider) to read."""

    address: str
    market_id: str = "aave-v3"
    name: str = "Aave V3"
    start_block: int = 0


def split_positions(positions: Iterable[Any], bad: Mapping[str, str], held: Any) -> tuple[list[Any], list[tuple[Any, str]]]:
    """(positions holding none of ``bad``, [(position, first bad asset it holds)])."""
    if not bad:
        return list(positions), []
    kept, dropped = [], []
    for p in positions:
        hit = next((a for a in held(p) if a in bad), None)
        if hit is None:
            kept.append(p)
        else:
            dropped.append((p, hit))
    return kept, dropped


@dataclass
class AaveRead(BaseVenueRead):
    source: AaveSource
    market: AaveMarketData
    positions: list[AavePositionData]

    def tokens(self) -> Iterable[str]:
        return [r.asset for r in self.market.reserves]

    def venue_decimals(self) -> Mapping[str, int]:
        """The reserve configuration's decimals (set at listing; what the Pool's math uses)."""
        return {r.asset: r.config.decimals for r in self.market.reserves}

    def pricing_inputs(self) -> PricingInputs:
        return PricingInputs(aave=((self.source.market_id, self.market),))

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        src, market, out = self.source, self.market, VenueRows()
        bad: dict[str, str] = {}
        for r in market.reserves:
            if r.price_base is None:
                bad[r.asset] = "AaveOracle getAssetPrice reverts: the Pool cannot value (nor liquidate) a position holding it"
            elif r.price_base == 0:
                bad[r.asset] = "AaveOracle price is 0"
            elif (problem := ctx.prices.problem(r.asset)) is not None:
                bad[r.asset] = problem
        kept, dropped = split_positions(self.positions, bad, lambda p: (*p.collateral, *p.debt))
        out.skipped += [Skipped(venue=market.venue, market=src.market_id, asset=a, reason=f"reserve {ctx.named(a)}: "
                                f"{why}; positions holding it are skipped") for a, why in bad.items()]
        out.skipped += [Skipped(venue=market.venue, market=src.market_id, account=p.account, asset=a,
                                reason=f"holds reserve {ctx.named(a)}: {bad[a]}") for p, a in dropped]
        if len(bad) == len(market.reserves):
            return out
        symbols = ctx.symbols
        snap_market = market.to_market(symbols, market_id=src.market_id, name=src.name)
        flags = {symbols[r.asset]: (r.config.paused, r.config.frozen) for r in market.reserves if r.asset not in bad}
        for symbol, (paused, frozen) in flags.items():
            if paused or frozen:
                log.warning("Aave market %s: reserve %s is %s; its positions are read (it still counts in the health "
                            "factor)%s", src.market_id, symbol, "paused" if paused else "frozen",
                            "; liquidationCall reverts for it while paused" if paused else "")
        out.markets.append(snap_market.model_copy(update={
            "reserves": tuple(r.model_copy(update={"paused": flags[r.asset][0], "frozen": flags[r.asset][1]})
                              for r in snap_market.reserves if r.asset in flags),
            "emode_categories": tuple(c.model_copy(update={"collateral_assets": tuple(a for a in c.collateral_assets
                                                                                      if a in flags)})
                                      for c in snap_market.emode_categories),
        }))
        out.positions += [p.to_position(symbols, market_id=src.market_id) for p in kept]
        return out


@register_venue
class AaveV3Venue:
    kind: ClassVar[str] = "aave_v3"
    entry: ClassVar[type] = AaveMarketEntry
    source_type: ClassVar[type] = AaveSource

    def source_from_entry(self, entry: AaveMarketEntry) -> AaveSource:
        return AaveSource(entry.address, entry.id, entry.name, entry.start_block)

    def source_address(self, source: AaveSource) -> str:
        return source.address

    def read(self, source: AaveSource, ctx: ReadContext) -> AaveRead:
        reader = AaveV3Reader(ctx.transport, source.address, market_id=source.market_id, name=source.name)
        market = reader.read_market(ctx.pinned)
        users = ctx.given_accounts(source.address)
        if users is None:
            found = ctx.discover(aave_pool_source(market.pool, source.start_block, name=source.market_id))
            users = [a.account for a in found]
        return AaveRead(source, market, reader.read_positions(ctx.pinned, users, market,
                                                              include_suppliers=ctx.include_suppliers))


__all__ = ["AaveMarketEntry", "AaveRead", "AaveSource", "AaveV3Venue", "split_positions"]

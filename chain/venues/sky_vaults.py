"""Sky/Maker vaults as a registered venue (:mod:`chain.venues`): the dss reader of
:mod:`chain.sky_vaults` behind the reader protocol.

Prices: a gem no other source prices gets the price the Vat liquidates on (``spot * mat * par``,
source ``sky-spot:<ILK>``); DAI gets ``par`` (``sky-par``). An ilk whose gem or DAI cannot be priced
or has no decimals is listed in ``Snapshot.skipped``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chain.aave_v3 import checksum
from chain.markets import address_field
from chain.pricing import UsdPrice, UsdPricing
from chain.sky_vaults import SkyIlk, SkyIlkData, SkySource, SkyUrnData, SkyVaultReader, ilk_market, ilk_name, sky_vat_source
from chain.venues import AssembleContext, BaseVenueRead, MarketEntryBase, ReadContext, VenueRows, register_venue
from risk.snapshot import Skipped


class SkyIlkEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=32, pattern=r"^[ -~]+$")
    gem: str

    _check = address_field("gem")


class SkyMarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "sky_vaults"``: a dss deployment and the ilks to read."""

    kind: Literal["sky_vaults"]
    vat: str
    spotter: str
    dog: str
    dai: str = Field(description="the DAI token (the debt asset's address in the snapshot)")
    ilks: tuple[SkyIlkEntry, ...] = Field(min_length=1)

    _check = address_field("vat", "spotter", "dog", "dai")

    @model_validator(mode="after")
    def _unique_ilks(self) -> "SkyMarketEntry":
        names = [i.name for i in self.ilks]
        if len(set(names)) != len(names):
            raise ValueError(f"ilk names must be unique (got {names})")
        return self


@dataclass
class SkyRead(BaseVenueRead):
    source: SkySource
    ilks: list[SkyIlkData]
    urns: list[SkyUrnData]

    @property
    def dai(self) -> str:
        return checksum(self.source.dai, "Sky DAI")

    def tokens(self) -> Iterable[str]:
        return [self.dai, *(i.gem for i in self.ilks)]

    def own_prices(self, pricing: UsdPricing) -> None:
        for i in self.ilks:  # the price the Vat liquidates on; DAI at par
            if i.spot_ray > 0 and i.gem not in pricing.prices:
                pricing.prices[i.gem] = UsdPrice(i.price_usd(), f"sky-spot:{i.name}")
            if self.dai not in pricing.prices:
                pricing.prices[self.dai] = UsdPrice(i.par_ray / 10**27, "sky-par")

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        out, dai, src = VenueRows(), self.dai, self.source
        decimals = {t: d for t, d in ctx.prices.decimals.items() if d is not None}
        for i in self.ilks:
            reason = ctx.prices.problem(i.gem) or ctx.prices.problem(dai)
            if reason is not None:
                out.skipped.append(Skipped(venue="sky_vault", market=i.name, asset=i.gem, reason=reason))
                continue
            out.markets.append(ilk_market(i, ctx.symbols, dai=dai, vat=src.vat, name=src.name))
            out.positions += [u.to_position(i, ctx.symbols, decimals, dai=dai) for u in self.urns if u.ilk == i.name]
        return out


def sky_source(value: Any) -> SkySource:
    """A :class:`SkySource`, or a market-file ``sky_vaults`` entry."""
    if isinstance(value, SkySource):
        return value
    return SkySource(value.vat, value.spotter, value.dog, value.dai, tuple(SkyIlk(i.name, i.gem) for i in value.ilks),
                     value.start_block, value.name)


@register_venue
class SkyVaultsVenue:
    kind: ClassVar[str] = "sky_vaults"
    entry: ClassVar[type] = SkyMarketEntry
    source_type: ClassVar[type] = SkySource

    def source_from_entry(self, entry: SkyMarketEntry) -> SkySource:
        return sky_source(entry)

    def source_address(self, source: SkySource) -> str:
        return source.vat

    def read(self, source: SkySource, ctx: ReadContext) -> SkyRead:
        reader = SkyVaultReader(ctx.transport, vat=source.vat, spotter=source.spotter, dog=source.dog, ilks=source.ilks)
        ilks = reader.read_market(ctx.pinned)
        given = ctx.given_accounts(source.vat)
        urns: dict[str, list[str]] = {}
        if given is not None:
            urns = {i.name: list(given) for i in ilks}
        else:
            for a in ctx.discover(sky_vat_source(reader.vat, source.start_block)):
                urns.setdefault(ilk_name(a.group), []).append(a.account)
        return SkyRead(source, ilks, reader.read_positions(ctx.pinned, urns))

    def devnet_entries(self, deployment: Any) -> list[dict[str, Any]]:
        """The devnet market-file entry of the dss TEST DOUBLE (chain/devnet/deploy_maker.py)."""
        sky = getattr(deployment, "sky", None)
        if sky is None:
            return []
        return [{"id": "sky-devnet", "kind": "sky_vaults", "name": "Sky double (devnet)", "vat": sky.vat,
                 "spotter": sky.spotter, "dog": sky.dog, "dai": sky.dai, "start_block": sky.deploy_block,
                 "ilks": [{"name": i.name, "gem": i.gem} for i in sky.ilks],
                 "checked": "dss TEST DOUBLE (chain/contracts/DssDouble.sol) deployed by chain.devnet"}]


__all__ = ["SkyIlkEntry", "SkyMarketEntry", "SkyRead", "SkyVaultsVenue", "sky_source"]

"""Euler v2 (EVK vaults through the EVC) as a registered venue (:mod:`chain.venues`): the reader of
:mod:`chain.euler_v2` behind the reader protocol.

Market-file entry ``kind = "euler_v2"``: the EVC and the controller vaults to scan (each vault's
recognised collaterals come from its ``LTVList``). ``accounts`` given to a scan may be keyed by a
vault (its accounts) or by the EVC (one list for every vault); otherwise borrowers are discovered
from the EVC's ``ControllerStatus`` events. Prices: a token no other source prices gets the vault
oracle's quote when the vault's unit of account is USD (``euler-oracle:<vault>``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from chain.euler_v2 import EulerRead, EulerSource, EulerV2Reader, _word, euler_evc_source, euler_snapshot_parts
from chain.markets import _address, address_field
from chain.pricing import UsdPrice, UsdPricing
from chain.venues import AssembleContext, BaseVenueRead, MarketEntryBase, ReadContext, VenueRows, register_venue


class EulerMarketEntry(MarketEntryBase):
    """Market-file entry ``kind = "euler_v2"``: the EVC and the EVK controller vaults whose borrowers
    are scanned (each vault's recognised collaterals are read from its LTVList)."""

    kind: Literal["euler_v2"]
    evc: str
    vaults: tuple[str, ...] = Field(min_length=1, description="EVK controller vaults whose borrowers are scanned")

    _check = address_field("evc")

    @field_validator("vaults")
    @classmethod
    def _vault_addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_address(a) for a in v)

    @model_validator(mode="after")
    def _unique_vaults(self) -> "EulerMarketEntry":
        if len(set(self.vaults)) != len(self.vaults):
            raise ValueError(f"vaults must be unique (got {list(self.vaults)})")
        return self


@dataclass
class EulerVenueRead(BaseVenueRead):
    read: EulerRead

    def tokens(self) -> Iterable[str]:
        return sorted(self.read.tokens())

    def own_prices(self, pricing: UsdPricing) -> None:
        for token, (usd, source) in self.read.usd_prices().items():  # USD-quoted vault oracles
            if token not in pricing.prices:
                pricing.prices[token] = UsdPrice(usd, source)

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        markets, positions, skipped = euler_snapshot_parts(self.read, ctx.symbols, ctx.prices.problem)
        return VenueRows(markets, positions, skipped)


def euler_source(value: Any) -> EulerSource:
    """An :class:`EulerSource`, or a market-file ``euler_v2`` entry."""
    if isinstance(value, EulerSource):
        return value
    return EulerSource(value.evc, tuple(value.vaults), value.start_block, value.name)


@register_venue
class EulerV2Venue:
    kind: ClassVar[str] = "euler_v2"
    entry: ClassVar[type] = EulerMarketEntry
    source_type: ClassVar[type] = EulerSource

    def source_from_entry(self, entry: EulerMarketEntry) -> EulerSource:
        return euler_source(entry)

    def source_address(self, source: EulerSource) -> str:
        return source.evc

    def read(self, source: EulerSource, ctx: ReadContext) -> EulerVenueRead:
        reader = EulerV2Reader(ctx.transport, evc=source.evc, vaults=source.vaults)
        vaults = reader.read_vaults(ctx.pinned)
        for_evc = ctx.given_accounts(reader.evc)
        per_vault = {v: ctx.given_accounts(v) for v in reader.vaults}
        if for_evc is not None or any(a is not None for a in per_vault.values()):
            accounts = {v: list(given if (given := per_vault[v]) is not None else for_evc or []) for v in reader.vaults}
        else:  # borrowers: accounts that enabled the vault as controller up to the block
            wanted = {_word(v): v for v in reader.vaults}
            accounts = {v: [] for v in reader.vaults}
            for a in ctx.discover(euler_evc_source(reader.evc, source.start_block)):
                vault = wanted.get(a.group.lower())
                if vault is not None:
                    accounts[vault].append(a.account)
        rows = reader.read_accounts(ctx.pinned, vaults, accounts, include_empty=ctx.include_suppliers)
        return EulerVenueRead(EulerRead(source, tuple(vaults), tuple(rows)))

    def devnet_entries(self, deployment: Any) -> list[dict[str, Any]]:
        """The devnet market-file entry of the EVC/EVK TEST DOUBLE (chain/devnet/deploy_euler.py)."""
        euler = getattr(deployment, "euler", None)
        if euler is None:
            return []
        return [{"id": "euler-devnet", "kind": "euler_v2", "name": "Euler double (devnet)", "evc": euler.evc,
                 "vaults": [v.address for v in euler.vaults], "start_block": euler.deploy_block,
                 "checked": "EVC/EVK TEST DOUBLE (chain/contracts/EulerDouble.sol) deployed by chain.devnet"}]


__all__ = ["EulerMarketEntry", "EulerV2Venue", "EulerVenueRead", "euler_source"]

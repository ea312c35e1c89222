"""Build a :class:`risk.snapshot.Snapshot` of several lending venues at one pinned block.

``scan_snapshot`` pins the block once (:func:`chain.blocks.pin_block`), discovers accounts
from events up to that block (:mod:`chain.discovery`, into an SQLite :class:`AccountIndex`)
unless they are given, reads every venue at that block through Multicall3 and assembles
Assets, Markets and Positions. Because every read names the block number and discovery keeps
only accounts first seen at or before it, the same block gives the same Snapshot later, after
more blocks and price moves.

Asset USD prices (``Asset.price_usd``, float) come, in order, from: an Aave oracle with USD base
(``BASE_CURRENCY == address(0)``): ``price / BASE_CURRENCY_UNIT``; a Comet's ``getPrice`` scaled
by its base token's USD price (or read as USD when the base token has none — true for
USD-numeraire Comets, not for cWETHv3); a Morpho oracle from the other asset of its market.
Markets whose assets still have no positive price are left out with a warning.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.aave_v3 import AaveMarketData, AavePositionData, AaveV3Reader, ReaderError, checksum, read_token_metadata
from chain.blocks import PinnedBlock, pin_block
from chain.compound_v3 import PRICE_UNIT as COMET_PRICE_UNIT
from chain.compound_v3 import CometMarketData, CometPositionData, CometReader
from chain.discovery import AccountIndex, LogScanner, aave_pool_source, comet_source, morpho_blue_source
from chain.morpho_blue import MorphoBlueReader, MorphoMarketData, MorphoPositionData
from chain.transport import Transport
from risk.snapshot import Asset, Market, Position, Snapshot

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True, slots=True)
class AaveSource:
    """An Aave V3 / Spark pool (or its PoolAddressesProvider) to read."""

    address: str
    market_id: str = "aave-v3"
    name: str = "Aave V3"
    start_block: int = 0


@dataclass(frozen=True, slots=True)
class MorphoSource:
    """Morpho Blue; ``market_ids`` None = every market created up to the block."""

    address: str
    market_ids: tuple[str, ...] | None = None
    start_block: int = 0


@dataclass(frozen=True, slots=True)
class CometSource:
    address: str
    market_id: str | None = None
    name: str | None = None
    start_block: int = 0


@dataclass
class _Venues:
    aave: list[tuple[AaveSource, AaveMarketData, list[AavePositionData]]] = field(default_factory=list)
    morpho: list[tuple[MorphoMarketData, list[MorphoPositionData]]] = field(default_factory=list)
    comet: list[tuple[CometSource, CometReader, CometMarketData, list[CometPositionData]]] = field(default_factory=list)


def _as_source(value, cls):
    return value if isinstance(value, cls) else cls(value)


def scan_snapshot(
    transport: Transport,
    *,
    block: PinnedBlock | int | str = "latest",
    aave_pools: Sequence[AaveSource | str] = (),
    morpho: MorphoSource | str | None = None,
    comets: Sequence[CometSource | str] = (),
    accounts: Mapping[str, Iterable[str]] | None = None,
    accounts_index: AccountIndex | str | Path | None = None,
    include_suppliers: bool = False,
    uniswap_pools: Sequence[str] = (),
) -> Snapshot:
    """Read the given venues at one block and return the Snapshot.

    ``block``: a :class:`PinnedBlock`, a number or a tag (resolved once).
    ``accounts``: optional accounts per venue, keyed by the source ``address`` as given (for
    Morpho one list for all its markets); venues not in it are discovered from events.
    ``accounts_index``: the SQLite index for discovery (an :class:`AccountIndex` or a path;
    default a temporary one, i.e. a full scan from each source's ``start_block``).
    ``include_suppliers``: also keep accounts without debt.
    ``uniswap_pools``: Uniswap v3 pool addresses to read at the same block into
    ``Snapshot.pools`` (:mod:`chain.uniswap_v3`; the on-chain liquidity model reads them).
    """
    pinned = block if isinstance(block, PinnedBlock) else pin_block(transport, block)
    given = {checksum(k, "accounts key"): list(v) for k, v in (accounts or {}).items()}
    with _Index(accounts_index) as index:
        venues = _read_venues(transport, pinned, [_as_source(a, AaveSource) for a in aave_pools],
                              _as_source(morpho, MorphoSource) if morpho is not None else None,
                              [_as_source(c, CometSource) for c in comets], given, index, include_suppliers)
    snapshot = _assemble(transport, pinned, venues)
    if uniswap_pools:
        from chain.uniswap_v3 import read_pools

        symbols = {a.address: a.symbol for a in snapshot.assets}
        snapshot = snapshot.model_copy(update={"pools": read_pools(transport, pinned, uniswap_pools, symbols)})
    return snapshot


class _Index:
    """The AccountIndex to use: the caller's, one at a path, or a temporary one."""

    def __init__(self, spec: AccountIndex | str | Path | None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._owned = not isinstance(spec, AccountIndex)
        if isinstance(spec, AccountIndex):
            self.index = spec
        elif spec is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="liqrisk-accounts-")
            self.index = AccountIndex(Path(self._tmp.name) / "accounts.sqlite")
        else:
            self.index = AccountIndex(spec)

    def __enter__(self) -> AccountIndex:
        return self.index

    def __exit__(self, *exc: object) -> None:
        if self._owned:
            self.index.close()
        if self._tmp is not None:
            self._tmp.cleanup()


def _discover(transport: Transport, index: AccountIndex, source, pinned: PinnedBlock):
    LogScanner(index).scan(transport, source, pinned)
    return index.accounts(transport.chain_id, source, up_to_block=pinned.number)


def _read_venues(transport, pinned, aave_sources, morpho_source, comet_sources, given, index, include_suppliers) -> _Venues:
    venues = _Venues()
    for src in aave_sources:
        reader = AaveV3Reader(transport, src.address, market_id=src.market_id, name=src.name)
        market = reader.read_market(pinned)
        key = checksum(src.address, "Aave source")
        if key in given:
            users = given[key]
        else:
            found = _discover(transport, index, aave_pool_source(market.pool, src.start_block, name=src.market_id), pinned)
            users = [a.account for a in found]
        venues.aave.append((src, market, reader.read_positions(pinned, users, market, include_suppliers=include_suppliers)))
    if morpho_source is not None:
        reader_m = MorphoBlueReader(transport, morpho_source.address, market_ids=morpho_source.market_ids,
                                    start_block=morpho_source.start_block)
        key = checksum(morpho_source.address, "Morpho source")
        if key in given:
            markets = reader_m.read_markets(pinned)
            per_market: Mapping[str, Iterable[str]] | Iterable[str] = given[key]
        else:
            found = _discover(transport, index, morpho_blue_source(reader_m.address, morpho_source.start_block), pinned)
            ids = morpho_source.market_ids or tuple(a.account.lower() for a in found if a.event == "CreateMarket")
            markets = reader_m.read_markets(pinned, ids)
            grouped: dict[str, list[str]] = {}
            for a in found:
                if a.event != "CreateMarket":
                    grouped.setdefault(a.group.lower(), []).append(a.account)
            per_market = grouped
        positions = reader_m.read_positions(pinned, markets, per_market)
        for market in markets:
            venues.morpho.append((market, [p for p in positions if p.market_id == market.id]))
    for src in comet_sources:
        reader_c = CometReader(transport, src.address, market_id=src.market_id, name=src.name)
        market_c = reader_c.read_market(pinned)
        key = checksum(src.address, "Comet source")
        if key in given:
            users = given[key]
        else:
            found = _discover(transport, index, comet_source(market_c.comet, src.start_block), pinned)
            users = [a.account for a in found]
        venues.comet.append((src, reader_c, market_c,
                             reader_c.read_positions(pinned, users, market_c, include_suppliers=include_suppliers)))
    return venues


def _unique_symbols(meta) -> dict[str, str]:
    """Asset address -> unique symbol (clashes get ``-<address prefix>``)."""
    counts: dict[str, int] = {}
    for m in meta.values():
        counts[m.symbol] = counts.get(m.symbol, 0) + 1
    return {a: (m.symbol if counts[m.symbol] == 1 else f"{m.symbol}-{a[2:8].lower()}") for a, m in meta.items()}


def _usd_prices(venues: _Venues, decimals: Mapping[str, int]) -> dict[str, float]:
    usd: dict[str, float] = {}
    for _, market, _ in venues.aave:
        if market.base_currency != ZERO_ADDRESS:
            log.warning("Aave oracle %s has base currency %s, not USD: its prices are not used for USD", market.oracle,
                        market.base_currency)
            continue
        for r in market.reserves:
            if r.price_base > 0:
                usd.setdefault(r.asset, r.price_base / market.base_currency_unit)
    changed = True
    while changed:
        changed = False
        for market in (m for m, _ in venues.morpho):
            price = market.oracle_price_1e36
            if not price:
                continue
            coll, loan = market.collateral_token, market.loan_token
            in_loan = price / 1e36 * 10 ** (decimals[coll] - decimals[loan])  # loan tokens per collateral token
            if coll not in usd and loan in usd:
                usd[coll] = in_loan * usd[loan]
                changed = True
            elif loan not in usd and coll in usd and in_loan > 0:
                usd[loan] = usd[coll] / in_loan
                changed = True
    for _, _, market, _ in venues.comet:
        base_usd = usd.get(market.base_token)
        numeraire_usd = base_usd / (market.base_price / COMET_PRICE_UNIT) if base_usd and market.base_price else 1.0
        if base_usd is None:
            log.info("Comet %s: base token has no other USD price; reading its getPrice numeraire as USD", market.comet)
            if market.base_price > 0:
                usd[market.base_token] = market.base_price / COMET_PRICE_UNIT
        for a in market.assets:
            if a.asset not in usd and a.price > 0:
                usd[a.asset] = a.price / COMET_PRICE_UNIT * numeraire_usd
    return usd


def _assemble(transport: Transport, pinned: PinnedBlock, venues: _Venues) -> Snapshot:
    tokens: set[str] = set()
    for _, market, _ in venues.aave:
        tokens.update(r.asset for r in market.reserves)
    for market, _ in venues.morpho:
        tokens.update((market.collateral_token, market.loan_token))
    for _, _, market, _ in venues.comet:
        tokens.add(market.base_token)
        tokens.update(a.asset for a in market.assets)
    meta = read_token_metadata(transport, pinned, tokens) if tokens else {}
    symbols = _unique_symbols(meta)
    decimals = {a: m.decimals for a, m in meta.items()}
    usd = _usd_prices(venues, decimals)

    def priced(addresses: Iterable[str], what: str) -> bool:
        missing = [symbols[a] for a in addresses if usd.get(a, 0.0) <= 0]
        if missing:
            log.warning("%s left out of the snapshot: no USD price for %s", what, ", ".join(sorted(missing)))
        return not missing

    markets: list[Market] = []
    positions: list[Position] = []
    for src, market, pos in venues.aave:
        if priced([r.asset for r in market.reserves], f"Aave market {src.market_id}"):
            markets.append(market.to_market(symbols, market_id=src.market_id, name=src.name))
            positions += [p.to_position(symbols, market_id=src.market_id) for p in pos]
    for market, pos in venues.morpho:
        if priced([market.collateral_token, market.loan_token], f"Morpho market {market.id}"):
            markets.append(market.to_market(symbols))
            positions += [p.to_position(market, symbols) for p in pos]
    for _, reader, market, pos in venues.comet:
        if priced([market.base_token, *(a.asset for a in market.assets)], f"Comet {market.comet}"):
            markets.append(market.to_market(symbols, market_id=reader.market_id, name=reader.name))
            positions += [p.to_position(symbols, market_id=reader.market_id, base_token=market.base_token) for p in pos]
    used = {r.asset for m in markets for r in m.reserves}
    assets = sorted(
        (Asset(symbol=symbols[a], address=a, decimals=decimals[a], price_usd=usd[a]) for a in meta if symbols[a] in used),
        key=lambda asset: asset.symbol,
    )
    positions.sort(key=lambda p: (p.market, p.account.lower()))
    return Snapshot(
        chain_id=transport.chain_id,
        block_number=pinned.number,
        block_timestamp=pinned.timestamp,
        source=transport.masked_url,
        assets=tuple(assets),
        markets=tuple(markets),
        positions=tuple(positions),
    )


def devnet_sources(deployment) -> dict[str, object]:
    """``scan_snapshot`` keyword arguments for a :class:`chain.devnet.DevnetDeployment`."""
    sources: dict[str, object] = {
        "aave_pools": [AaveSource(deployment.aave.addresses_provider, "aave-devnet", "Aave V3 (devnet)")],
        "morpho": MorphoSource(deployment.morpho.address),
        "comets": [CometSource(deployment.comet_double, "compound-devnet", "Comet double (devnet)")],
    }
    uniswap = getattr(deployment, "uniswap", None)
    if uniswap is not None:
        sources["uniswap_pools"] = [p.address for p in uniswap.pools.values()]
    return sources


def scan_devnet(
    deployment,
    block: PinnedBlock | int | str = "latest",
    *,
    transport: Transport | None = None,
    accounts_index: AccountIndex | str | Path | None = None,
) -> Snapshot:
    """Snapshot of the devnet (Aave V3, Morpho Blue, Comet double) described by ``deployment``."""
    if transport is None:
        from chain.transport import HttpTransport

        with HttpTransport(deployment.rpc_url) as http:
            return scan_snapshot(http, block=block, accounts_index=accounts_index, **devnet_sources(deployment))
    return scan_snapshot(transport, block=block, accounts_index=accounts_index, **devnet_sources(deployment))


__all__ = ["AaveSource", "CometSource", "MorphoSource", "ReaderError", "devnet_sources", "scan_devnet", "scan_snapshot"]

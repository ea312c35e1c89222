"""Build a :class:`risk.snapshot.Snapshot` of several lending venues at one pinned block.

``scan_snapshot`` pins the block once (:func:`chain.blocks.pin_block`), discovers accounts
from events up to that block (:mod:`chain.discovery`, into an SQLite :class:`AccountIndex`)
unless they are given, reads every venue at that block through Multicall3 and assembles
Assets, Markets and Positions. Because every read names the block (by hash, re-checked at the end) and discovery keeps
only accounts first seen at or before it, the same block gives the same Snapshot later, after
more blocks and price moves.

Asset USD prices (``Asset.price_usd``) come from :mod:`chain.pricing` (Aave USD oracle, a
configured Chainlink feed, a Comet, a stated USD peg; Morpho collateral from the market's own
oracle). Morpho's liquidation math always uses the market's oracle answer, kept in the Snapshot
(``Market.oracle_price_1e36``); ``risk.book`` reproduces it in floats through the oracle basis.

Bad markets do not take a scan down. Per case, by what the protocol itself does:

- token without ``symbol()`` / with a ``bytes32`` symbol / odd characters: read
  (:mod:`chain.tokens`: bytes32 decoded, others ``TKN-<address>``, symbols sanitised);
- token without ``decimals()``: Aave and Comet keep the decimals themselves (reserve config,
  ``scale``): read with those. A Morpho collateral needs none (the oracle is in loan units per
  collateral *raw* unit): read, priced per raw unit. A Morpho loan token needs them for USD:
  market skipped;
- Aave oracle reverting (or 0) for one reserve: ``GenericLogic.calculateUserAccountData`` prices
  every reserve a user holds, so the Pool cannot value those users: the reserve and positions
  holding it are skipped, every other position is read;
- Aave reserve paused or frozen: read. It counts in the health factor as on chain. Frozen
  blocks supply/borrow only; paused makes ``liquidationCall`` revert with ``ReservePaused`` when
  it is the collateral or the debt (``ValidationLogic.validateLiquidationCall``,
  aave-dao/aave-v3-origin@070cd23d src/contracts/protocol/libraries/logic/ValidationLogic.sol;
  the same check in v3.0.2). Kept as ``Reserve.paused`` / ``Reserve.frozen``: a paused position
  is at risk (it becomes liquidatable the moment the reserve is unpaused) but cannot be
  liquidated meanwhile;
- Morpho market whose oracle reverts, answers 0, or whose IRM reverts: skipped
  (:attr:`chain.morpho_blue.MorphoMarketData.unreadable_reason`); loan token without a USD
  anchor: skipped;
- Comet ``getPrice`` reverting for an asset: positions holding it skipped; for the base token:
  the Comet skipped.

Every skip is in ``Snapshot.skipped`` (venue, market, account when one position, reason).

The scan is generic: it iterates *sources*, each read by the venue reader registered for its type
(:mod:`chain.venues`; the built-in readers are ``chain/venues/aave_v3.py``, ``morpho_blue.py``,
``compound_v3.py`` and the plugin venues beside them). The per-venue read and skip rules above live
in those files; this module pins, discovers, reads tokens, prices them and assembles the Snapshot
(a venue's own extra state goes into ``Snapshot.venue_state``, :mod:`risk.venue_state`). The
``aave_pools`` / ``morpho`` / ``comets`` keywords are kept as shorthands for sources; every other
venue is passed in ``sources``, as source objects or market-file entries.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chain.aave_v3 import ReaderError, checksum
from chain.blocks import PinnedBlock, PinnedTransport, ReorgError, pin_block
from chain.discovery import AccountIndex
from chain.pricing import UsdAnchors, UsdPricing, price_tokens
from chain.tokens import TokenInfo, read_tokens
from chain.transport import Transport
from chain.venues import (AssembleContext, MarketEntryBase, ReadContext, VenueRead, venue, venue_for_source)
from chain.venues.aave_v3 import AaveSource
from chain.venues.compound_v3 import CometSource
from chain.venues.morpho_blue import MorphoSource
from risk.snapshot import Asset, Market, Position, Skipped, Snapshot
from risk.venue_state import combine_venue_states

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def _as_source(value: Any, cls: type) -> Any:
    return value if isinstance(value, cls) else cls(value)


def scan_sources(
    aave_pools: Sequence[AaveSource | str] = (),
    morpho: MorphoSource | str | None = None,
    comets: Sequence[CometSource | str] = (),
    sources: Sequence[Any] = (),
) -> list[Any]:
    """The ordered source list of a scan: the shorthand keywords first (Aave pools, Morpho, Comets),
    then ``sources`` (source objects of any registered venue, or market-file entries)."""
    out: list[Any] = [_as_source(a, AaveSource) for a in aave_pools]
    if morpho is not None:
        out.append(_as_source(morpho, MorphoSource))
    out += [_as_source(c, CometSource) for c in comets]
    for s in sources:
        out.append(venue(s.kind).source_from_entry(s) if isinstance(s, MarketEntryBase) else s)
    return out


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
    usd_anchors: UsdAnchors | None = None,
    sources: Sequence[Any] = (),
    uniswap_pools: Sequence[str] = (),
    max_repins: int = 3,
) -> Snapshot:
    """Read the given venues at one block and return the Snapshot.

    ``sources``: what to read, in order: source objects of registered venues (:mod:`chain.venues`)
    or market-file entries (:class:`chain.venues.MarketEntryBase`, e.g. a network's ``markets``).
    ``aave_pools`` / ``morpho`` / ``comets``: shorthands, read before ``sources``.
    ``block``: a :class:`PinnedBlock`, a number or a tag (resolved once).
    ``accounts``: optional accounts per venue, keyed by the source ``address`` as given (for
    Morpho one list for all its markets; for other venues the address their reader's
    ``source_address`` names); venues not in it are discovered from events.
    ``accounts_index``: the SQLite index for discovery (an :class:`AccountIndex` or a path;
    default a temporary one, i.e. a full scan from each source's ``start_block``).
    ``include_suppliers``: also keep accounts without debt.
    ``usd_anchors``: Chainlink feeds / USD pegs for tokens no scanned Aave pool prices
    (:mod:`chain.pricing`); a Morpho market whose loan token has no anchor is skipped.

    A market or position that cannot be read exactly (a token without decimals where they are
    needed, an oracle that reverts or answers 0, a reverting IRM) is left out and listed in
    ``Snapshot.skipped`` with its reason; everything else is read. A source that is not the
    named protocol at all (no code, wrong contract) is an error.
    ``uniswap_pools``: Uniswap v3 pool addresses to read at the same block into
    ``Snapshot.pools`` (:mod:`chain.uniswap_v3`; the on-chain liquidity model reads them).
    ``max_repins``: how many times a reorg of the pinned block may send the scan back to
    re-pin and read again before it fails with :class:`chain.blocks.ReorgError`.
    """
    given = {checksum(k, "accounts key"): list(v) for k, v in (accounts or {}).items()}
    ordered = scan_sources(aave_pools, morpho, comets, sources)
    readers = [venue_for_source(s) for s in ordered]  # an unregistered source type fails before any read
    # Reads go by the pinned block's hash and the hash is re-checked after the last read: on a
    # reorg the block is pinned again (same number or tag) and everything is read again, so a
    # snapshot never mixes two blocks (chain.blocks.PinnedTransport).
    spec = block.number if isinstance(block, PinnedBlock) else block
    for attempt in range(max_repins + 1):
        pinned = block if isinstance(block, PinnedBlock) and attempt == 0 else pin_block(transport, spec)
        reads = PinnedTransport(transport, pinned)
        try:
            with _Index(accounts_index) as index:
                ctx = ReadContext(reads, pinned, given, index, include_suppliers)
                venue_reads = [reader.read(source, ctx) for reader, source in zip(readers, ordered, strict=True)]
            snapshot = _assemble(reads, pinned, venue_reads, usd_anchors)
            if uniswap_pools:
                from chain.uniswap_v3 import read_pools

                symbols = {a.address: a.symbol for a in snapshot.assets}
                snapshot = snapshot.model_copy(update={"pools": read_pools(reads, pinned, uniswap_pools, symbols)})
            reads.verify()
            return snapshot
        except ReorgError as exc:
            if attempt == max_repins:
                raise ReorgError(f"{exc}; gave up after {max_repins + 1} attempts — the chain keeps reorganising "
                                 "at this depth: pin a 'safe' or 'finalized' block", exc.pinned) from None
            log.warning("%s; pinning block %s again and reading everything again", exc, spec)
    raise AssertionError("unreachable")


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


def _unique_symbols(infos: Mapping[str, TokenInfo]) -> dict[str, str]:
    """Asset address -> unique symbol (clashes get ``-<address prefix>``, so a token calling itself
    "USDC" never takes the real one's name)."""
    counts: dict[str, int] = {}
    for m in infos.values():
        counts[m.symbol] = counts.get(m.symbol, 0) + 1
    return {a: (m.symbol if counts[m.symbol] == 1 else f"{m.symbol}-{a[2:8].lower()}") for a, m in infos.items()}


class TokenPrices:
    """Decimals and USD prices per token, and why a token cannot be used (the one place that says)."""

    def __init__(self, infos: Mapping[str, TokenInfo], venue_decimals: Mapping[str, int], pricing: UsdPricing) -> None:
        self.infos = infos
        self.pricing = pricing
        self.decimals: dict[str, int | None] = {}
        self.decimals_source: dict[str, str] = {}
        for token, info in infos.items():
            if info.decimals is not None:
                self.decimals[token], self.decimals_source[token] = info.decimals, "token"
            elif token in venue_decimals:
                self.decimals[token], self.decimals_source[token] = venue_decimals[token], "venue"
            else:
                self.decimals[token], self.decimals_source[token] = None, "none"

    def problem(self, token: str) -> str | None:
        """Why ``token`` cannot be an Asset of the snapshot, or None."""
        price = self.pricing.prices.get(token)
        if price is None:
            problem = self.pricing.feed_problems.get(token)
            return f"no USD price for {token}" + (f" ({problem})" if problem else "")
        if self.decimals[token] is None and not price.source.startswith("morpho-oracle:"):
            return f"{token} has no decimals() ({self.infos[token].decimals_problem}): amounts cannot be read"
        return None

    def asset(self, token: str, symbol: str) -> Asset:
        price = self.pricing.prices[token]
        decimals = self.decimals[token]
        return Asset(symbol=symbol, address=token, decimals=decimals if decimals is not None else 0, price_usd=price.usd,
                     price_source=price.source, decimals_source=self.decimals_source[token])  # type: ignore[arg-type]


_Prices = TokenPrices  # the former private name


def _assemble(transport: Transport, pinned: PinnedBlock, venue_reads: Sequence[VenueRead],
              anchors: UsdAnchors | None) -> Snapshot:
    tokens: set[str] = set()
    for vr in venue_reads:
        tokens.update(vr.tokens())
    infos = read_tokens(transport, pinned, tokens)
    symbols = _unique_symbols(infos)
    venue_decimals: dict[str, int] = {}
    for vr in venue_reads:  # the first venue to state a token's decimals wins (source order)
        for token, digits in vr.venue_decimals().items():
            venue_decimals.setdefault(token, digits)
    known_decimals = {t: (i.decimals if i.decimals is not None else venue_decimals.get(t)) for t, i in infos.items()}
    inputs = [vr.pricing_inputs() for vr in venue_reads]
    pricing = price_tokens(
        transport, pinned,
        aave=[a for i in inputs for a in i.aave],
        comets=[c for i in inputs for c in i.comets],
        morpho=[m for i in inputs for m in i.morpho],
        decimals=known_decimals, anchors=anchors,
    )
    for vr in venue_reads:  # venues' own prices, for tokens no other source priced
        vr.own_prices(pricing)
    prices = TokenPrices(infos, venue_decimals, pricing)
    ctx = AssembleContext(symbols, prices, pricing)
    skipped: list[Skipped] = []
    markets: list[Market] = []
    positions: list[Position] = []
    extra: dict[str, list[Any]] = {}
    states: dict[str, list[Any]] = {}
    for vr in venue_reads:
        rows = vr.assemble(ctx)
        markets += rows.markets
        positions += rows.positions
        skipped += rows.skipped
        for key, state in rows.venue_state.items():
            states.setdefault(key, []).append(state)
        for name, values in rows.extra.items():
            extra.setdefault(name, []).extend(values)
    for entry in skipped:
        if entry.account is None:
            log.warning("%s %s left out: %s", entry.venue, entry.market, entry.reason)
    used = {r.asset for m in markets for r in m.reserves}
    assets = sorted((prices.asset(a, symbols[a]) for a in infos if symbols[a] in used), key=lambda asset: asset.symbol)
    positions.sort(key=lambda p: (p.market, p.account.lower()))
    return Snapshot(
        chain_id=transport.chain_id,
        block_number=pinned.number,
        block_timestamp=pinned.timestamp,
        source=transport.masked_url,
        assets=tuple(assets),
        markets=tuple(markets),
        positions=tuple(positions),
        skipped=tuple(skipped),
        venue_state=combine_venue_states(states),
        **{name: tuple(values) for name, values in extra.items()},
    )


def devnet_usd_anchors(deployment) -> UsdAnchors:
    """The devnet's 8-decimal USD feeds as configured Chainlink anchors (token address -> feed)."""
    return UsdAnchors(chainlink_feeds={deployment.tokens[s]: feed for s, feed in deployment.aave.price_feeds.items()
                                       if s in deployment.tokens})


def devnet_sources(deployment: Any) -> dict[str, Any]:
    """``scan_snapshot`` keyword arguments for a :class:`chain.devnet.DevnetDeployment`: the network of
    its generated market file (:func:`chain.devnet.markets.devnet_market_file`), grouped by shorthand."""
    from chain.devnet.markets import DEVNET_NETWORK, devnet_markets

    return devnet_markets(deployment).networks[DEVNET_NETWORK].scan_sources()


def scan_network(
    transport: Transport,
    market_file: Any,
    *,
    network: str | None = None,
    where: str = "market file",
    block: PinnedBlock | int | str = "latest",
    **kwargs: Any,
) -> Snapshot:
    """Scan every market of the market file's network the node is on (:class:`chain.markets.MarketFile`).

    The network is the one whose ``chain_id`` the node answers (``network``: the one wanted, whose
    chain id must then be the node's); otherwise :class:`chain.markets.MarketFileError` naming
    ``where`` and the field. ``kwargs`` go to :func:`scan_snapshot` (``accounts_index``, ...)."""
    _, net = market_file.network_for_chain(transport.chain_id, where=where, network=network)
    return scan_snapshot(transport, block=block, **net.scan_kwargs(), **kwargs)


def scan_devnet(
    deployment: Any,
    block: PinnedBlock | int | str = "latest",
    *,
    transport: Transport | None = None,
    accounts_index: AccountIndex | str | Path | None = None,
) -> Snapshot:
    """Snapshot of the devnet (Aave v3.0.2 and v3.6, Morpho Blue, the Comet double and every deployed
    plugin venue's double) described by ``deployment``, through its generated market file (:mod:`chain.devnet.markets`)."""
    from chain.devnet.markets import DEVNET_NETWORK, devnet_markets

    # The network is the deployment's own (its chain id is the deployment's: HttpTransport checks it
    # below; a caller's transport is checked by the transport's own chain-id logic at the end).
    kwargs = devnet_markets(deployment).networks[DEVNET_NETWORK].scan_kwargs()
    if transport is None:
        from chain.transport import HttpTransport

        with HttpTransport(deployment.rpc_url, expected_chain_id=deployment.chain_id) as http:
            return scan_snapshot(http, block=block, accounts_index=accounts_index, **kwargs)
    return scan_snapshot(transport, block=block, accounts_index=accounts_index, **kwargs)


__all__ = ["AaveSource", "CometSource", "MorphoSource", "ReaderError", "TokenPrices", "UsdAnchors", "devnet_sources",
           "devnet_usd_anchors", "scan_devnet", "scan_network", "scan_snapshot", "scan_sources"]

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
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.aave_v3 import AaveMarketData, AavePositionData, AaveV3Reader, ReaderError, checksum
from chain.blocks import PinnedBlock, PinnedTransport, ReorgError, pin_block
from chain.compound_v3 import CometMarketData, CometPositionData, CometReader
from chain.discovery import AccountIndex, LogScanner, aave_pool_source, comet_source, morpho_blue_source
from chain.morpho_blue import MorphoBlueReader, MorphoMarketData, MorphoPositionData, snapshot_market_id
from chain.pricing import UsdAnchors, UsdPrice, UsdPricing, price_tokens
from chain.tokens import TokenInfo, read_tokens
from chain.liquity_v2 import LiquityRead, LiquitySource, branch_state, read_liquity
from chain.sky_vaults import SkyIlk, SkySource, SkyVaultReader, ilk_market, ilk_name, sky_vat_source
from chain.euler_v2 import EulerRead, EulerSource, euler_snapshot_parts, read_euler
from chain.transport import Transport
from risk.snapshot import Asset, Market, Position, Skipped, Snapshot

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
    sky: list[tuple[SkySource, list, list]] = field(default_factory=list)
    liquity: list[LiquityRead] = field(default_factory=list)
    euler: list[EulerRead] = field(default_factory=list)


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
    usd_anchors: UsdAnchors | None = None,
    sky: Sequence[SkySource] = (),
    euler: Sequence[EulerSource] = (),
    uniswap_pools: Sequence[str] = (),
    max_repins: int = 3,
    liquity: Sequence[LiquitySource] = (),
) -> Snapshot:
    """Read the given venues at one block and return the Snapshot.

    ``block``: a :class:`PinnedBlock`, a number or a tag (resolved once).
    ``accounts``: optional accounts per venue, keyed by the source ``address`` as given (for
    Morpho one list for all its markets); venues not in it are discovered from events.
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
    # Reads go by the pinned block's hash and the hash is re-checked after the last read: on a
    # reorg the block is pinned again (same number or tag) and everything is read again, so a
    # snapshot never mixes two blocks (chain.blocks.PinnedTransport).
    spec = block.number if isinstance(block, PinnedBlock) else block
    for attempt in range(max_repins + 1):
        pinned = block if isinstance(block, PinnedBlock) and attempt == 0 else pin_block(transport, spec)
        reads = PinnedTransport(transport, pinned)
        try:
            with _Index(accounts_index) as index:
                venues = _read_venues(reads, pinned, [_as_source(a, AaveSource) for a in aave_pools],
                                      _as_source(morpho, MorphoSource) if morpho is not None else None,
                                      [_as_source(c, CometSource) for c in comets], given, index, include_suppliers)
                _read_sky(reads, pinned, [_sky_source(s) for s in sky], given, index, venues)
                venues.liquity += [read_liquity(reads, pinned, _liquity_source(s)) for s in liquity]
                _read_euler(reads, pinned, [_euler_source(e) for e in euler], given, index, venues)
            snapshot = _assemble(reads, pinned, venues, usd_anchors)
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


def _sky_source(value) -> SkySource:
    """A :class:`SkySource`, or a market-file ``sky_vaults`` entry."""
    if isinstance(value, SkySource):
        return value
    return SkySource(value.vat, value.spotter, value.dog, value.dai, tuple(SkyIlk(i.name, i.gem) for i in value.ilks),
                     value.start_block, value.name)


def _read_sky(transport, pinned, sources, given, index, venues: "_Venues") -> None:
    for src in sources:
        reader = SkyVaultReader(transport, vat=src.vat, spotter=src.spotter, dog=src.dog, ilks=src.ilks)
        ilks = reader.read_market(pinned)
        key = checksum(src.vat, "Sky Vat")
        urns: dict[str, list[str]] = {}
        if key in given:
            urns = {i.name: list(given[key]) for i in ilks}
        else:
            for a in _discover(transport, index, sky_vat_source(reader.vat, src.start_block), pinned):
                urns.setdefault(ilk_name(a.group), []).append(a.account)
        venues.sky.append((src, ilks, reader.read_positions(pinned, urns)))


def _liquity_source(value) -> LiquitySource:
    """A :class:`LiquitySource`, or a market-file ``liquity_v2`` entry."""
    if isinstance(value, LiquitySource):
        return value
    return LiquitySource(value.bold, tuple(value.registries), value.start_block, value.name)


def _euler_source(value) -> EulerSource:
    """An :class:`EulerSource`, or a market-file ``euler_v2`` entry."""
    if isinstance(value, EulerSource):
        return value
    return EulerSource(value.evc, tuple(value.vaults), value.start_block, value.name)


def _read_euler(transport, pinned, sources, given, index, venues: "_Venues") -> None:
    """Euler v2 (:mod:`chain.euler_v2`): ``accounts`` may be keyed by a vault (its accounts) or by
    the EVC (one list for every vault of the source); the rest is discovered from the EVC."""
    for src in sources:
        evc = checksum(src.evc, "Euler EVC")
        vaults = [checksum(v, "Euler vault") for v in src.vaults]
        accounts = None
        if evc in given or any(v in given for v in vaults):
            accounts = {v: list(given.get(v, given.get(evc, []))) for v in vaults}
        venues.euler.append(read_euler(transport, pinned, src, accounts=accounts, index=index))


def _unique_symbols(infos: Mapping[str, TokenInfo]) -> dict[str, str]:
    """Asset address -> unique symbol (clashes get ``-<address prefix>``, so a token calling itself
    "USDC" never takes the real one's name)."""
    counts: dict[str, int] = {}
    for m in infos.values():
        counts[m.symbol] = counts.get(m.symbol, 0) + 1
    return {a: (m.symbol if counts[m.symbol] == 1 else f"{m.symbol}-{a[2:8].lower()}") for a, m in infos.items()}


def _venue_decimals(venues: _Venues) -> dict[str, int]:
    """Decimals the venues keep themselves: Aave's reserve configuration (set at listing, what its
    math uses), a Comet asset's ``scale`` / ``baseScale`` (10**decimals)."""
    out: dict[str, int] = {}
    for _, market, _ in venues.aave:
        for r in market.reserves:
            out.setdefault(r.asset, r.config.decimals)
    for _, _, market, _ in venues.comet:
        scales = [(market.base_token, market.base_scale)] + [(a.asset, a.scale) for a in market.assets]
        for token, scale in scales:
            digits = len(str(scale)) - 1
            if scale > 0 and 10**digits == scale:
                out.setdefault(token, digits)
    return out


class _Prices:
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


def _assemble(transport: Transport, pinned: PinnedBlock, venues: _Venues, anchors: UsdAnchors | None) -> Snapshot:
    tokens: set[str] = set()
    for _, market, _ in venues.aave:
        tokens.update(r.asset for r in market.reserves)
    for market, _ in venues.morpho:
        tokens.update((market.collateral_token, market.loan_token))
    for _, _, market, _ in venues.comet:
        tokens.add(market.base_token)
        tokens.update(a.asset for a in market.assets)
    for src, ilks, _ in venues.sky:
        tokens.add(checksum(src.dai, "Sky DAI"))
        tokens.update(i.gem for i in ilks)
    for lread in venues.liquity:
        tokens.update(lread.tokens())
    for read in venues.euler:
        tokens.update(read.tokens())
    infos = read_tokens(transport, pinned, tokens)
    symbols = _unique_symbols(infos)
    venue_decimals = _venue_decimals(venues)
    known_decimals = {t: (i.decimals if i.decimals is not None else venue_decimals.get(t)) for t, i in infos.items()}
    pricing = price_tokens(
        transport, pinned,
        aave=[(src.market_id, market) for src, market, _ in venues.aave],
        comets=[market for _, _, market, _ in venues.comet if market.base_price],
        morpho=[market for market, _ in venues.morpho if market.unreadable_reason is None],
        decimals=known_decimals, anchors=anchors,
    )
    for src, ilks, _ in venues.sky:  # the price the Vat liquidates on; DAI at par
        for i in ilks:
            if i.spot_ray > 0 and i.gem not in pricing.prices:
                pricing.prices[i.gem] = UsdPrice(i.price_usd(), f"sky-spot:{i.name}")
            dai = checksum(src.dai, "Sky DAI")
            if dai not in pricing.prices:
                pricing.prices[dai] = UsdPrice(i.par_ray / 10**27, "sky-par")
    for lread in venues.liquity:  # the price each branch liquidates at; BOLD at 1 USD (the protocol's unit)
        for b, _ in lread.branches:
            if b.coll_token not in pricing.prices:
                pricing.prices[b.coll_token] = UsdPrice(b.price_wad / 10**18, f"liquity-feed:{b.price_feed}")
        bold = checksum(lread.source.bold, "BOLD")
        if bold not in pricing.prices:
            pricing.prices[bold] = UsdPrice(1.0, "liquity-bold")
    for read in venues.euler:  # USD-quoted vault oracles price what nothing else priced
        for token, (usd, source) in read.usd_prices().items():
            if token not in pricing.prices:
                pricing.prices[token] = UsdPrice(usd, source)
    prices = _Prices(infos, venue_decimals, pricing)
    skipped: list[Skipped] = []
    liquity_branches = []
    markets: list[Market] = []
    positions: list[Position] = []

    def named(token: str) -> str:
        return f"{symbols[token]} ({token})"

    for src, market, pos in venues.aave:
        bad: dict[str, str] = {}
        for r in market.reserves:
            if r.price_base is None:
                bad[r.asset] = "AaveOracle getAssetPrice reverts: the Pool cannot value (nor liquidate) a position holding it"
            elif r.price_base == 0:
                bad[r.asset] = "AaveOracle price is 0"
            elif (problem := prices.problem(r.asset)) is not None:
                bad[r.asset] = problem
        kept, dropped = _split_positions(pos, bad, lambda p: (*p.collateral, *p.debt))
        skipped += [Skipped(venue=market.venue, market=src.market_id, asset=a, reason=f"reserve {named(a)}: {why}; "
                            f"positions holding it are skipped") for a, why in bad.items()]
        skipped += [Skipped(venue=market.venue, market=src.market_id, account=p.account, asset=a,
                            reason=f"holds reserve {named(a)}: {bad[a]}") for p, a in dropped]
        if len(bad) == len(market.reserves):
            continue
        snap_market = market.to_market(symbols, market_id=src.market_id, name=src.name)
        flags = {symbols[r.asset]: (r.config.paused, r.config.frozen) for r in market.reserves if r.asset not in bad}
        for symbol, (paused, frozen) in flags.items():
            if paused or frozen:
                log.warning("Aave market %s: reserve %s is %s; its positions are read (it still counts in the health "
                            "factor)%s", src.market_id, symbol, "paused" if paused else "frozen",
                            "; liquidationCall reverts for it while paused" if paused else "")
        markets.append(snap_market.model_copy(update={
            "reserves": tuple(r.model_copy(update={"paused": flags[r.asset][0], "frozen": flags[r.asset][1]})
                              for r in snap_market.reserves if r.asset in flags),
            "emode_categories": tuple(c.model_copy(update={"collateral_assets": tuple(a for a in c.collateral_assets
                                                                                      if a in flags)})
                                      for c in snap_market.emode_categories),
        }))
        positions += [p.to_position(symbols, market_id=src.market_id) for p in kept]
    for market, pos in venues.morpho:
        market_id = snapshot_market_id(market.id)
        reason = (market.unreadable_reason or pricing.morpho_skipped.get(market.id)
                  or prices.problem(market.loan_token) or prices.problem(market.collateral_token))
        if reason is not None:
            pair = f"{symbols[market.collateral_token]}/{symbols[market.loan_token]}"
            skipped.append(Skipped(venue="morpho_blue", market=market_id, reason=f"{pair}: {reason} "
                                   f"({_count(len(pos))} not read)"))
            continue
        markets.append(market.to_market(symbols))
        positions += [p.to_position(market, symbols) for p in pos]
    for src, reader, market, pos in venues.comet:
        market_id = reader.market_id
        if market.base_price is None or (base_problem := prices.problem(market.base_token)) is not None:
            why = (f"getPrice(baseTokenPriceFeed {market.base_price_feed}) reverts: Comet cannot value any account"
                   if market.base_price is None else base_problem)
            skipped.append(Skipped(venue="compound_v3", market=market_id, asset=market.base_token,
                                   reason=f"{why} ({_count(len(pos))} not read)"))
            continue
        bad = {}
        for a in market.assets:
            if a.price is None:
                bad[a.asset] = f"getPrice({a.price_feed}) reverts (BadPrice): Comet cannot value an account holding it"
            elif (problem := prices.problem(a.asset)) is not None:
                bad[a.asset] = problem
        kept_c, dropped_c = _split_positions(pos, bad, lambda p: tuple(p.collateral))
        skipped += [Skipped(venue="compound_v3", market=market_id, asset=a, reason=f"collateral {named(a)}: {why}; "
                            f"positions holding it are skipped") for a, why in bad.items()]
        skipped += [Skipped(venue="compound_v3", market=market_id, account=p.account, asset=a,
                            reason=f"holds collateral {named(a)}: {bad[a]}") for p, a in dropped_c]
        snap_market = market.to_market(symbols, market_id=market_id, name=reader.name)
        bad_symbols = {symbols[a] for a in bad}
        markets.append(snap_market.model_copy(update={
            "reserves": tuple(r for r in snap_market.reserves if r.asset not in bad_symbols)}))
        positions += [p.to_position(symbols, market_id=market_id, base_token=market.base_token) for p in kept_c]
    for src, ilks, urns in venues.sky:
        dai = checksum(src.dai, "Sky DAI")
        decimals = {t: d for t, d in prices.decimals.items() if d is not None}
        for i in ilks:
            reason = prices.problem(i.gem) or prices.problem(dai)
            if reason is not None:
                skipped.append(Skipped(venue="sky_vault", market=i.name, asset=i.gem, reason=reason))
                continue
            markets.append(ilk_market(i, symbols, dai=dai, vat=src.vat, name=src.name))
            positions += [u.to_position(i, symbols, decimals, dai=dai) for u in urns if u.ilk == i.name]
    for lread in venues.liquity:
        bold = checksum(lread.source.bold, "BOLD")
        for b, troves in lread.branches:
            reason = prices.problem(b.coll_token) or prices.problem(bold)
            market_id = b.market_id(symbols[b.coll_token])
            if reason is not None:
                skipped.append(Skipped(venue="liquity_v2", market=market_id, asset=b.coll_token,
                                       reason=f"{reason} ({_count(len(troves))} not read)"))
                continue
            markets.append(b.to_market(symbols, bold=bold, name=lread.source.name))
            positions += [t.to_position(market_id, symbols[b.coll_token], symbols[bold]) for t in troves
                          if t.entire_debt_wei > 0]
            liquity_branches.append(branch_state(b, troves, market_id))
    for read in venues.euler:
        e_markets, e_positions, e_skipped = euler_snapshot_parts(read, symbols, prices.problem)
        markets += e_markets
        positions += e_positions
        skipped += e_skipped
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
        liquity_branches=tuple(liquity_branches),
    )


def _count(n: int) -> str:
    return f"{n} position" + ("" if n == 1 else "s")


def _split_positions(positions, bad: Mapping[str, str], held):
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


def devnet_usd_anchors(deployment) -> UsdAnchors:
    """The devnet's 8-decimal USD feeds as configured Chainlink anchors (token address -> feed)."""
    return UsdAnchors(chainlink_feeds={deployment.tokens[s]: feed for s, feed in deployment.aave.price_feeds.items()
                                       if s in deployment.tokens})


def devnet_sources(deployment) -> dict[str, object]:
    """``scan_snapshot`` keyword arguments for a :class:`chain.devnet.DevnetDeployment`."""
    aave_pools = [AaveSource(deployment.aave.addresses_provider, "aave-devnet", "Aave V3 (devnet)")]
    if getattr(deployment, "aave36", None) is not None:  # state files older than the v3.6 market have none
        aave_pools.append(AaveSource(deployment.aave36.addresses_provider, "aave36-devnet", "Aave v3.6 (devnet)"))
    sources: dict[str, object] = {
        "aave_pools": aave_pools,
        "morpho": MorphoSource(deployment.morpho.address),
        "comets": [CometSource(deployment.comet_double, "compound-devnet", "Comet double (devnet)")],
        **({"sky": [SkySource(sky.vat, sky.spotter, sky.dog, sky.dai, tuple(SkyIlk(i.name, i.gem) for i in sky.ilks),
                              sky.deploy_block, "Sky double (devnet)")]}
           if (sky := getattr(deployment, "sky", None)) is not None else {}),
    }
    liquity = getattr(deployment, "liquity", None)
    if liquity is not None:  # the Liquity v2 TEST DOUBLE (chain/devnet/deploy_liquity.py)
        sources["liquity"] = [LiquitySource(liquity.bold, tuple(b.addresses_registry for b in liquity.branches),
                                            liquity.deploy_block, "Liquity v2 double (devnet)")]
    if (euler := getattr(deployment, "euler", None)) is not None:
        sources["euler"] = [EulerSource(euler.evc, tuple(v.address for v in euler.vaults), euler.deploy_block,
                                        "Euler double (devnet)")]
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
    """Snapshot of the devnet (Aave v3.0.2 and v3.6, Morpho Blue, Comet double) described by ``deployment``."""
    if transport is None:
        from chain.transport import HttpTransport

        with HttpTransport(deployment.rpc_url, expected_chain_id=deployment.chain_id) as http:
            return scan_snapshot(http, block=block, accounts_index=accounts_index, **devnet_sources(deployment))
    return scan_snapshot(transport, block=block, accounts_index=accounts_index, **devnet_sources(deployment))


__all__ = ["AaveSource", "CometSource", "MorphoSource", "ReaderError", "UsdAnchors", "devnet_sources", "devnet_usd_anchors",
           "scan_devnet", "scan_snapshot"]

"""Aave V3 (and SparkLend) reader: reserves, eMode, oracle prices and user positions at one block.

Every read goes through :func:`chain.multicall.multicall` at a pinned block number (one
``aggregate3`` per ~200 calls), never one request per user. What it produces reproduces
``Pool.getUserAccountData`` exactly through :mod:`risk.exact` (tested against the genuine
v3.0.2 contracts on the devnet):

- balances are ``aToken.balanceOf`` / ``variableDebtToken.balanceOf`` (+ ``stableDebtToken``
  up to v3.1) at the block: these are ``scaledBalanceOf × getReserveNormalized*`` with the
  version's own rounding (``rayMul`` half up ≤ v3.4; floor/ceil from v3.5), i.e. exactly what
  ``GenericLogic`` multiplies by the price;
- a reserve's ``id`` comes from ``getReserveData`` (not its position in ``getReservesList``);
  the user-config bit ``2·id`` is borrowing, ``2·id + 1`` collateral;
- eMode: v3.0/v3.1 from reserve config bits 168-175 + ``getEModeCategoryData``; v3.2+ from the
  per-category collateral bitmaps.

Version detection (:func:`aave_version_from_revision`, :data:`POOL_REVISION_VERSIONS`): the Pool's
``POOL_REVISION()`` constant, read at the pinned block, through this table (each value is the
constant in the named release's ``Pool.sol`` / ``instances/PoolInstance.sol``):

========  ===========  ==========================================================================
revision  version      source
========  ===========  ==========================================================================
1, 2, 3   aave-v3.0    aave/aave-v3-core ``contracts/protocol/pool/Pool.sol`` (npm @aave/core-v3
                       1.19.3 = 0x1, v3.0.1/v3.0.2 deployments 0x2/0x3)
4         aave-v3.1    aave-v3-origin v3.1.0 ``src/core/instances/PoolInstance.sol``
5, 6      aave-v3.2    aave-v3-origin v3.2.0 / its patch ``src/contracts/instances/PoolInstance.sol``
7         aave-v3.3    aave-v3-origin v3.3.0
8         aave-v3.4    aave-v3-origin v3.4.0
9         aave-v3.5    aave-v3-origin v3.5.0 (commit 13fc64a1 ``PoolInstance.sol``)
10        aave-v3.6    npm @aave-dao/aave-v3-origin 3.6.0 ``src/contracts/instances/PoolInstance.sol``
11        aave-v3.7    aave-v3-origin main (v3.7; not on npm)
========  ===========  ==========================================================================

Forks (SparkLend) keep their own revision counters, so the table is cross-checked with the
functions each line added (probed with the first reserve as argument): ``getIsEModeCategoryIsolated``
⇒ 3.7, ``getEModeCategoryLtvzeroBitmap`` ⇒ ≥ 3.6, ``getReserveDeficit`` ⇒ ≥ 3.3,
``getEModeCategoryCollateralBitmap`` ⇒ ≥ 3.2, ``getLiquidationGracePeriod`` ⇒ ≥ 3.1. When the
revision is missing, unknown or outside the range the probes allow, the probes decide (lowest
version of the range; 3.3-3.5 cannot be told apart without the revision) and a warning says so.

What the engine needs to know about the version travels as ``Market.protocol_version``
(``"aave-v3.0"`` … ``"aave-v3.7"``) and ``Market.venue``; :mod:`risk.exact` derives every
version-dependent rule from it (:func:`risk.exact.aave_hf_rule`: v3.5+ un-averaged HF sum;
:func:`risk.exact.aave_rounding`: half-up ≤ v3.4, v3.5/v3.6 floor/ceil, v3.7 rounding;
:func:`risk.exact.aave_liquidation_rule`: v3.3+ sizing). Venue: ``aave_v30`` below 3.3,
``aave_v33`` from 3.3.

Not represented in the Snapshot (logged as warnings): a v3.0 eMode category ``priceSource``
(its assets would be priced from that source for users in the category).

This module also holds the small reader plumbing shared by :mod:`chain.morpho_blue` and
:mod:`chain.compound_v3`: :class:`ReaderError`, :func:`require_contract`, :func:`run_calls`,
:func:`read_token_metadata`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import to_checksum_address

from abis import AbiFunction, abi_function, named_outputs
from chain.blocks import PinnedBlock
from chain.multicall import Call, CallResult, multicall
from chain.transport import Transport
from risk.snapshot import BPS_TO_WAD, EModeCategory, Market, Position, Reserve, Venue

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
MAX_EMODE_ID = 255


# --------------------------------------------------------------------------------------------
# Shared reader plumbing


class ReaderError(RuntimeError):
    """A venue could not be read: wrong address, not the expected contract, failed reads."""


def block_number(block: PinnedBlock | int) -> int:
    number = block.number if isinstance(block, PinnedBlock) else block
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"block must be a PinnedBlock or a non-negative int (got {block!r})")
    return number


def checksum(address: str, what: str) -> str:
    try:
        return _checksum(address)
    except (ValueError, TypeError):
        raise ReaderError(f"{what}: {address!r} is not an address") from None


@lru_cache(maxsize=65536)
def _checksum(address: str) -> str:
    return to_checksum_address(address)


def require_contract(transport: Transport, address: str, block: PinnedBlock | int, expected: str) -> str:
    """Checksummed ``address`` if it holds code at ``block``, else a :class:`ReaderError` naming
    the address and what was expected there."""
    address = checksum(address, expected)
    code = transport.request("eth_getCode", [address, hex(block_number(block))])
    if code in (None, "", "0x", "0x0"):
        raise ReaderError(
            f"{address} has no contract code at block {block_number(block)} on {transport.masked_url} "
            f"(expected {expected})"
        )
    return address


@dataclass(frozen=True, slots=True)
class Read:
    """One planned ``eth_call``: ``target``, ABI function, arguments."""

    target: str
    function: AbiFunction
    args: tuple[Any, ...] = ()

    def call(self) -> Call:
        return Call(self.target, self.function.encode(*self.args))


def run_calls(
    transport: Transport, block: PinnedBlock | int, reads: Sequence[Read], *, what: str, allow_failure: bool = False
) -> list[tuple[Any, ...] | None]:
    """Run ``reads`` through Multicall3 at ``block`` and decode them.

    A failed (or undecodable) read is ``None`` with ``allow_failure``; otherwise a
    :class:`ReaderError` naming ``what``, the target and the function.
    """
    if not reads:
        return []
    results: list[CallResult] = multicall(transport, [r.call() for r in reads], block_number(block))
    out: list[tuple[Any, ...] | None] = []
    for read, result in zip(reads, results, strict=True):
        decoded: tuple[Any, ...] | None = None
        if result.success:
            try:
                decoded = read.function.decode(result.data)
            except Exception:  # empty return from a non-contract / wrong ABI
                decoded = None
        if decoded is None and not allow_failure:
            raise ReaderError(
                f"{what}: {read.function.signature} on {read.target} failed at block {block_number(block)} "
                f"({transport.masked_url})"
            )
        out.append(decoded)
    return out


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    address: str
    symbol: str
    decimals: int


def _decode_symbol(data: bytes) -> str | None:
    try:
        (text,) = decode(["string"], data)
        text = str(text).strip("\x00").strip()
        return text or None
    except Exception:
        pass
    if len(data) == 32:  # bytes32 symbols (e.g. MKR)
        text = data.rstrip(b"\x00").decode("utf-8", "replace").strip()
        return text or None
    return None


def read_token_metadata(
    transport: Transport, block: PinnedBlock | int, addresses: Iterable[str]
) -> dict[str, TokenMetadata]:
    """ERC-20 ``symbol()`` (string or bytes32) and ``decimals()`` of each token, in one multicall.

    A token without a readable symbol gets ``TKN-<first 4 bytes of its address>``; missing
    ``decimals()`` is an error (amounts could not be interpreted)."""
    tokens = sorted({checksum(a, "token") for a in addresses})
    symbol_fn = abi_function("ERC20", "symbol")
    decimals_fn = abi_function("ERC20", "decimals")
    calls = [Call(t, symbol_fn.selector) for t in tokens] + [Call(t, decimals_fn.selector) for t in tokens]
    results = multicall(transport, calls, block_number(block))
    out: dict[str, TokenMetadata] = {}
    for i, token in enumerate(tokens):
        sym_res, dec_res = results[i], results[len(tokens) + i]
        symbol = _decode_symbol(sym_res.data) if sym_res.success else None
        if not dec_res.success or len(dec_res.data) < 32:
            raise ReaderError(f"token {token}: decimals() failed at block {block_number(block)} (not an ERC-20?)")
        (decimals,) = decimals_fn.decode(dec_res.data)
        out[token] = TokenMetadata(token, symbol or f"TKN-{token[2:10]}", int(decimals))
    return out


# --------------------------------------------------------------------------------------------
# Aave data


def _field(data: int, start: int, width: int) -> int:
    return (data >> start) & ((1 << width) - 1)


@dataclass(frozen=True, slots=True)
class AaveReserveConfig:
    """Decoded ``ReserveConfigurationMap`` (protocols.md §1.3; bit positions equal in all versions)."""

    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    decimals: int
    active: bool
    frozen: bool
    borrowing_enabled: bool
    paused: bool
    liquidation_protocol_fee_bps: int
    emode_category_legacy: int

    @classmethod
    def decode(cls, data: int) -> "AaveReserveConfig":
        return cls(
            ltv_bps=_field(data, 0, 16),
            liquidation_threshold_bps=_field(data, 16, 16),
            liquidation_bonus_bps=_field(data, 32, 16),
            decimals=_field(data, 48, 8),
            active=bool(_field(data, 56, 1)),
            frozen=bool(_field(data, 57, 1)),
            borrowing_enabled=bool(_field(data, 58, 1)),
            paused=bool(_field(data, 60, 1)),
            liquidation_protocol_fee_bps=_field(data, 152, 16),
            emode_category_legacy=_field(data, 168, 8),
        )


@dataclass(frozen=True, slots=True)
class AaveReserveInfo:
    """One reserve as read: asset, its Pool ``id``, tokens, decoded config, oracle price (base units)."""

    asset: str
    id: int
    config: AaveReserveConfig
    a_token: str
    stable_debt_token: str
    variable_debt_token: str
    price_base: int | None  # None: the oracle's getAssetPrice reverts for this asset


@dataclass(frozen=True, slots=True)
class AaveEModeInfo:
    id: int
    label: str
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    collateral_assets: tuple[str, ...]  # asset addresses using this category's LT/LB
    price_source: str = ZERO_ADDRESS  # v3.0/v3.1 only


@dataclass(frozen=True, slots=True)
class AaveMarketData:
    """Market-level read of one Aave pool at one block (addresses checksummed)."""

    pool: str
    addresses_provider: str
    oracle: str
    protocol_version: str  # "aave-v3.0" … "aave-v3.7"
    venue: Venue
    base_currency_unit: int
    base_currency: str  # address(0) = USD
    reserves: tuple[AaveReserveInfo, ...]
    emode_categories: tuple[AaveEModeInfo, ...]

    def reserve(self, asset: str) -> AaveReserveInfo:
        for reserve in self.reserves:
            if reserve.asset == asset:
                return reserve
        raise KeyError(asset)

    def to_market(self, symbols: Mapping[str, str], *, market_id: str, name: str) -> Market:
        """The Snapshot :class:`Market`; ``symbols`` maps asset address -> Asset.symbol."""
        reserves = tuple(
            Reserve(
                asset=symbols[r.asset],
                ltv_wad=r.config.ltv_bps * BPS_TO_WAD,
                liquidation_threshold_wad=r.config.liquidation_threshold_bps * BPS_TO_WAD,
                liquidation_bonus_wad=r.config.liquidation_bonus_bps * BPS_TO_WAD,
                protocol_fee_wad=r.config.liquidation_protocol_fee_bps * BPS_TO_WAD,
                oracle_price=r.price_base,
                can_be_collateral=r.config.liquidation_threshold_bps != 0,
                can_be_borrowed=r.config.borrowing_enabled,
            )
            for r in self.reserves
        )
        categories = tuple(
            EModeCategory(
                id=c.id,
                label=c.label,
                ltv_wad=c.ltv_bps * BPS_TO_WAD,
                liquidation_threshold_wad=c.liquidation_threshold_bps * BPS_TO_WAD,
                liquidation_bonus_wad=c.liquidation_bonus_bps * BPS_TO_WAD,
                collateral_assets=tuple(symbols[a] for a in c.collateral_assets),
            )
            for c in self.emode_categories
        )
        return Market(
            id=market_id,
            venue=self.venue,
            name=name,
            address=self.pool,
            protocol_version=self.protocol_version,
            price_unit=self.base_currency_unit,
            reserves=reserves,
            emode_categories=categories,
        )


@dataclass(frozen=True, slots=True)
class AavePositionData:
    """One user's position: raw amounts keyed by asset address (collateral = flagged only)."""

    account: str
    emode: int
    collateral: Mapping[str, int] = field(default_factory=dict)
    debt: Mapping[str, int] = field(default_factory=dict)

    def to_position(self, symbols: Mapping[str, str], *, market_id: str) -> Position:
        return Position(
            market=market_id,
            account=self.account,
            emode=self.emode,
            collateral={symbols[a]: v for a, v in self.collateral.items()},
            debt={symbols[a]: v for a, v in self.debt.items()},
        )


# --------------------------------------------------------------------------------------------
# Version table

POOL_REVISION_VERSIONS: Mapping[int, str] = {
    1: "aave-v3.0", 2: "aave-v3.0", 3: "aave-v3.0",
    4: "aave-v3.1",
    5: "aave-v3.2", 6: "aave-v3.2",
    7: "aave-v3.3",
    8: "aave-v3.4",
    9: "aave-v3.5",
    10: "aave-v3.6",
    11: "aave-v3.7",
}
"""``POOL_REVISION`` → protocol version (see the module docstring for the sources)."""


def aave_version_from_revision(
    revision: int | None, *, isolated_emode: bool, ltvzero_bitmap: bool, reserve_deficit: bool,
    collateral_bitmap: bool, grace_period: bool,
) -> tuple[str, str]:
    """(``"aave-v3.N"``, note) from ``POOL_REVISION`` and which version-marking getters answer.

    The revision decides when it is in :data:`POOL_REVISION_VERSIONS` and the getters allow it;
    otherwise the getters decide and ``note`` says why (empty when the table was used)."""
    if isolated_emode:
        allowed = (7, 99)
    elif ltvzero_bitmap:
        allowed = (6, 6)
    elif reserve_deficit:
        allowed = (3, 5)
    elif collateral_bitmap:
        allowed = (2, 2)
    elif grace_period:
        allowed = (1, 1)
    else:
        allowed = (0, 0)
    from_table = POOL_REVISION_VERSIONS.get(revision) if revision is not None else None
    if from_table is not None and allowed[0] <= _minor(from_table) <= allowed[1]:
        return from_table, ""
    fallback = f"aave-v3.{allowed[0]}"
    if revision is None:
        why = "POOL_REVISION() did not answer"
    elif from_table is None:
        why = f"POOL_REVISION {revision} is not in the version table"
    else:
        why = f"POOL_REVISION {revision} ({from_table}) contradicts the getters the pool has"
    return fallback, f"{why}; read as {fallback} from its getters"


# --------------------------------------------------------------------------------------------
# Reader


def _pool_fn(name: str) -> AbiFunction:
    return abi_function("AavePool", name)


class AaveV3Reader:
    """Read one Aave V3 / SparkLend pool.

    ``pool_or_provider_address``: the Pool proxy or its PoolAddressesProvider (resolved with
    ``getPool()``). ``market_id`` / ``name`` label the Snapshot market.
    """

    def __init__(self, transport: Transport, pool_or_provider_address: str, *, market_id: str = "aave-v3",
                 name: str = "Aave V3") -> None:
        self.transport = transport
        self.address = checksum(pool_or_provider_address, "Aave V3 Pool or PoolAddressesProvider")
        self.market_id = market_id
        self.name = name

    # ---------------------------------------------------------------------------- market

    def resolve(self, block: PinnedBlock | int) -> tuple[str, str, str]:
        """(pool, addresses provider, oracle) at ``block``; clear errors for wrong addresses."""
        expected = "an Aave V3 Pool or PoolAddressesProvider"
        address = require_contract(self.transport, self.address, block, expected)
        get_pool = abi_function("PoolAddressesProvider", "getPool")
        provider_fn = _pool_fn("ADDRESSES_PROVIDER")
        reserves_fn = _pool_fn("getReservesList")
        as_provider, as_pool_provider, as_pool = run_calls(
            self.transport, block,
            [Read(address, get_pool), Read(address, provider_fn), Read(address, reserves_fn)],
            what="Aave resolve", allow_failure=True,
        )
        if as_pool is not None and as_pool_provider is not None:
            pool, provider = address, checksum(as_pool_provider[0], "ADDRESSES_PROVIDER")
        elif as_provider is not None and int(as_provider[0], 16) != 0:
            provider = address
            pool = require_contract(self.transport, as_provider[0], block, f"the Aave Pool named by provider {address}")
        else:
            raise ReaderError(f"{address} is a contract but neither {expected} (getPool/getReservesList failed)")
        (oracle,) = run_calls(self.transport, block, [Read(provider, abi_function("PoolAddressesProvider", "getPriceOracle"))],
                              what=f"Aave provider {provider}")[0]  # type: ignore[index]
        oracle = require_contract(self.transport, oracle, block, f"the AaveOracle of provider {provider}")
        return pool, provider, oracle

    def read_market(self, block: PinnedBlock | int) -> AaveMarketData:
        pool, provider, oracle = self.resolve(block)
        (assets,) = run_calls(self.transport, block, [Read(pool, _pool_fn("getReservesList"))], what="Aave getReservesList")[0]  # type: ignore[index]
        assets = [checksum(a, "reserve") for a in assets]
        if not assets:
            raise ReaderError(f"Aave pool {pool} has no reserves at block {block_number(block)}")
        version = self._detect_version(pool, assets[0], block)
        venue: Venue = "aave_v33" if _minor(version) >= 3 else "aave_v30"
        with_stable = _minor(version) <= 1

        reads = [Read(pool, _pool_fn("getReserveData"), (a,)) for a in assets]
        reads.append(Read(oracle, abi_function("AaveOracle", "BASE_CURRENCY")))
        reads.append(Read(oracle, abi_function("AaveOracle", "BASE_CURRENCY_UNIT")))
        reads.append(Read(oracle, abi_function("AaveOracle", "getAssetsPrices"), (assets,)))
        decoded = run_calls(self.transport, block, reads, what=f"Aave pool {pool} reserves", allow_failure=True)
        if decoded[-2] is None or decoded[-3] is None:
            raise ReaderError(f"{oracle}: BASE_CURRENCY()/BASE_CURRENCY_UNIT() failed (expected an AaveOracle)")
        base_currency = checksum(decoded[-3][0], "BASE_CURRENCY")
        base_unit = int(decoded[-2][0])
        prices = list(decoded[-1][0]) if decoded[-1] is not None else self._prices_one_by_one(oracle, assets, block)
        reserves = []
        for asset, data, price in zip(assets, decoded[:-3], prices, strict=True):
            if data is None:
                raise ReaderError(f"Aave pool {pool}: getReserveData({asset}) failed at block {block_number(block)}")
            rd = named_outputs("AavePool", "getReserveData", data)  # fields by ABI name, never by position
            reserves.append(
                AaveReserveInfo(
                    asset=asset,
                    id=int(rd["id"]),
                    config=AaveReserveConfig.decode(int(rd["configuration"]["data"])),
                    a_token=checksum(rd["aTokenAddress"], "aToken"),
                    stable_debt_token=(checksum(rd["stableDebtTokenAddress"], "stableDebtToken") if with_stable
                                       else ZERO_ADDRESS),
                    variable_debt_token=checksum(rd["variableDebtTokenAddress"], "variableDebtToken"),
                    price_base=None if price is None else int(price),
                )
            )
        emodes = self._read_emodes(pool, reserves, version, block)
        return AaveMarketData(pool, provider, oracle, version, venue, base_unit, base_currency, tuple(reserves), emodes)

    def _prices_one_by_one(self, oracle: str, assets: list[str], block: PinnedBlock | int) -> list[int | None]:
        """Per-asset prices when ``getAssetsPrices`` reverted (it reverts if any one asset does):
        None for an asset whose ``getAssetPrice`` reverts — the Pool cannot value (nor liquidate)
        a position holding it; the scan skips those positions (chain.scan)."""
        fn = abi_function("AaveOracle", "getAssetPrice")
        decoded = run_calls(self.transport, block, [Read(oracle, fn, (a,)) for a in assets], what="Aave oracle",
                            allow_failure=True)
        for asset, d in zip(assets, decoded):
            if d is None:
                log.warning("AaveOracle %s: getAssetPrice(%s) reverts at block %d", oracle, asset, block_number(block))
        return [int(d[0]) if d is not None else None for d in decoded]

    def _detect_version(self, pool: str, asset: str, block: PinnedBlock | int) -> str:
        probes = [
            Read(pool, _pool_fn("POOL_REVISION")),
            Read(pool, _pool_fn("getIsEModeCategoryIsolated"), (1,)),
            Read(pool, _pool_fn("getEModeCategoryLtvzeroBitmap"), (1,)),
            Read(pool, _pool_fn("getReserveDeficit"), (asset,)),
            Read(pool, _pool_fn("getEModeCategoryCollateralBitmap"), (1,)),
            Read(pool, _pool_fn("getLiquidationGracePeriod"), (asset,)),
        ]
        decoded = run_calls(self.transport, block, probes, what="Aave version probe", allow_failure=True)
        revision = int(decoded[0][0]) if decoded[0] is not None else None
        isolated, ltvzero, deficit, bitmap, grace = (r is not None for r in decoded[1:])
        version, note = aave_version_from_revision(
            revision, isolated_emode=isolated, ltvzero_bitmap=ltvzero, reserve_deficit=deficit,
            collateral_bitmap=bitmap, grace_period=grace,
        )
        if note:
            log.warning("Aave pool %s at block %d: %s", pool, block_number(block), note)
        return version

    def _read_emodes(self, pool: str, reserves: list[AaveReserveInfo], version: str,
                     block: PinnedBlock | int) -> tuple[AaveEModeInfo, ...]:
        if _minor(version) <= 1:
            ids = sorted({r.config.emode_category_legacy for r in reserves} - {0})
            decoded = run_calls(self.transport, block, [Read(pool, _pool_fn("getEModeCategoryData"), (i,)) for i in ids],
                                what="Aave eMode categories")
            out = []
            for category_id, data in zip(ids, decoded, strict=True):
                category = named_outputs("AavePool", "getEModeCategoryData", data)  # type: ignore[arg-type]
                ltv, lt, lb = category["ltv"], category["liquidationThreshold"], category["liquidationBonus"]
                label = category["label"]
                price_source = checksum(category["priceSource"], "eMode priceSource")
                if price_source != ZERO_ADDRESS:
                    log.warning("Aave pool %s eMode %d has a price source %s: not represented in the snapshot "
                                "(users of that category are priced from it on chain)", pool, category_id, price_source)
                members = tuple(r.asset for r in reserves if r.config.emode_category_legacy == category_id)
                out.append(AaveEModeInfo(category_id, str(label), int(ltv), int(lt), int(lb), members, price_source))
            return tuple(out)
        # v3.2+: no category count; probe every id and keep those with a non-zero LT.
        ids = list(range(1, MAX_EMODE_ID + 1))
        reads = [Read(pool, _pool_fn("getEModeCategoryCollateralConfig"), (i,)) for i in ids]
        reads += [Read(pool, _pool_fn("getEModeCategoryCollateralBitmap"), (i,)) for i in ids]
        reads += [Read(pool, _pool_fn("getEModeCategoryLabel"), (i,)) for i in ids]
        decoded = run_calls(self.transport, block, reads, what="Aave eMode categories", allow_failure=True)
        n = len(ids)
        by_id = {r.id: r.asset for r in reserves}
        out = []
        for k, category_id in enumerate(ids):
            config, bitmap, label = decoded[k], decoded[n + k], decoded[2 * n + k]
            if config is None or bitmap is None:
                continue
            named = named_outputs("AavePool", "getEModeCategoryCollateralConfig", config)
            ltv, lt, lb = named["ltv"], named["liquidationThreshold"], named["liquidationBonus"]
            if lt == 0:
                continue
            members = tuple(asset for rid, asset in sorted(by_id.items()) if (int(bitmap[0]) >> rid) & 1)
            out.append(AaveEModeInfo(category_id, str(label[0]) if label else "", int(ltv), int(lt), int(lb), members))
        return tuple(out)

    # ------------------------------------------------------------------------- positions

    def read_positions(
        self, block: PinnedBlock | int, accounts: Iterable[str], market: AaveMarketData, *,
        include_suppliers: bool = False,
    ) -> list[AavePositionData]:
        """Positions of ``accounts`` (two multicall rounds: configs + eModes, then balances).

        Only borrowers (some borrowing bit set) unless ``include_suppliers``; collateral lists
        only reserves flagged as collateral with a non-zero balance."""
        accounts = sorted({checksum(a, "account") for a in accounts})
        if not accounts:
            return []
        pool = market.pool
        reads = [Read(pool, _pool_fn("getUserConfiguration"), (a,)) for a in accounts]
        reads += [Read(pool, _pool_fn("getUserEMode"), (a,)) for a in accounts]
        decoded = run_calls(self.transport, block, reads, what=f"Aave pool {pool} user configs")
        n = len(accounts)
        by_id = {r.id: r for r in market.reserves}
        balance_fn = abi_function("ERC20", "balanceOf")
        plans: list[tuple[str, int, list[tuple[str, str, AaveReserveInfo]]]] = []
        balance_reads: list[Read] = []
        for k, account in enumerate(accounts):
            config = int(named_outputs("AavePool", "getUserConfiguration", decoded[k])["data"])  # type: ignore[arg-type]
            emode = int(decoded[n + k][0])  # type: ignore[index]
            borrowing = any((config >> (2 * rid)) & 1 for rid in by_id)
            if config == 0 or (not borrowing and not include_suppliers):
                continue
            legs: list[tuple[str, str, AaveReserveInfo]] = []
            for rid, reserve in sorted(by_id.items()):
                if (config >> (2 * rid + 1)) & 1:
                    legs.append(("collateral", reserve.a_token, reserve))
                if (config >> (2 * rid)) & 1:
                    legs.append(("variable", reserve.variable_debt_token, reserve))
                    if reserve.stable_debt_token != ZERO_ADDRESS:
                        legs.append(("stable", reserve.stable_debt_token, reserve))
            plans.append((account, emode, legs))
            balance_reads += [Read(token, balance_fn, (account,)) for _, token, _ in legs]
        balances = run_calls(self.transport, block, balance_reads, what=f"Aave pool {pool} balances")
        out: list[AavePositionData] = []
        cursor = 0
        for account, emode, legs in plans:
            collateral: dict[str, int] = {}
            debt: dict[str, int] = {}
            for kind, _, reserve in legs:
                amount = int(balances[cursor][0])  # type: ignore[index]
                cursor += 1
                if kind == "collateral":
                    if amount:
                        collateral[reserve.asset] = amount
                elif amount:
                    debt[reserve.asset] = debt.get(reserve.asset, 0) + amount
            if not debt and not include_suppliers:
                continue
            out.append(AavePositionData(account, emode, collateral, debt))
        return out

    def read(self, block: PinnedBlock | int, accounts: Iterable[str]) -> tuple[Market, list[Position]]:
        """Convenience: market + positions labelled with the tokens' ERC-20 symbols."""
        market = self.read_market(block)
        meta = read_token_metadata(self.transport, block, [r.asset for r in market.reserves])
        symbols = {a: m.symbol for a, m in meta.items()}
        positions = self.read_positions(block, accounts, market)
        return (
            market.to_market(symbols, market_id=self.market_id, name=self.name),
            [p.to_position(symbols, market_id=self.market_id) for p in positions],
        )


def _minor(version: str) -> int:
    return int(version.removeprefix("aave-v3.").split(".")[0])


__all__ = [
    "POOL_REVISION_VERSIONS",
    "aave_version_from_revision",
    "AaveEModeInfo",
    "AaveMarketData",
    "AavePositionData",
    "AaveReserveConfig",
    "AaveReserveInfo",
    "AaveV3Reader",
    "Read",
    "ReaderError",
    "TokenMetadata",
    "block_number",
    "checksum",
    "read_token_metadata",
    "require_contract",
    "run_calls",
]

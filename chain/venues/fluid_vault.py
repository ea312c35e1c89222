"""Fluid vaults (Instadapp Fluid vault T1) as a registered venue (:mod:`chain.venues`): every borrow
position of the listed vaults at the pinned block, through the vault resolver.

What is read (all through Multicall3 at the pinned block, return values by ABI name; ``abis/Fluid*.json``
are subsets of the mainnet interfaces: ``IFluidVaultResolver`` / resolver ``main.sol`` and
``IFluidVaultT1`` of Instadapp/fluid-contracts-public @499e1ab40581fa71e71a934f2820d8385f1e1878 and
@9496626f71a761fc296dc3b2efbfd54c504e18f0):

1. per vault: ``constantsView()`` (supply / borrow token and decimals, vault id: the first nine
   fields, the same in IFluidVaultT1 @9496626's 13-field ConstantViews and in the 15-field one the
   v1.1.0 mainnet vaults were deployed with, deployments/deployments.md @3ec13bd35ebd, which adds
   liquidityTotalSupplySlot / liquidityTotalBorrowSlot after vaultId — decoded with the 13-field ABI,
   the extra words are not read; not checked against a node), the resolver's
   ``getVaultVariables2Raw`` (configs, decoded as resolver ``_getVaultConfig`` does: liquidation
   threshold bits 42-51, max limit 52-61 in 1e3; penalty 72-81 in 1e4; oracle address from bit 96),
   ``getRateRaw`` (the four exchange prices, 64 bits each, 1e12), ``getVaultState`` (top tick,
   branch, totals), ``getAbsorbedLiquidityRaw``, and the oracle's ``getExchangeRateLiquidate()``
   (debt per collateral, 1e27 in raw units: what a liquidation in the block uses);
2. the positions: ``totalPositions()`` NFTs, ``vaultByNftId(i)`` for each (no event scan: the NFT
   ids are 1..totalPositions), ``getPositionDataRaw(vault, nftId)`` of those in the listed vaults,
   decoded as resolver ``positionByNftId`` does (vaultT1 ``common/variables.sol`` layout @f8a93859: type
   bit, tick sign and value, tick id, supply and dust debt as 56|8-bit big numbers), and
   ``getTickDataRaw(vault, tick)`` of each tick (liquidated flag, total ids, raw tick debt);
   the position's debt is ``getRatioAtTick(tick) * supply >> 96`` minus its dust, raw amounts times the
   vault exchange prices / 1e12 (as the resolver).

A position whose tick was liquidated since it was opened (the tick's liquidated flag, or more ids
than the position's) needs the branch walk of ``fetchLatestPosition`` to get its current debt; it is
**not modelled here**: such positions are listed in ``Snapshot.skipped`` (never guessed).

Snapshot mapping (Market venue rule ``fluid_vault``, id ``fluid:<vault id>:<COL>/<DEBT>``):
collateral reserve LT = liquidation threshold, bonus = 1 + liquidation penalty, protocol fee =
liquidation max limit (the rule's documented column use, :mod:`risk.venues.fluid_vault`); the debt
reserve borrow-only. ``Position.account`` is the position NFT id as an address (the owner is the
NFT holder; the resolver reads it from the factory, which this reader does not need).

Prices: a collateral no other source prices gets its debt token's USD price times the vault
oracle's rate (``fluid-oracle:<oracle>``); nothing is priced from nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from chain.abi_reads import abi_read as _read
from chain.aave_v3 import Read, ReaderError, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.markets import _address, address_field
from chain.pricing import UsdPrice, UsdPricing
from chain.transport import Transport
from chain.venues import AssembleContext, BaseVenueRead, MarketEntryBase, ReadContext, VenueRows, register_venue
from risk.fluid_vaults import ratio_at_tick
from risk.snapshot import Market, Position, Reserve, Skipped

WAD = 10**18
EX_PRICE_UNIT = 10**12
_CHUNK = 400
X8, X19, X24, X64 = 0xFF, 0x7FFFF, 0xFFFFFF, 0xFFFFFFFFFFFFFFFF


def from_big_number(big: int) -> int:
    """``BigMathMinified.fromBigNumber(big, 8, X8)``: coefficient << exponent."""
    return (big >> 8) << (big & X8)


def nft_account(nft_id: int) -> str:
    """The Snapshot account of a position: its NFT id as an address."""
    return checksum("0x" + (nft_id & (2**160 - 1)).to_bytes(20, "big").hex(), "Fluid position account")


# ----------------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class FluidConfigs:
    """vaultVariables2, as resolver ``_getVaultConfig`` reads it (the stored units)."""

    collateral_factor_1e3: int
    liquidation_threshold_1e3: int
    liquidation_max_limit_1e3: int
    liquidation_penalty_1e4: int
    oracle: str

    @classmethod
    def decode(cls, raw: int) -> "FluidConfigs":
        return cls((raw >> 32) & 0x3FF, (raw >> 42) & 0x3FF, (raw >> 52) & 0x3FF, (raw >> 72) & 0x3FF,
                   checksum("0x" + (raw >> 96).to_bytes(20, "big").hex(), "Fluid oracle"))


@dataclass(frozen=True, slots=True)
class FluidExchangePrices:
    liquidity_supply: int
    liquidity_borrow: int
    vault_supply: int
    vault_borrow: int

    @classmethod
    def decode(cls, raw: int) -> "FluidExchangePrices":
        return cls(raw & X64, (raw >> 64) & X64, (raw >> 128) & X64, (raw >> 192) & X64)


@dataclass(frozen=True, slots=True)
class FluidPositionRaw:
    """positionData (vaultT1 common/variables.sol): raw amounts (divide by the exchange price 1e12)."""

    is_supply_position: bool
    tick: int
    tick_id: int
    supply_raw: int
    dust_debt_raw: int

    @classmethod
    def decode(cls, raw: int) -> "FluidPositionRaw":
        value = (raw >> 2) & X19
        tick = value if raw & 2 else -value
        return cls(bool(raw & 1), tick, (raw >> 21) & X24, from_big_number((raw >> 45) & X64),
                   from_big_number((raw >> 109) & X64))


@dataclass(frozen=True, slots=True)
class FluidTickRaw:
    liquidated: bool
    total_ids: int
    debt_raw: int  # 0 once liquidated (the debt then lives in the branch)

    @classmethod
    def decode(cls, raw: int) -> "FluidTickRaw":
        liquidated = bool(raw & 1)
        return cls(liquidated, (raw >> 1) & X24, 0 if liquidated else from_big_number((raw >> 25) & X64))


# ----------------------------------------------------------------------------------- typed rows


@dataclass(frozen=True, slots=True)
class FluidVaultData:
    """One vault at the block."""

    vault: str
    vault_id: int
    supply_token: str
    borrow_token: str
    supply_decimals: int
    borrow_decimals: int
    configs: FluidConfigs
    exchange_prices: FluidExchangePrices
    oracle_rate_1e27: int  # getExchangeRateLiquidate: raw debt per raw collateral, 1e27
    top_tick: int
    current_branch: int
    branch_liquidated: bool  # currentBranchState.status != 0
    total_supply: int  # normal amounts (raw * vault exchange price / 1e12)
    total_borrow: int
    absorbed_debt_raw: int
    absorbed_col_raw: int
    tick_debt_raw: tuple[tuple[int, int], ...] = ()  # (tick, raw debt) of the unliquidated ticks with debt

    def market_id(self, symbols: Mapping[str, str]) -> str:
        return f"fluid:{self.vault_id}:{symbols[self.supply_token]}/{symbols[self.borrow_token]}"

    def to_market(self, symbols: Mapping[str, str], *, name: str) -> Market:
        c = self.configs
        reserves = (
            Reserve(asset=symbols[self.supply_token], ltv_wad=c.collateral_factor_1e3 * 10**15,
                    liquidation_threshold_wad=c.liquidation_threshold_1e3 * 10**15,
                    liquidation_bonus_wad=WAD + c.liquidation_penalty_1e4 * 10**14,
                    protocol_fee_wad=c.liquidation_max_limit_1e3 * 10**15, can_be_collateral=True,
                    can_be_borrowed=False),
            Reserve(asset=symbols[self.borrow_token], ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                    can_be_collateral=False, can_be_borrowed=True),
        )
        return Market(id=self.market_id(symbols), venue="fluid_vault",
                      name=f"{name} {symbols[self.supply_token]}/{symbols[self.borrow_token]}", address=self.vault,
                      protocol_version="fluid-vault-t1", reserves=reserves)


@dataclass(frozen=True, slots=True)
class FluidPositionData:
    """A position at the block: the decoded storage and the resolver's normal amounts."""

    nft_id: int
    vault: str
    raw: FluidPositionRaw
    tick_liquidated: bool  # the tick was liquidated after the position was opened (needs the branch walk)
    supply: int  # collateral, normal amount (wei of the supply token)
    borrow: int  # net debt (total at the tick's ratio minus dust), normal amount
    dust_borrow: int

    @property
    def account(self) -> str:
        return nft_account(self.nft_id)

    def to_position(self, market_id: str, col_symbol: str, debt_symbol: str) -> Position:
        return Position(market=market_id, account=self.account,
                        collateral={col_symbol: self.supply} if self.supply else {},
                        debt={debt_symbol: self.borrow} if self.borrow else {})


# ------------------------------------------------------------------------------------- reader


class FluidVaultReader:
    """Read Fluid T1 vaults (mainnet or the devnet's FluidVaultDouble) through a vault resolver."""

    def __init__(self, transport: Transport, resolver: str, vaults: Sequence[str]) -> None:
        if not vaults:
            raise ReaderError("Fluid: give at least one vault")
        self.transport = transport
        self.resolver = checksum(resolver, "Fluid vault resolver")
        self.vaults = tuple(checksum(v, "Fluid vault") for v in vaults)

    def read_vaults(self, block: PinnedBlock | int) -> list[FluidVaultData]:
        require_contract(self.transport, self.resolver, block, "a Fluid vault resolver")
        for v in self.vaults:
            require_contract(self.transport, v, block, "a Fluid vault")
        reads = []
        for v in self.vaults:
            reads += [_read(v, "FluidVaultT1", "constantsView"),
                      _read(self.resolver, "FluidVaultResolver", "getVaultVariables2Raw", v),
                      _read(self.resolver, "FluidVaultResolver", "getRateRaw", v),
                      _read(self.resolver, "FluidVaultResolver", "getVaultState", v),
                      _read(self.resolver, "FluidVaultResolver", "getAbsorbedLiquidityRaw", v)]
        out = run_calls(self.transport, block, reads, what="Fluid vaults", allow_failure=True)
        parts = []
        for k, v in enumerate(self.vaults):
            part = out[5 * k: 5 * k + 5]
            if any(p is None for p in part):
                raise ReaderError(f"{v} is a contract but not a Fluid T1 vault the resolver {self.resolver} reads "
                                  f"(constantsView / vault variables did not read at block {block})")
            parts.append(part)
        configs = [FluidConfigs.decode(p[1][0]) for p in parts]  # type: ignore[index]
        rates = run_calls(self.transport, block, [_read(c.oracle, "FluidOracle", "getExchangeRateLiquidate")
                                                  for c in configs], what="Fluid vault oracles")
        vaults = []
        for v, p, c, rate in zip(self.vaults, parts, configs, rates, strict=True):
            const = _named_struct("FluidVaultT1", "constantsView", p[0])
            state = _named_struct("FluidVaultResolver", "getVaultState", p[3])
            branch = dict(zip(_component_names("FluidVaultResolver", "getVaultState", "currentBranchState"),
                              state["currentBranchState"], strict=True))
            absorbed = p[4][0]  # type: ignore[index]
            oracle_rate = rate[0]  # type: ignore[index]
            if oracle_rate == 0:
                raise ReaderError(f"Fluid vault {v}: oracle {c.oracle} answers 0 at block {block}")
            if not c.liquidation_threshold_1e3 < c.liquidation_max_limit_1e3 < 1000:
                raise ReaderError(f"Fluid vault {v}: liquidation threshold {c.liquidation_threshold_1e3}/1e3 and max "
                                  f"limit {c.liquidation_max_limit_1e3}/1e3 are not ordered below 100%")
            vaults.append(FluidVaultData(
                v, const["vaultId"], checksum(const["supplyToken"], "supplyToken"),
                checksum(const["borrowToken"], "borrowToken"), const["supplyDecimals"], const["borrowDecimals"], c,
                FluidExchangePrices.decode(p[2][0]), oracle_rate, state["topTick"], state["currentBranch"],  # type: ignore[index]
                branch["status"] != 0, state["totalSupply"], state["totalBorrow"], absorbed & (2**128 - 1),
                absorbed >> 128))
        return vaults

    def discover(self, block: PinnedBlock | int) -> dict[str, list[int]]:
        """NFT ids of the listed vaults' positions at the block (ids 1..totalPositions)."""
        (total,) = run_calls(self.transport, block, [_read(self.resolver, "FluidVaultResolver", "totalPositions")],
                             what="Fluid totalPositions")
        n = total[0]  # type: ignore[index]
        ours = {v: [] for v in self.vaults}  # type: dict[str, list[int]]
        for lo in range(1, n + 1, _CHUNK):
            ids = list(range(lo, min(n, lo + _CHUNK - 1) + 1))
            out = run_calls(self.transport, block, [_read(self.resolver, "FluidVaultResolver", "vaultByNftId", i)
                                                    for i in ids], what="Fluid vaultByNftId")
            for i, v in zip(ids, out, strict=True):
                vault = checksum(v[0], "vault")  # type: ignore[index]
                if vault in ours:
                    ours[vault].append(i)
        return ours

    def read_positions(self, block: PinnedBlock | int, vault: FluidVaultData,
                       nft_ids: Sequence[int]) -> tuple[list[FluidPositionData], FluidVaultData]:
        """The positions' decoded data and the vault with the raw debt of its ticks filled in."""
        raws: list[tuple[int, FluidPositionRaw]] = []
        for lo in range(0, len(nft_ids), _CHUNK):
            part = list(nft_ids[lo: lo + _CHUNK])
            out = run_calls(self.transport, block, [_read(self.resolver, "FluidVaultResolver", "getPositionDataRaw",
                                                          vault.vault, i) for i in part],
                            what=f"Fluid positions of {vault.vault}")
            raws += [(i, FluidPositionRaw.decode(o[0])) for i, o in zip(part, out, strict=True)]  # type: ignore[index]
        ticks = sorted({r.tick for _, r in raws if not r.is_supply_position})
        tick_data: dict[int, FluidTickRaw] = {}
        for lo in range(0, len(ticks), _CHUNK):
            part = ticks[lo: lo + _CHUNK]
            out = run_calls(self.transport, block, [_read(self.resolver, "FluidVaultResolver", "getTickDataRaw",
                                                          vault.vault, t) for t in part],
                            what=f"Fluid ticks of {vault.vault}")
            tick_data |= {t: FluidTickRaw.decode(o[0]) for t, o in zip(part, out, strict=True)}  # type: ignore[index]
        ex = vault.exchange_prices
        rows = []
        for nft, r in raws:
            if r.supply_raw == 0 and r.dust_debt_raw == 0 and r.tick == 0 and r.tick_id == 0:
                continue  # closed (or never opened in this vault)
            liquidated = False
            borrow_raw = dust_raw = 0
            if not r.is_supply_position:
                td = tick_data[r.tick]
                liquidated = td.liquidated or td.total_ids > r.tick_id
                total_raw = (ratio_at_tick(r.tick) * r.supply_raw) >> 96
                borrow_raw, dust_raw = (total_raw - r.dust_debt_raw, r.dust_debt_raw) \
                    if total_raw > r.dust_debt_raw else (0, 0)
            rows.append(FluidPositionData(nft, vault.vault, r, liquidated, r.supply_raw * ex.vault_supply // EX_PRICE_UNIT,
                                          borrow_raw * ex.vault_borrow // EX_PRICE_UNIT,
                                          dust_raw * ex.vault_borrow // EX_PRICE_UNIT))
        tick_debt = tuple((t, d.debt_raw) for t, d in sorted(tick_data.items()) if d.debt_raw > 0)
        from dataclasses import replace

        return rows, replace(vault, tick_debt_raw=tick_debt)


def _component_names(abi_name: str, function: str, field: str | None = None) -> tuple[str, ...]:
    from abis import load_abi

    (entry,) = [e for e in load_abi(abi_name) if e.get("type") == "function" and e.get("name") == function]
    comps = entry["outputs"][0]["components"]
    if field is not None:
        (sub,) = [c for c in comps if c["name"] == field]
        comps = sub["components"]
    return tuple(c["name"] for c in comps)


def _named_struct(abi_name: str, function: str, decoded: Sequence[Any] | None) -> dict[str, Any]:
    """A struct return value keyed by its ABI component names (never by position)."""
    if decoded is None:
        raise ReaderError(f"{abi_name}.{function} returned nothing")
    names = _component_names(abi_name, function)
    values = tuple(decoded[0])
    if len(names) != len(values):
        raise ReaderError(f"{abi_name}.{function}: {len(values)} values for fields {names}")
    return dict(zip(names, values, strict=True))


# ------------------------------------------------------------------------------------ the venue


@dataclass(frozen=True, slots=True)
class FluidSource:
    """Fluid T1 vaults to scan: the vault resolver and the vault addresses."""

    resolver: str
    vaults: tuple[str, ...]
    start_block: int = 0
    name: str = "Fluid"


@dataclass(frozen=True, slots=True)
class FluidRead:
    source: FluidSource
    vaults: tuple[tuple[FluidVaultData, tuple[FluidPositionData, ...]], ...]

    def tokens(self) -> set[str]:
        return {t for v, _ in self.vaults for t in (v.supply_token, v.borrow_token)}


def read_fluid(transport: Transport, block: PinnedBlock | int, source: FluidSource) -> FluidRead:
    """Every position of every vault of ``source`` at ``block``."""
    reader = FluidVaultReader(transport, source.resolver, source.vaults)
    vaults = reader.read_vaults(block)
    ids = reader.discover(block)
    out = []
    for v in vaults:
        rows, v_full = reader.read_positions(block, v, ids[v.vault])
        out.append((v_full, tuple(rows)))
    return FluidRead(source, tuple(out))


class FluidMarketEntry(MarketEntryBase):
    """Fluid vault T1: the vault resolver and the T1 vaults to read (Instadapp/fluid-contracts-public
    ``deployments/<network>/``); positions are the factory's NFTs, no event scan."""

    kind: Literal["fluid_vault"]
    resolver: str
    vaults: tuple[str, ...] = Field(min_length=1, description="FluidVaultT1 addresses")

    _check = address_field("resolver")
    _check_vaults = field_validator("vaults")(classmethod(lambda cls, v: tuple(_address(a) for a in v)))


@dataclass
class FluidVenueRead(BaseVenueRead):
    read_: FluidRead

    def tokens(self) -> Iterable[str]:
        return sorted(self.read_.tokens())

    def venue_decimals(self) -> Mapping[str, int]:
        out: dict[str, int] = {}
        for v, _ in self.read_.vaults:
            out[v.supply_token] = v.supply_decimals
            out[v.borrow_token] = v.borrow_decimals
        return out

    def own_prices(self, pricing: UsdPricing) -> None:
        for v, _ in self.read_.vaults:  # collateral from the debt token's price and the vault oracle
            debt_usd = pricing.usd(v.borrow_token)
            if v.supply_token not in pricing.prices and debt_usd is not None:
                per_unit = v.oracle_rate_1e27 / 10**27 * 10**(v.supply_decimals - v.borrow_decimals)
                pricing.prices[v.supply_token] = UsdPrice(debt_usd * per_unit, f"fluid-oracle:{v.configs.oracle}")

    def assemble(self, ctx: AssembleContext) -> VenueRows:
        out = VenueRows()
        for v, rows in self.read_.vaults:
            reason = ctx.prices.problem(v.supply_token) or ctx.prices.problem(v.borrow_token)
            market_id = v.market_id(ctx.symbols)
            if reason is not None:
                out.skipped.append(Skipped(venue="fluid_vault", market=market_id, asset=v.supply_token,
                                           reason=f"{reason} ({len(rows)} positions not read)"))
                continue
            out.markets.append(v.to_market(ctx.symbols, name=self.read_.source.name))
            col, debt = ctx.symbols[v.supply_token], ctx.symbols[v.borrow_token]
            for r in rows:
                if r.tick_liquidated:
                    out.skipped.append(Skipped(
                        venue="fluid_vault", market=market_id, account=r.account,
                        reason=f"position NFT {r.nft_id} was liquidated (tick {r.raw.tick}): its current debt needs "
                               "Fluid's branch walk (fetchLatestPosition), not modelled"))
                elif r.supply or r.borrow:
                    out.positions.append(r.to_position(market_id, col, debt))
        return out


def fluid_source(value: Any) -> FluidSource:
    """A :class:`FluidSource`, or a market-file ``fluid_vault`` entry."""
    if isinstance(value, FluidSource):
        return value
    return FluidSource(value.resolver, tuple(value.vaults), value.start_block, value.name)


@register_venue
class FluidVaultVenue:
    kind: ClassVar[str] = "fluid_vault"
    entry: ClassVar[type] = FluidMarketEntry
    source_type: ClassVar[type] = FluidSource

    def source_from_entry(self, entry: FluidMarketEntry) -> FluidSource:
        return fluid_source(entry)

    def source_address(self, source: FluidSource) -> str:
        return source.resolver

    def read(self, source: FluidSource, ctx: ReadContext) -> FluidVenueRead:
        return FluidVenueRead(read_fluid(ctx.transport, ctx.pinned, source))

    def devnet_entries(self, deployment: Any) -> list[dict[str, Any]]:
        """The devnet market-file entry of the Fluid TEST DOUBLE (chain/devnet/deploy_fluid.py)."""
        fluid = getattr(deployment, "fluid", None)
        if fluid is None:
            return []
        return [{"id": "fluid-devnet", "kind": "fluid_vault", "name": "Fluid vault T1 double (devnet)",
                 "resolver": fluid.resolver, "vaults": [v.vault for v in fluid.vaults],
                 "start_block": fluid.deploy_block,
                 "checked": "Fluid vault T1 TEST DOUBLE (chain/contracts/FluidVaultDouble.sol) deployed by chain.devnet"}]


__all__ = ["FluidConfigs", "FluidExchangePrices", "FluidMarketEntry", "FluidPositionData", "FluidPositionRaw", "FluidRead",
           "FluidSource", "FluidTickRaw", "FluidVaultData", "FluidVaultReader", "FluidVaultVenue", "FluidVenueRead",
           "fluid_source", "from_big_number", "nft_account", "read_fluid"]

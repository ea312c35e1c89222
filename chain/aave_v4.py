"""Aave V4 reader: a hub's spokes, their reserves and their users' positions at one pinned block.

Everything is read through Multicall3 at the pinned block, return values **by name** from the ABI
outputs (``abis/AaveV4Spoke.json``, ``AaveV4Hub.json``, ``AaveV4Oracle.json``: subsets of the
aave/aave-v4 interfaces as of ``src/spoke/Spoke.sol`` @8e6ea169d76ff0e51ccae3c8a48bf8fe060ba417):

1. per spoke (:meth:`AaveV4Reader.read_spoke`): ``ORACLE``, ``getLiquidationConfig``
   (targetHealthFactor, healthFactorForMaxBonus, liquidationBonusFactor), ``getReserveCount``, per
   reserve ``getReserve`` (underlying, hub, assetId, decimals, latest dynamicConfigKey, paused,
   frozen, borrowable; both struct layouts of the aave-v4 history, see :meth:`AaveV4Reader._reserves`),
   ``getDynamicReserveConfig(reserve, latest key)`` (collateralFactor, maxLiquidationBonus,
   liquidationFee) and the oracle's ``getReservePrice`` (8 decimals, USD). Every reserve is read,
   whichever hub it draws on (the spoke's health factor counts them all); a spoke listing one token
   twice (from two hubs) cannot be one Snapshot market and is skipped whole (``Snapshot.skipped``);
2. users: the caller's, or those discovered from the spoke's ``Supply`` / ``Borrow`` events
   (the user is topic 3);
3. per user and reserve (:meth:`AaveV4Reader.read_positions`): ``getUserReserveStatus``
   (using as collateral, borrowing), ``getUserSuppliedAssets``, ``getUserTotalDebt`` (drawn +
   premium, rounded up, as liquidations use it) and ``getUserPosition`` (its dynamicConfigKey), plus
   ``getUserAccountData`` (the spoke's own health factor, kept for checks).

Snapshot mapping (Market venue ``aave_v4``, one Market per spoke, id ``<source id>:<spoke name>``):
reserve LT = LTV = ``collateralFactor`` (bps -> WAD), bonus = ``maxLiquidationBonus``, protocol fee =
``liquidationFee``, ``oracle_price`` = the spoke oracle's answer (``price_unit`` 1e8);
``Market.rule_params`` = the spoke's liquidation config. Position collateral = supplied assets of
the reserves used as collateral; debt = total debt. A position whose collateral uses an older
dynamic config key than the reserve's latest (different collateral factor or bonus) is listed in
``Snapshot.skipped``: one reserve config per market is what the Snapshot holds, and a wrong factor
would be a wrong answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from chain.abi_reads import abi_read as _read, named
from chain.aave_v3 import Read, ReaderError, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.discovery import EventSource, EventSpec
from chain.transport import Transport
from risk.snapshot import Market, Position, Reserve, Skipped

BPS_TO_WAD = 10**14
PRICE_UNIT = 10**8
_CHUNK = 400

SUPPLY_EVENT = "Supply(uint256,address,address,uint256,uint256)"
BORROW_EVENT = "Borrow(uint256,address,address,uint256,uint256)"
"""Spoke.sol @8e6ea169 (and the devnet double): ``(reserveId, caller, user, shares, amount)``."""
SUPPLY_EVENT_SHARES = "Supply(uint256,address,address,uint256)"
BORROW_EVENT_SHARES = "Borrow(uint256,address,address,uint256)"
"""Later aave-v4 (ISpokeBase.sol @012a3fb1): ``(reserveId, caller, user, shares)``; both are scanned."""


def spoke_event_source(name: str, spoke: str, start_block: int) -> EventSource:
    """Supply and Borrow of a spoke, in both signatures of the aave-v4 history (the user is the third
    indexed topic in each)."""
    return EventSource(f"Aave V4 spoke {name}", spoke, (
        EventSpec("Supply", SUPPLY_EVENT, "topic", 3), EventSpec("Borrow", BORROW_EVENT, "topic", 3),
        EventSpec("Supply", SUPPLY_EVENT_SHARES, "topic", 3), EventSpec("Borrow", BORROW_EVENT_SHARES, "topic", 3)),
        start_block)


@dataclass(frozen=True, slots=True)
class SpokeRef:
    name: str
    address: str


@dataclass(frozen=True, slots=True)
class AaveV4Source:
    """An Aave V4 hub and the spokes to read (each with a short name: the market id's suffix)."""

    hub: str
    spokes: tuple[SpokeRef, ...]
    start_block: int = 0
    name: str = "Aave V4"
    id: str = "aave-v4"


@dataclass(frozen=True, slots=True)
class V4ReserveData:
    reserve_id: int
    underlying: str
    hub: str
    asset_id: int
    decimals: int
    dynamic_config_key: int
    paused: bool
    frozen: bool
    borrowable: bool
    collateral_factor_bps: int
    max_liquidation_bonus_bps: int
    liquidation_fee_bps: int
    price: int  # oracle answer, 8 decimals USD
    price_problem: str | None = None  # why the oracle gives no usable price, if so


@dataclass(frozen=True, slots=True)
class V4SpokeData:
    name: str
    spoke: str
    oracle: str
    target_health_factor_wad: int
    health_factor_for_max_bonus_wad: int
    liquidation_bonus_factor_bps: int
    reserves: tuple[V4ReserveData, ...]
    problem: str | None = None  # why the spoke cannot be a Snapshot market (then it is skipped, not read)

    def market_id(self, source_id: str) -> str:
        return f"{source_id}:{self.name}"

    def rule_params(self) -> dict[str, int]:
        return {"target_health_factor_wad": self.target_health_factor_wad,
                "health_factor_for_max_bonus_wad": self.health_factor_for_max_bonus_wad,
                "liquidation_bonus_factor_bps": self.liquidation_bonus_factor_bps}

    def to_market(self, symbols: Mapping[str, str], *, source_id: str, name: str) -> Market:
        reserves = tuple(Reserve(
            asset=symbols[r.underlying], ltv_wad=r.collateral_factor_bps * BPS_TO_WAD,
            liquidation_threshold_wad=r.collateral_factor_bps * BPS_TO_WAD,
            liquidation_bonus_wad=r.max_liquidation_bonus_bps * BPS_TO_WAD,
            protocol_fee_wad=r.liquidation_fee_bps * BPS_TO_WAD, oracle_price=r.price,
            can_be_collateral=r.collateral_factor_bps > 0, can_be_borrowed=r.borrowable, paused=r.paused,
            frozen=r.frozen) for r in self.reserves)
        return Market(id=self.market_id(source_id), venue="aave_v4", name=f"{name} {self.name}", address=self.spoke,
                      protocol_version="aave-v4", price_unit=PRICE_UNIT, reserves=reserves,
                      rule_params=self.rule_params())


@dataclass(frozen=True, slots=True)
class V4UserReserve:
    reserve_id: int
    using_as_collateral: bool
    borrowing: bool
    supplied_assets: int
    total_debt: int
    dynamic_config_key: int


@dataclass(frozen=True, slots=True)
class V4PositionData:
    user: str
    reserves: tuple[V4UserReserve, ...]
    health_factor_wad: int
    total_collateral_value: int
    total_debt_value: int
    active_collateral_count: int
    borrowed_count: int
    stale_config: tuple[str, ...] = field(default=())  # why the position cannot be modelled, if so

    def to_position(self, spoke: V4SpokeData, symbols: Mapping[str, str], source_id: str) -> Position:
        by_id = {r.reserve_id: r for r in spoke.reserves}
        collateral = {symbols[by_id[u.reserve_id].underlying]: u.supplied_assets for u in self.reserves
                      if u.using_as_collateral and u.supplied_assets > 0}
        debt = {symbols[by_id[u.reserve_id].underlying]: u.total_debt for u in self.reserves if u.total_debt > 0}
        return Position(market=spoke.market_id(source_id), account=self.user, collateral=collateral, debt=debt)


class AaveV4Reader:
    """Read Aave V4 spokes of one hub (mainnet or the devnet's AaveV4Double)."""

    def __init__(self, transport: Transport, hub: str) -> None:
        self.transport = transport
        self.hub = checksum(hub, "Aave V4 hub")

    def read_spoke(self, block: PinnedBlock | int, ref: SpokeRef) -> V4SpokeData:
        spoke = require_contract(self.transport, ref.address, block, f"the Aave V4 spoke {ref.name!r}")
        head = run_calls(self.transport, block, [_read(spoke, "AaveV4Spoke", "ORACLE"),
                                                 _read(spoke, "AaveV4Spoke", "getLiquidationConfig"),
                                                 _read(spoke, "AaveV4Spoke", "getReserveCount")],
                         what=f"Aave V4 spoke {ref.name}", allow_failure=True)
        if any(v is None for v in head):
            raise ReaderError(f"{spoke} is a contract but not an Aave V4 spoke (ORACLE / getLiquidationConfig / "
                              f"getReserveCount did not read at block {block})")
        oracle = checksum(head[0][0], "spoke ORACLE")  # type: ignore[index]
        config = named("AaveV4Spoke", "getLiquidationConfig", head[1])
        count = int(head[2][0])  # type: ignore[index]
        reserves = self._reserves(block, spoke, ref.name, count)
        reads: list[Read] = []
        for i, r in enumerate(reserves):
            reads += [_read(spoke, "AaveV4Spoke", "getDynamicReserveConfig", i, r["dynamicConfigKey"]),
                      _read(oracle, "AaveV4Oracle", "getReservePrice", i)]
        cfg = run_calls(self.transport, block, reads, what=f"Aave V4 spoke {ref.name} configs and prices",
                        allow_failure=True)
        rows = []
        for i, r in enumerate(reserves):
            if cfg[2 * i] is None:
                raise ReaderError(f"Aave V4 spoke {ref.name}: getDynamicReserveConfig({i}, {r['dynamicConfigKey']}) "
                                  f"did not read at block {block}")
            dyn = named("AaveV4Spoke", "getDynamicReserveConfig", cfg[2 * i])
            answer = cfg[2 * i + 1]
            price = int(answer[0]) if answer is not None else 0
            # The spoke prices every reserve a user holds: one it cannot price makes those positions
            # unliquidatable and unvaluable; the venue skips them (never a guessed price).
            price_problem = ("the spoke oracle's getReservePrice reverts" if answer is None
                             else "the spoke oracle answers 0" if price <= 0 else None)
            rows.append(V4ReserveData(
                i, checksum(r["underlying"], "reserve underlying"), checksum(r["hub"], "reserve hub"), int(r["assetId"]),
                int(r["decimals"]),
                int(r["dynamicConfigKey"]), bool(r["paused"]), bool(r["frozen"]), bool(r["borrowable"]),
                int(dyn["collateralFactor"]), int(dyn["maxLiquidationBonus"]), int(dyn["liquidationFee"]), price,
                price_problem))
        underlyings = [r.underlying for r in rows]
        twice = sorted({u for u in underlyings if underlyings.count(u) > 1})
        problem = (f"lists {', '.join(twice)} more than once (reserves of several hubs): one reserve per asset and "
                   f"market is what a Snapshot holds, so the spoke is not read" if twice else None)
        return V4SpokeData(ref.name, spoke, oracle, int(config["targetHealthFactor"]),
                           int(config["healthFactorForMaxBonus"]), int(config["liquidationBonusFactor"]), tuple(rows),
                           problem)

    def _reserves(self, block: PinnedBlock | int, spoke: str, name: str, count: int) -> list[dict[str, Any]]:
        """``getReserve`` of every reserve, by name. Two layouts exist: Spoke.sol @8e6ea169 returns
        (underlying, hub, assetId, decimals, dynamicConfigKey, paused, frozen, borrowable,
        collateralRisk); later aave-v4 commits (ISpoke.sol @00564eab) pack the booleans into ``flags``
        and expose them through ``getReserveConfig`` (abis/AaveV4SpokeFlags.json). The first layout is
        tried first: the second's 7 words cannot decode as the first's 9, so a spoke of either kind
        reads right and anything else is an error."""
        old = run_calls(self.transport, block, [_read(spoke, "AaveV4Spoke", "getReserve", i) for i in range(count)],
                        what=f"Aave V4 spoke {name} reserves", allow_failure=True)
        if all(r is not None for r in old):
            return [named("AaveV4Spoke", "getReserve", r) for r in old]
        reads: list[Read] = []
        for i in range(count):
            reads += [_read(spoke, "AaveV4SpokeFlags", "getReserve", i), _read(spoke, "AaveV4SpokeFlags", "getReserveConfig", i)]
        new = run_calls(self.transport, block, reads, what=f"Aave V4 spoke {name} reserves (flags layout)")
        out = []
        for i in range(count):
            reserve = named("AaveV4SpokeFlags", "getReserve", new[2 * i])
            config = named("AaveV4SpokeFlags", "getReserveConfig", new[2 * i + 1])
            out.append({**reserve, "paused": config["paused"], "frozen": config["frozen"],
                        "borrowable": config["borrowable"]})
        return out

    def read_positions(self, block: PinnedBlock | int, spoke: V4SpokeData, users: Sequence[str]) -> list[V4PositionData]:
        ids = [r.reserve_id for r in spoke.reserves]
        per_user = 4 * len(ids) + 1
        out: list[V4PositionData] = []
        step = max(1, _CHUNK // per_user)
        for lo in range(0, len(users), step):
            part = [checksum(u, "Aave V4 user") for u in users[lo: lo + step]]
            reads: list[Read] = []
            for u in part:
                reads.append(_read(spoke.spoke, "AaveV4Spoke", "getUserAccountData", u))
                for i in ids:
                    reads += [_read(spoke.spoke, "AaveV4Spoke", "getUserReserveStatus", i, u),
                              _read(spoke.spoke, "AaveV4Spoke", "getUserSuppliedAssets", i, u),
                              _read(spoke.spoke, "AaveV4Spoke", "getUserTotalDebt", i, u),
                              _read(spoke.spoke, "AaveV4Spoke", "getUserPosition", i, u)]
            got = run_calls(self.transport, block, reads, what=f"Aave V4 spoke {spoke.name} positions")
            for k, u in enumerate(part):
                base = k * per_user
                account = named("AaveV4Spoke", "getUserAccountData", got[base])
                rows = []
                for n, i in enumerate(ids):
                    status, supplied, debt, position = got[base + 1 + 4 * n: base + 5 + 4 * n]
                    pos = named("AaveV4Spoke", "getUserPosition", position)
                    rows.append(V4UserReserve(i, bool(status[0]), bool(status[1]), int(supplied[0]),  # type: ignore[index]
                                              int(debt[0]), int(pos["dynamicConfigKey"])))  # type: ignore[index]
                out.append(V4PositionData(u, tuple(rows), int(account["healthFactor"]),
                                          int(account["totalCollateralValue"]), int(account["totalDebtValue"]),
                                          int(account["activeCollateralCount"]), int(account["borrowedCount"])))
        return self._check_config_keys(block, spoke, out)

    def _check_config_keys(self, block: PinnedBlock | int, spoke: V4SpokeData,
                           positions: list[V4PositionData]) -> list[V4PositionData]:
        """Positions whose collateral sits on an older dynamic config key with other parameters than
        the latest get ``stale_config`` (they are skipped, not modelled with the wrong factor)."""
        latest = {r.reserve_id: r for r in spoke.reserves}
        wanted = sorted({(u.reserve_id, u.dynamic_config_key) for p in positions for u in p.reserves
                         if u.using_as_collateral and u.supplied_assets > 0
                         and u.dynamic_config_key != latest[u.reserve_id].dynamic_config_key})
        if not wanted:
            return positions
        got = run_calls(self.transport, block, [_read(spoke.spoke, "AaveV4Spoke", "getDynamicReserveConfig", i, key)
                                                for i, key in wanted], what=f"Aave V4 spoke {spoke.name} older configs")
        differs = set()
        for (i, key), value in zip(wanted, got, strict=True):
            dyn = named("AaveV4Spoke", "getDynamicReserveConfig", value)
            r = latest[i]
            if (dyn["collateralFactor"], dyn["maxLiquidationBonus"], dyn["liquidationFee"]) != (
                    r.collateral_factor_bps, r.max_liquidation_bonus_bps, r.liquidation_fee_bps):
                differs.add((i, key))
        out = []
        for p in positions:
            stale = tuple(f"reserve {u.reserve_id} uses dynamic config key {u.dynamic_config_key}, not the latest "
                          f"{latest[u.reserve_id].dynamic_config_key}" for u in p.reserves
                          if u.using_as_collateral and u.supplied_assets > 0 and (u.reserve_id, u.dynamic_config_key) in differs)
            out.append(p if not stale else V4PositionData(p.user, p.reserves, p.health_factor_wad, p.total_collateral_value,
                                                          p.total_debt_value, p.active_collateral_count, p.borrowed_count,
                                                          stale))
        return out


def skipped_position(spoke: V4SpokeData, position: V4PositionData, source_id: str) -> Skipped:
    return Skipped(venue="aave_v4", market=spoke.market_id(source_id), account=position.user,
                   reason="; ".join(position.stale_config) + " with other parameters: per-position configs are not modelled")


__all__ = ["AaveV4Reader", "AaveV4Source", "BORROW_EVENT", "SUPPLY_EVENT", "SpokeRef", "V4PositionData", "V4ReserveData",
           "V4SpokeData", "V4UserReserve", "skipped_position", "spoke_event_source"]

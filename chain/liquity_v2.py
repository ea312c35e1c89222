"""Liquity v2 (BOLD) reader: each collateral branch's troves at one pinned block.

A branch is named by its ``AddressesRegistry`` (mainnet: liquity/bold ``contracts/addresses/1.json``).
Everything is read through Multicall3 at the pinned block (hash-pinned by the scan's
:class:`chain.blocks.PinnedTransport`), return values **by name** from the ABI outputs
(``abis/Liquity*.json``, subsets of the mainnet interfaces):

1. :meth:`LiquityV2Reader.read_branches`: the registry's constants (``MCR``, ``CCR``, ``SCR``,
   ``LIQUIDATION_PENALTY_SP``, ``LIQUIDATION_PENALTY_REDISTRIBUTION``) and addresses (``collToken``,
   ``troveManager``, ``sortedTroves``, ``stabilityPool``, ``priceFeed``); the price the branch
   liquidates at (``PriceFeed.fetchPrice()`` as an ``eth_call``: what a liquidation in the block
   would use), ``StabilityPool.getTotalBoldDeposits``, ``TroveManager.getEntireBranchColl`` /
   ``getEntireBranchDebt`` (the TCR), ``shutdownTime``, ``lastZombieTroveId`` and
   ``getTroveIdsCount``;
2. :meth:`LiquityV2Reader.discover`: every active or zombie trove, from the ``TroveIds`` array
   (``getTroveFromTroveIdsArray(i)`` for ``i < getTroveIdsCount()``): no event scan needed, and
   exactly the set at the block;
3. :meth:`LiquityV2Reader.read_troves`: per trove ``Troves(id)`` (recorded debt, coll, stake, status,
   rate, batch manager), ``rewardSnapshots(id)`` and ``getLatestTroveData(id)`` (entire debt and coll
   with interest and pending redistribution: what liquidation and redemption use), and
   ``SortedTroves.nodes(id)``, from which the redemption order (tail to head: lowest rate first) is
   rebuilt locally — one batch instead of a walk of dependent calls.

Snapshot mapping (Market venue ``liquity_v2``, one Market per branch, id ``liquity-v2:<SYMBOL>``):
collateral reserve LT = ``1 / MCR`` (``WAD * WAD // MCR``), bonus = ``1 + LIQUIDATION_PENALTY_SP``,
no protocol fee; BOLD reserve debt only, at 1 USD (the protocol's own accounting unit).
``Position.account`` is the trove id's low 160 bits (the Snapshot needs an address; the full id is
in :class:`risk.venues.liquity_v2.LiquityTrove`); collateral = ``entireColl``, debt = ``entireDebt``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chain.abi_reads import abi_read as _read, named
from chain.aave_v3 import Read, ReaderError, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.transport import Transport
from risk.liquity_v2 import STATUS_ACTIVE, STATUS_ZOMBIE, BranchParams
from risk.snapshot import Market, Position, Reserve
from risk.venues.liquity_v2 import LiquityBranch, LiquityTrove

WAD = 10**18
ZERO = "0x0000000000000000000000000000000000000000"
_CHUNK = 400


def trove_account(trove_id: int) -> str:
    """The Snapshot account of a trove: its id's low 160 bits as an address."""
    return checksum("0x" + (trove_id & (2**160 - 1)).to_bytes(20, "big").hex(), "trove account")


# ----------------------------------------------------------------------------------- typed rows


@dataclass(frozen=True, slots=True)
class LiquityBranchData:
    """One branch at the block (units in the names: WAD = 1e18, wei of the token)."""

    addresses_registry: str
    coll_token: str
    trove_manager: str
    sorted_troves: str
    stability_pool: str
    price_feed: str
    params: BranchParams
    price_wad: int
    sp_deposits_wei: int
    branch_coll_wei: int
    branch_debt_wei: int
    shutdown_time: int
    last_zombie_trove_id: int
    trove_count: int

    def market_id(self, symbol: str) -> str:
        return f"liquity-v2:{symbol}"

    def to_market(self, symbols: Mapping[str, str], *, bold: str, name: str) -> Market:
        p = self.params
        lt = WAD * WAD // p.mcr_wad
        reserves = (
            Reserve(asset=symbols[self.coll_token], ltv_wad=lt, liquidation_threshold_wad=lt,
                    liquidation_bonus_wad=WAD + p.penalty_sp_wad, protocol_fee_wad=0, oracle_price=self.price_wad,
                    can_be_collateral=True, can_be_borrowed=False),
            Reserve(asset=symbols[bold], ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                    oracle_price=WAD, can_be_collateral=False, can_be_borrowed=True),
        )
        sym = symbols[self.coll_token]
        return Market(id=self.market_id(sym), venue="liquity_v2", name=f"{name} {sym}", address=self.trove_manager,
                      protocol_version="liquity-v2", price_unit=WAD, reserves=reserves)


@dataclass(frozen=True, slots=True)
class LiquityTroveData:
    """A trove's stored state and its latest (entire) debt and collateral at the block."""

    trove_id: int
    status: int
    debt_wei: int  # recorded
    coll_wei: int
    stake: int
    last_debt_update_time: int
    annual_interest_rate_wad: int
    interest_batch_manager: str
    snapshot_coll: int
    snapshot_debt: int
    entire_debt_wei: int
    entire_coll_wei: int
    redist_bold_debt_gain: int
    redist_coll_gain: int
    accrued_interest: int
    next_id: int  # SortedTroves node (0 for a zombie, which is not in the list)
    prev_id: int
    in_sorted_list: bool

    @property
    def account(self) -> str:
        return trove_account(self.trove_id)

    def to_position(self, market_id: str, coll_symbol: str, bold_symbol: str) -> Position:
        return Position(market=market_id, account=self.account,
                        collateral={coll_symbol: self.entire_coll_wei} if self.entire_coll_wei else {},
                        debt={bold_symbol: self.entire_debt_wei} if self.entire_debt_wei else {})


def redemption_order(troves: Sequence[LiquityTroveData], last_zombie_trove_id: int = 0) -> list[int]:
    """Trove ids in the order ``TroveManager.redeemCollateral`` visits them: a pending partially
    redeemed zombie first, then the SortedTroves list from its tail (lowest rate) to its head; other
    zombies (not in the list, never reached by normal redemptions) at the end."""
    listed = {t.trove_id: t for t in troves if t.in_sorted_list}
    tails = [t for t in listed.values() if t.next_id == 0]
    order: list[int] = [last_zombie_trove_id] if last_zombie_trove_id in {t.trove_id for t in troves} else []
    if listed:
        if len(tails) != 1:
            raise ReaderError(f"SortedTroves: {len(tails)} list tails among {len(listed)} troves (a broken list?)")
        cur = tails[0]
        seen: set[int] = set()
        while True:
            if cur.trove_id in seen:
                raise ReaderError("SortedTroves: the list has a cycle")
            seen.add(cur.trove_id)
            order.append(cur.trove_id)
            if cur.prev_id == 0:
                break
            if cur.prev_id not in listed:
                raise ReaderError(f"SortedTroves: node {cur.prev_id} is not an active trove of the branch")
            cur = listed[cur.prev_id]
        if len(seen) != len(listed):
            raise ReaderError(f"SortedTroves: walked {len(seen)} of {len(listed)} listed troves")
    order += [t.trove_id for t in troves if not t.in_sorted_list and t.trove_id not in order]
    return order


# ------------------------------------------------------------------------------------- reader


class LiquityV2Reader:
    """Read Liquity v2 branches (mainnet or the devnet's LiquityV2Double) named by their registries."""

    def __init__(self, transport: Transport, registries: Sequence[str]) -> None:
        if not registries:
            raise ReaderError("Liquity v2: give at least one branch AddressesRegistry")
        self.transport = transport
        self.registries = tuple(checksum(r, "Liquity v2 AddressesRegistry") for r in registries)

    def read_branches(self, block: PinnedBlock | int) -> list[LiquityBranchData]:
        for r in self.registries:
            require_contract(self.transport, r, block, "a Liquity v2 AddressesRegistry")
        fields = ("MCR", "CCR", "SCR", "LIQUIDATION_PENALTY_SP", "LIQUIDATION_PENALTY_REDISTRIBUTION", "collToken",
                  "troveManager", "sortedTroves", "stabilityPool", "priceFeed")
        reads = [_read(r, "LiquityAddressesRegistry", f) for r in self.registries for f in fields]
        out = run_calls(self.transport, block, reads, what="Liquity v2 AddressesRegistry", allow_failure=True)
        regs = []
        for k, r in enumerate(self.registries):
            part = out[k * len(fields):(k + 1) * len(fields)]
            if any(v is None for v in part):
                raise ReaderError(f"{r} is a contract but not a Liquity v2 AddressesRegistry (its constants or "
                                  f"addresses did not read at block {block})")
            regs.append({f: v[0] for f, v in zip(fields, part, strict=True)})  # type: ignore[index]
        state_reads = []
        for g in regs:
            tm, sp, feed = g["troveManager"], g["stabilityPool"], g["priceFeed"]
            state_reads += [_read(feed, "LiquityPriceFeed", "fetchPrice"),
                            _read(sp, "LiquityStabilityPool", "getTotalBoldDeposits"),
                            _read(tm, "LiquityTroveManager", "getEntireBranchColl"),
                            _read(tm, "LiquityTroveManager", "getEntireBranchDebt"),
                            _read(tm, "LiquityTroveManager", "shutdownTime"),
                            _read(tm, "LiquityTroveManager", "lastZombieTroveId"),
                            _read(tm, "LiquityTroveManager", "getTroveIdsCount")]
        st = run_calls(self.transport, block, state_reads, what="Liquity v2 branch state")
        branches = []
        for k, (r, g) in enumerate(zip(self.registries, regs, strict=True)):
            price, deposits, coll, debt, shutdown, zombie, count = (v for v in st[7 * k: 7 * k + 7])
            price_wad = price[0]  # type: ignore[index]
            if price_wad == 0:
                raise ReaderError(f"Liquity v2 branch {r}: PriceFeed {g['priceFeed']} answers 0 at block {block}")
            params = BranchParams(g["MCR"], g["CCR"], g["SCR"], g["LIQUIDATION_PENALTY_SP"],
                                  g["LIQUIDATION_PENALTY_REDISTRIBUTION"])
            if params.mcr_wad == 0:
                raise ReaderError(f"Liquity v2 branch {r}: MCR is 0")
            branches.append(LiquityBranchData(
                r, checksum(g["collToken"], "collToken"), checksum(g["troveManager"], "troveManager"),
                checksum(g["sortedTroves"], "sortedTroves"), checksum(g["stabilityPool"], "stabilityPool"),
                checksum(g["priceFeed"], "priceFeed"), params, price_wad, deposits[0], coll[0], debt[0],  # type: ignore[index]
                shutdown[0], zombie[0], count[0]))  # type: ignore[index]
        return branches

    def discover(self, block: PinnedBlock | int, branch: LiquityBranchData) -> list[int]:
        """Every active or zombie trove id of the branch at the block (the ``TroveIds`` array)."""
        ids: list[int] = []
        for lo in range(0, branch.trove_count, _CHUNK):
            reads = [_read(branch.trove_manager, "LiquityTroveManager", "getTroveFromTroveIdsArray", i)
                     for i in range(lo, min(branch.trove_count, lo + _CHUNK))]
            ids += [v[0] for v in run_calls(self.transport, block, reads, what="Liquity v2 TroveIds")]  # type: ignore[index]
        if len(set(ids)) != len(ids):
            raise ReaderError(f"Liquity v2 {branch.trove_manager}: TroveIds repeats an id at block {block}")
        return ids

    def read_troves(self, block: PinnedBlock | int, branch: LiquityBranchData,
                    trove_ids: Sequence[int]) -> list[LiquityTroveData]:
        tm, srt = branch.trove_manager, branch.sorted_troves
        rows: list[LiquityTroveData] = []
        for lo in range(0, len(trove_ids), _CHUNK // 4):
            part = list(trove_ids[lo: lo + _CHUNK // 4])
            reads = []
            for tid in part:
                reads += [_read(tm, "LiquityTroveManager", "Troves", tid),
                          _read(tm, "LiquityTroveManager", "rewardSnapshots", tid),
                          _read(tm, "LiquityTroveManager", "getLatestTroveData", tid),
                          _read(srt, "LiquitySortedTroves", "nodes", tid)]
            out = run_calls(self.transport, block, reads, what=f"Liquity v2 troves of {tm}")
            for k, tid in enumerate(part):
                t = named("LiquityTroveManager", "Troves", out[4 * k])
                snap = named("LiquityTroveManager", "rewardSnapshots", out[4 * k + 1])
                latest = named("LiquityTroveManager", "getLatestTroveData", out[4 * k + 2])
                node = named("LiquitySortedTroves", "nodes", out[4 * k + 3])
                if t["status"] not in (STATUS_ACTIVE, STATUS_ZOMBIE):
                    raise ReaderError(f"Liquity v2 trove {tid} of {tm} has status {t['status']} but is in TroveIds")
                rows.append(LiquityTroveData(
                    tid, t["status"], t["debt"], t["coll"], t["stake"], t["lastDebtUpdateTime"], t["annualInterestRate"],
                    checksum(t["interestBatchManager"], "interestBatchManager"), snap["coll"], snap["boldDebt"],
                    latest["entireDebt"], latest["entireColl"], latest["redistBoldDebtGain"], latest["redistCollGain"],
                    latest["accruedInterest"], node["nextId"], node["prevId"], bool(node["exists"])))
        return rows


def branch_state(branch: LiquityBranchData, troves: Sequence[LiquityTroveData], market_id: str) -> LiquityBranch:
    """The Snapshot's :class:`risk.venues.liquity_v2.LiquityBranch` (troves in redemption order)."""
    by_id = {t.trove_id: t for t in troves}
    order = redemption_order(troves, branch.last_zombie_trove_id)
    p = branch.params
    return LiquityBranch(
        market=market_id, mcr_wad=p.mcr_wad, ccr_wad=p.ccr_wad, scr_wad=p.scr_wad, penalty_sp_wad=p.penalty_sp_wad,
        penalty_redistribution_wad=p.penalty_redistribution_wad, price_wad=branch.price_wad,
        sp_deposits_wei=branch.sp_deposits_wei, branch_coll_wei=branch.branch_coll_wei,
        branch_debt_wei=branch.branch_debt_wei, shutdown_time=branch.shutdown_time,
        troves=tuple(LiquityTrove(account=by_id[i].account, trove_id=i, status=by_id[i].status,
                                  annual_interest_rate_wad=by_id[i].annual_interest_rate_wad, stake=by_id[i].stake,
                                  entire_debt_wei=by_id[i].entire_debt_wei, entire_coll_wei=by_id[i].entire_coll_wei,
                                  batch_manager=None if by_id[i].interest_batch_manager == ZERO
                                  else by_id[i].interest_batch_manager) for i in order))


@dataclass(frozen=True, slots=True)
class LiquitySource:
    """A Liquity v2 deployment to scan: its BOLD token and the branches' AddressesRegistries."""

    bold: str
    registries: tuple[str, ...]
    start_block: int = 0
    name: str = "Liquity v2"


@dataclass(frozen=True, slots=True)
class LiquityRead:
    source: LiquitySource
    branches: tuple[tuple[LiquityBranchData, tuple[LiquityTroveData, ...]], ...]

    def tokens(self) -> set[str]:
        return {checksum(self.source.bold, "BOLD")} | {b.coll_token for b, _ in self.branches}


def read_liquity(transport: Transport, block: PinnedBlock | int, source: LiquitySource) -> LiquityRead:
    """Discover and read every trove of every branch of ``source`` at ``block``."""
    reader = LiquityV2Reader(transport, source.registries)
    out = []
    for b in reader.read_branches(block):
        out.append((b, tuple(reader.read_troves(block, b, reader.discover(block, b)))))
    return LiquityRead(source, tuple(out))


__all__ = ["LiquityBranchData", "LiquityRead", "LiquitySource", "LiquityTroveData", "LiquityV2Reader", "branch_state",
           "named", "read_liquity", "redemption_order", "trove_account"]

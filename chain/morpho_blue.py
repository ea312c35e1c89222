"""Morpho Blue reader: markets and positions at one block, interest accrued to that block.

Markets come from a given list of ids or from ``CreateMarket`` logs (``eth_getLogs`` on the
Morpho contract up to the block), then ``idToMarketParams``. Per market: ``market()`` totals,
``IOracle.price()``, LLTV and LIF (:func:`risk.snapshot.morpho_lif_wad`).

Interest: ``market()`` totals stop at ``lastUpdate``. We replicate ``Morpho._accrueInterest``
off-chain at the block's timestamp (= ``MorphoBalancesLib.expectedMarketBalances``): a second
multicall round asks each market's IRM for ``borrowRateView(marketParams, market)`` and
:func:`risk.exact.morpho_accrue_interest` applies it with ``wTaylorCompounded``. This equals
what ``liquidate``/``accrueInterest`` would compute in a transaction at that timestamp as long as
the IRM's ``borrowRate`` equals its ``borrowRateView`` (true for Morpho's AdaptiveCurveIrm and
for ``IrmMock``; ``irm == address(0)`` accrues nothing). We chose this over calling
``accrueInterest`` inside the ``eth_call`` because it keeps every read a plain view call that
any RPC (and the pinned-block cache) can serve.

A position's debt is ``toAssetsUp(borrowShares)`` on the accrued totals (what ``_isHealthy``
uses); its collateral is ``position().collateral`` in collateral-token units.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eth_abi import decode

from abis import abi_function, event_topic0
from chain.aave_v3 import Read, ReaderError, block_number, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.transport import RpcError, Transport, is_too_big
from risk.exact import MorphoMarketState, morpho_accrue_interest, morpho_borrow_assets
from risk.snapshot import WAD, Market, Position, Reserve, morpho_lif_wad

log = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
PROTOCOL_VERSION = "morpho-blue-1.0"
CREATE_MARKET_TOPIC0 = event_topic0("MorphoBlue", "CreateMarket")


def _id_hex(market_id: str | bytes) -> str:
    try:
        raw = bytes.fromhex(market_id.removeprefix("0x")) if isinstance(market_id, str) else bytes(market_id)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ReaderError(f"Morpho market id must be 32 bytes of hex (got {market_id!r})")
    return "0x" + raw.hex()


def snapshot_market_id(market_id: str) -> str:
    """Snapshot ``Market.id`` of a Morpho market: ``morpho:<id hex>``."""
    return f"morpho:{_id_hex(market_id)}"


@dataclass(frozen=True, slots=True)
class MorphoMarketData:
    """One market at one block: params, accrued totals (``state``), oracle answer (1e36 scale)."""

    morpho: str
    id: str  # 0x-hex bytes32
    loan_token: str
    collateral_token: str
    oracle: str
    irm: str
    lltv_wad: int
    state: MorphoMarketState  # accrued to the block timestamp
    stored_state: MorphoMarketState  # as market() returned it
    borrow_rate_wad: int  # per second, from borrowRateView (0 without IRM)
    oracle_price_1e36: int | None  # None when price() reverted
    irm_problem: str | None = None  # set when the IRM's borrowRateView reverts while interest is due

    @property
    def unreadable_reason(self) -> str | None:
        """Why Morpho itself cannot check health or liquidate in this market at the block, if so.

        ``Morpho.liquidate`` (morpho-org/morpho-blue@72336fd5 src/Morpho.sol; the npm 1.0.0 sources the devnet runs are the same) first accrues interest
        (``IIrm.borrowRate``) and then calls ``IOracle.price()``: a reverting IRM or oracle makes it
        revert. An oracle answering 0 makes every borrower unhealthy (``maxBorrow`` = 0) and lets a
        liquidator seize collateral for nothing (``repaidAssets = seized × 0``): not a price the
        float engine can hold, so the market is left out rather than valued wrongly.
        """
        if self.irm_problem:
            return self.irm_problem
        if self.oracle_price_1e36 is None:
            return f"oracle {self.oracle} price() reverts: Morpho cannot check health nor liquidate"
        if self.oracle_price_1e36 == 0:
            return (f"oracle {self.oracle} price() is 0: every borrower is unhealthy and collateral seizable "
                    f"for nothing; not representable in USD")
        return None

    @property
    def lif_wad(self) -> int:
        return morpho_lif_wad(self.lltv_wad)

    @property
    def params(self) -> tuple[str, str, str, str, int]:
        return (self.loan_token, self.collateral_token, self.oracle, self.irm, self.lltv_wad)

    def to_market(self, symbols: Mapping[str, str], *, name: str | None = None) -> Market:
        coll, loan = symbols[self.collateral_token], symbols[self.loan_token]
        return Market(
            id=snapshot_market_id(self.id),
            venue="morpho_blue",
            name=name or f"Morpho Blue {coll}/{loan} {self.lltv_wad / WAD:.1%}",
            address=self.morpho,
            protocol_version=PROTOCOL_VERSION,
            reserves=(
                Reserve(asset=coll, ltv_wad=self.lltv_wad, liquidation_threshold_wad=self.lltv_wad,
                        liquidation_bonus_wad=self.lif_wad, can_be_borrowed=False),
                Reserve(asset=loan, ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                        can_be_collateral=False),
            ),
            oracle_price_1e36=self.oracle_price_1e36,
            lltv_wad=self.lltv_wad,
        )


@dataclass(frozen=True, slots=True)
class MorphoPositionData:
    market_id: str
    account: str
    supply_shares: int
    borrow_shares: int
    collateral_raw: int
    borrow_assets_raw: int = field(default=0)

    def to_position(self, market: MorphoMarketData, symbols: Mapping[str, str]) -> Position:
        collateral = {symbols[market.collateral_token]: self.collateral_raw} if self.collateral_raw else {}
        debt = {symbols[market.loan_token]: self.borrow_assets_raw} if self.borrow_assets_raw else {}
        return Position(market=snapshot_market_id(self.market_id), account=self.account, collateral=collateral, debt=debt)


class MorphoBlueReader:
    """Read Morpho Blue at ``morpho_address``.

    ``market_ids``: the markets to read (0x-hex ids); ``None`` = every market created up to the
    block (``CreateMarket`` logs from ``start_block``, windows of ``log_chunk`` blocks, halved
    when the provider refuses).
    """

    def __init__(self, transport: Transport, morpho_address: str, *, market_ids: Iterable[str] | None = None,
                 start_block: int = 0, log_chunk: int = 100_000) -> None:
        self.transport = transport
        self.address = checksum(morpho_address, "Morpho Blue")
        self.market_ids = None if market_ids is None else [_id_hex(m) for m in market_ids]
        self.start_block = start_block
        self.log_chunk = log_chunk

    def discover_market_ids(self, block: PinnedBlock | int) -> list[str]:
        """Ids from ``CreateMarket`` logs in ``[start_block, block]``, in creation order."""
        end = block_number(block)
        ids: list[str] = []
        cursor, chunk = self.start_block, self.log_chunk
        while cursor <= end:
            hi = min(end, cursor + chunk - 1)
            flt = {"address": self.address, "topics": [CREATE_MARKET_TOPIC0], "fromBlock": hex(cursor), "toBlock": hex(hi)}
            try:
                logs = self.transport.request("eth_getLogs", [flt]) or []
            except RpcError as exc:
                if not is_too_big(exc) or hi == cursor:
                    raise
                chunk = max(1, (hi - cursor + 1) // 2)
                continue
            ids += [entry["topics"][1].lower() for entry in logs if not entry.get("removed")]
            cursor = hi + 1
        return list(dict.fromkeys(ids))

    def read_markets(self, block: PinnedBlock | int, market_ids: Iterable[str] | None = None) -> list[MorphoMarketData]:
        morpho = require_contract(self.transport, self.address, block, "Morpho Blue")
        if market_ids is not None:
            ids = [_id_hex(m) for m in market_ids]
        elif self.market_ids is not None:
            ids = list(self.market_ids)
        else:
            ids = self.discover_market_ids(block)
        if not ids:
            return []
        timestamp = self._timestamp(block)
        params_fn = abi_function("MorphoBlue", "idToMarketParams")
        market_fn = abi_function("MorphoBlue", "market")
        reads = [Read(morpho, params_fn, (bytes.fromhex(i[2:]),)) for i in ids]
        reads += [Read(morpho, market_fn, (bytes.fromhex(i[2:]),)) for i in ids]
        decoded = run_calls(self.transport, block, reads, what=f"Morpho {morpho} markets", allow_failure=True)
        if all(d is None for d in decoded):
            raise ReaderError(f"{morpho} is a contract but not Morpho Blue (idToMarketParams/market failed)")
        n = len(ids)
        raw: list[tuple[str, tuple[Any, ...], MorphoMarketState]] = []
        for k, market_id in enumerate(ids):
            params, totals = decoded[k], decoded[n + k]
            if params is None or totals is None:
                raise ReaderError(f"Morpho {morpho}: reading market {market_id} failed at block {block_number(block)}")
            if int(totals[4]) == 0:
                raise ReaderError(f"Morpho {morpho}: market {market_id} does not exist at block {block_number(block)}")
            raw.append((market_id, params, MorphoMarketState(*(int(v) for v in totals))))
        # Round 2: IRM rates (on the stored totals, as _accrueInterest does) and oracle prices.
        irm_fn = abi_function("MorphoIrm", "borrowRateView")
        price_fn = abi_function("MorphoOracle", "price")
        reads = []
        rate_index: dict[int, int] = {}
        price_index: list[int] = []
        for k, (_, params, state) in enumerate(raw):
            price_index.append(len(reads))
            reads.append(Read(params[2], price_fn))
            if int(params[3], 16):  # irm == address(0): no interest, nothing to ask
                rate_index[k] = len(reads)
                market_tuple = (state.total_supply_assets, state.total_supply_shares, state.total_borrow_assets,
                                state.total_borrow_shares, state.last_update, state.fee)
                reads.append(Read(params[3], irm_fn, (tuple(params), market_tuple)))
        decoded = run_calls(self.transport, block, reads, what=f"Morpho {morpho} rates/prices", allow_failure=True)
        out = []
        for k, (market_id, params, state) in enumerate(raw):
            loan, coll, oracle, irm, lltv = (checksum(params[0], "loanToken"), checksum(params[1], "collateralToken"),
                                             checksum(params[2], "oracle"), checksum(params[3], "irm"), int(params[4]))
            price_result = decoded[price_index[k]]
            rate_result = decoded[rate_index[k]] if k in rate_index else None
            needs_rate = irm != ZERO_ADDRESS and state.total_borrow_assets != 0 and timestamp > state.last_update
            if irm == ZERO_ADDRESS:
                rate = 0
            elif rate_result is None:
                rate = 0
            else:
                rate = int(rate_result[0])
            irm_problem = None
            if irm != ZERO_ADDRESS and rate_result is None and needs_rate:
                irm_problem = (f"IRM {irm} borrowRateView reverts: interest cannot be accrued (liquidate would "
                               f"revert too)")
                log.warning("Morpho market %s: %s at block %d", market_id, irm_problem, block_number(block))
            accrued = morpho_accrue_interest(state, rate, timestamp) if irm != ZERO_ADDRESS and not irm_problem else state
            price = int(price_result[0]) if price_result is not None else None
            if price is None:
                log.warning("Morpho market %s: oracle %s price() failed at block %d", market_id, oracle, block_number(block))
            out.append(MorphoMarketData(morpho, market_id, loan, coll, oracle, irm, lltv, accrued, state, rate, price,
                                        irm_problem))
        return out

    def read_positions(
        self, block: PinnedBlock | int, markets: Iterable[MorphoMarketData], accounts: Mapping[str, Iterable[str]] | Iterable[str]
    ) -> list[MorphoPositionData]:
        """Positions with collateral or debt. ``accounts``: per market id (0x-hex) or one list for all."""
        markets = list(markets)
        pairs: list[tuple[MorphoMarketData, str]] = []
        for market in markets:
            if isinstance(accounts, Mapping):
                chosen = accounts.get(market.id, accounts.get(market.id.lower(), ()))
            else:
                chosen = accounts
            for account in sorted({checksum(a, "account") for a in chosen}):
                pairs.append((market, account))
        if not pairs:
            return []
        position_fn = abi_function("MorphoBlue", "position")
        reads = [Read(m.morpho, position_fn, (bytes.fromhex(m.id[2:]), a)) for m, a in pairs]
        decoded = run_calls(self.transport, block, reads, what="Morpho positions")
        out = []
        for (market, account), data in zip(pairs, decoded, strict=True):
            supply_shares, borrow_shares, collateral = (int(v) for v in data)  # type: ignore[union-attr]
            if not borrow_shares and not collateral:
                continue
            borrowed = morpho_borrow_assets(borrow_shares, market.state.total_borrow_assets, market.state.total_borrow_shares)
            out.append(MorphoPositionData(market.id, account, supply_shares, borrow_shares, collateral, borrowed))
        return out

    def _timestamp(self, block: PinnedBlock | int) -> int:
        if isinstance(block, PinnedBlock):
            return block.timestamp
        found = self.transport.request("eth_getBlockByNumber", [hex(block), False])
        if found is None:
            raise ReaderError(f"block {block} not found at {self.transport.masked_url}")
        return int(found["timestamp"], 16)


def decode_create_market(entry: Mapping[str, Any]) -> tuple[str, tuple[str, str, str, str, int]]:
    """(id, MarketParams) of a ``CreateMarket`` log."""
    (params,) = decode(["(address,address,address,address,uint256)"], bytes.fromhex(entry["data"][2:]))
    return entry["topics"][1].lower(), tuple(params)  # type: ignore[return-value]


__all__ = [
    "CREATE_MARKET_TOPIC0",
    "MorphoBlueReader",
    "MorphoMarketData",
    "MorphoPositionData",
    "PROTOCOL_VERSION",
    "decode_create_market",
    "snapshot_market_id",
]

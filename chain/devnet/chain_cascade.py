"""A liquidation cascade that the devnet's genuine contracts run, and the engine's cascade to compare.

:func:`run_chain_cascade` on a deployed, populated devnet (genuine Aave v3.0.2 and v3.6, Morpho
Blue and Uniswap v3):

1. scan the devnet (positions and pools at one block): the engine's input;
2. shock: the driver's oracle (WETH) falls by ``x`` and every beta-linked asset's (wstETH, beta 1)
   with it — Aave's feeds and the Morpho oracles, as ``Devnet.set_price_usd`` moves them;
3. each round: every position the protocols let a liquidator liquidate (each candidate's
   liquidation is tried with ``eth_call`` first — the chain, not the engine, decides) is
   liquidated by one liquidator, in passes until none is left at these prices. The liquidator
   repays the largest debt reserve and seizes the largest collateral reserve (by USD value; the
   choice risk.liquidation documents), ``debtToCover = max`` on Aave (the close factor applies),
   all borrow shares on Morpho (or all collateral when it does not cover the debt plus incentive);
   on Aave v3.6, where ``max`` reverts with ``MustNotLeaveDust`` (it would leave under $1,000 of
   the debt or of the seized collateral reserve), the largest amount the Pool accepts
   (:func:`risk.exact.aave_position_liquidation`, exact at the block), as a liquidator would;
4. the liquidator then sells, per asset, what it received net of what it repaid into the genuine
   Uniswap pools through the genuine SwapRouter — split across the direct pools and the route via
   WETH by :class:`risk.uniswap_v3.Router` on the pools as read at that block (each swap's
   ``amountOutMinimum`` is the exact math's output, so a swap paying one wei less would revert) —
   or buys, when it repaid more than it got;
5. the oracles follow the pools: each asset's oracle becomes its shocked price times the move of
   its reference pool price since the shock (:func:`risk.liquidity.reference_price`; 8-decimal
   feeds); repeat until nothing is liquidatable.

The oracle shock is exogenous (a CEX-led fall that the pools are not arbitraged to): the pools'
*relative* move is applied on top, as the engine composes ``spot (1 - x)(1 - impact)``.

Bad debt on the chain side is what each protocol books: Morpho's ``Liquidate`` event
(``badDebtAssets``), the genuine v3.6 Pool's ``getReserveDeficit`` per reserve read before and
after every liquidation block (valued at that pass's oracle prices), and, for Aave v3.0.2 (no
deficit accounting) and any v3.6 debt the Pool leaves on a position without collateral, the debt
of positions that end the cascade with no collateral.

Compound V3, the Sky vaults and Liquity v2 are left out on both sides: the devnet has no genuine
code for them (the Comet is a test double without ``absorb``; the Sky vaults a dss double whose
Clipper sales do not go through the Uniswap pools; Liquity v2 a test double whose Stability Pool
sells nothing).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Mapping, Sequence

import numpy as np
from eth_abi import decode
from eth_utils import keccak, to_checksum_address

from pathlib import Path

from chain.devnet.deploy_uniswap import encode_path
from chain.discovery import AccountIndex
from chain.devnet.rpc import Tx, encode_call
from chain.scan import scan_devnet
from chain.transport import HttpTransport, RpcError, batch_settled
from chain.uniswap_v3 import read_pools
from risk.book import PositionBook
from risk.exact import UINT256_MAX, ProtocolRevert, aave_position_liquidation
from risk.cascade import CascadeTable, cascade_grid
from risk.liquidity import (NUMERAIRE, VIA, OnChainLiquidity, buy_routes, onchain_liquidity, reference_pools,
                            reference_price, sale_routes)
from risk.snapshot import Snapshot
from risk.uniswap_v3 import Router

MAX_UINT = 2**256 - 1
MARKET_PARAMS = "(address,address,address,address,uint256)"
LIQUIDATION_CALL = "liquidationCall(address,address,address,uint256,bool)"
MORPHO_LIQUIDATE = f"liquidate({MARKET_PARAMS},address,uint256,uint256,bytes)"
EXACT_INPUT_SINGLE = "exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))"
EXACT_INPUT = "exactInput((bytes,address,uint256,uint256,uint256))"
LIQUIDATION_CALL_TOPIC = "0x" + keccak(text="LiquidationCall(address,address,address,uint256,uint256,address,bool)").hex()
MORPHO_LIQUIDATE_TOPIC = "0x" + keccak(
    text="Liquidate(bytes32,address,address,uint256,uint256,uint256,uint256,uint256)").hex()
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
MUST_NOT_LEAVE_DUST = "0x" + keccak(text="MustNotLeaveDust()")[:4].hex()  # v3.3+ Errors.MustNotLeaveDust()
GET_RESERVE_DEFICIT = "getReserveDeficit(address)"
LIQUIDATION_GAS = 1_500_000
SWAP_GAS = 5_000_000
LIQUIDATOR_INDEX = 7
TREASURY_INDEX = 9
MAX_ROUNDS = 30
MAX_PASSES = 20
ROUTER_CHUNKS = 64
"""A round's sale is split in 64 parts: close to the split the engine's curve makes (8 parts per
3% step of its size grid); with 8 parts for a whole round the split is coarser and the reference
pool ends ~0.6% higher than the curve says."""


class ChainCascadeError(RuntimeError):
    pass


@dataclass
class ChainCascade:
    """What the chain did, per drawdown. USD at the oracle prices of the round of each event."""

    drawdown: float
    rounds: int = 0
    liquidated_debt_usd: float = 0.0
    seized_collateral_usd: float = 0.0
    bad_debt_usd: float = 0.0
    deficit_usd: float = 0.0  # of which: the v3.6 Pool's getReserveDeficit increases
    morpho_bad_debt_usd: float = 0.0  # of which: Morpho's badDebtAssets
    stranded_debt_usd: float = 0.0  # of which: Aave debt left at the end on positions without collateral
    reduced_liquidations: int = 0  # v3.6 calls below max because max reverted with MustNotLeaveDust
    positions_hit: int = 0
    liquidations: int = 0
    swaps: int = 0
    final_prices_usd: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


EXECUTED_VENUES = ("aave_v30", "aave_v33", "morpho_blue")
"""Venues the devnet runs genuine contracts of, whose liquidations the chain-run cascade executes.
Every other registered rule (Compound V3, Sky, Liquity v2, Euler v2 and any plugin: test doubles)
is left out on both sides of the comparison, so a new venue needs no edit here."""


def _not_executed() -> tuple[str, ...]:
    from risk.rules import RULE_NAMES

    return tuple(r for r in RULE_NAMES if r not in EXECUTED_VENUES)


NOT_EXECUTED_VENUES = _not_executed()
"""Registered venues the chain-run cascade does not execute (all but :data:`EXECUTED_VENUES`)."""


def without_comet(snapshot: Snapshot) -> Snapshot:
    """The snapshot without the venues this chain-run cascade does not execute
    (:data:`NOT_EXECUTED_VENUES`): Compound V3 (the devnet's Comet is a double without absorb), Sky
    vaults (a dss double whose Clipper sales do not go through the Uniswap pools), Liquity v2 (a
    test double whose Stability Pool sells nothing) and Euler v2 (an EVK double, checked to the wei
    in tests/chain/test_euler_v2.py), left out on both sides of the comparison. Both genuine Aave
    lines (v3.0.2 and v3.6) and Morpho Blue stay."""
    keep = {m.id for m in snapshot.markets if m.venue in EXECUTED_VENUES}
    return snapshot.model_copy(update={
        "markets": tuple(m for m in snapshot.markets if m.id in keep),
        "positions": tuple(p for p in snapshot.positions if p.market in keep)})


def engine_cascade(snapshot: Snapshot, drawdowns: Sequence[float], *, driver: str = "WETH",
                   betas: Mapping[str, float] | None = None) -> tuple[CascadeTable, OnChainLiquidity]:
    """The engine's cascade on the scanned snapshot with the on-chain model, CEX multiplier 0."""
    snap = without_comet(snapshot)
    book = PositionBook.from_snapshot(snap)
    model = onchain_liquidity(snap.pools, book.symbols, book.prices_usd, cex_multiplier=0.0)
    table = cascade_grid(book, driver=driver, betas=dict(betas or {"wstETH": 1.0}), drawdowns=list(drawdowns),
                         liquidity=model)
    return table, model


def _usd8(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)


class _Liquidator:
    def __init__(self, devnet, transport: HttpTransport) -> None:
        self.devnet = devnet
        self.dep = devnet.deployment
        self.rpc = devnet.rpc
        self.transport = transport
        accounts = self.rpc.accounts()
        self.account = accounts[LIQUIDATOR_INDEX]
        self.treasury = accounts[TREASURY_INDEX]
        self.morpho_by_id = {m.id.lower(): (name, m) for name, m in self.dep.morpho.markets.items()}
        self.symbol_of = {to_checksum_address(a): s for s, a in self.dep.tokens.items()}
        self.aave36 = getattr(self.dep, "aave36", None)  # the genuine v3.6 market, where the devnet has it
        self.a_tokens = {a.lower(): s for line in (self.dep.aave, self.aave36) if line is not None
                         for s, a in line.a_tokens.items()}  # both lines' aTokens: protocol fees go to the treasury
        txs = []
        for symbol, token in self.dep.tokens.items():
            txs.append(Tx(self.account, token, encode_call("mint(address,uint256)", self.account,
                                                           10**15 * 10 ** self.dep.decimals[symbol]), 200_000))
            aave36 = getattr(self.dep, "aave36", None)  # the v3.6 Pool, where the devnet has it
            spenders = (self.dep.aave.pool, *((aave36.pool,) if aave36 is not None else ()), self.dep.morpho.address,
                        self.dep.uniswap.swap_router)
            for spender in spenders:
                txs.append(Tx(self.account, token, encode_call("approve(address,uint256)", spender, MAX_UINT), 100_000))
        self.rpc.send_bulk(txs, what="liquidator funding")
        self.reduced = 0

    def candidates(self, snapshot: Snapshot) -> list[Tx]:
        """One liquidation tx per position the protocol accepts now (checked by eth_call)."""
        price = {a.symbol: a.price_usd for a in snapshot.assets}
        token = {a.symbol: a.address for a in snapshot.assets}
        decimals = {a.symbol: a.decimals for a in snapshot.assets}
        markets = {m.id: m for m in snapshot.markets}
        options: list[list[Tx]] = []
        for pos in snapshot.positions:
            market = markets[pos.market]
            if not pos.debt or market.venue == "compound_v3":
                continue
            value = lambda amounts, s: amounts[s] / 10 ** decimals[s] * price[s]  # noqa: E731
            if market.venue.startswith("aave"):
                seizable = [s for s in pos.collateral if pos.collateral[s] > 0
                            and market.reserve(s).liquidation_threshold_wad > 0]
                if not seizable:
                    continue
                coll = max(seizable, key=lambda s: value(pos.collateral, s))
                debt = max(pos.debt, key=lambda s: value(pos.debt, s))
                data = encode_call(LIQUIDATION_CALL, token[coll], token[debt], pos.account, MAX_UINT, False)
                option = [Tx(self.account, market.address, data, LIQUIDATION_GAS)]  # the market's own Pool (v3.0.2 or v3.6)
                if market.venue == "aave_v33":
                    # max reverts (MustNotLeaveDust) when it would leave < $1,000 of either reserve; a
                    # liquidator then passes the largest amount the Pool accepts (exact at this block).
                    try:
                        amount, _ = aave_position_liquidation(market, pos, decimals, coll, debt)
                    except ProtocolRevert:
                        amount = UINT256_MAX  # healthy, or no accepted amount: the chain's eth_call decides
                    if amount != UINT256_MAX:
                        option.append(Tx(self.account, market.address, encode_call(
                            LIQUIDATION_CALL, token[coll], token[debt], pos.account, amount, False), LIQUIDATION_GAS))
                options.append(option)
            elif market.venue == "morpho_blue":
                _, m = self.morpho_by_id[market.id.removeprefix("morpho:").lower()]
                _, shares, coll_raw = self.rpc.call_decode(
                    self.dep.morpho.address, "position(bytes32,address)", (bytes.fromhex(m.id[2:]), pos.account),
                    ("uint256", "uint128", "uint128"), snapshot.block_number)
                if shares == 0 or coll_raw == 0:
                    continue
                options.append([
                    Tx(self.account, self.dep.morpho.address,
                       encode_call(MORPHO_LIQUIDATE, m.params, pos.account, 0, int(shares), b""), LIQUIDATION_GAS),
                    Tx(self.account, self.dep.morpho.address,
                       encode_call(MORPHO_LIQUIDATE, m.params, pos.account, int(coll_raw), 0, b""), LIQUIDATION_GAS)])
        chosen: list[Tx] = []
        pending = options
        for attempt in range(2):
            calls = [("eth_call", [{"from": t[attempt].sender, "to": t[attempt].to, "data": t[attempt].data,
                                    "gas": hex(t[attempt].gas)}, hex(snapshot.block_number)]) for t in pending]
            results = batch_settled(self.transport, calls) if calls else []
            retry = []
            for option, result in zip(pending, results):
                if not isinstance(result, RpcError):
                    chosen.append(option[attempt])
                    if attempt > 0 and option[attempt].to != self.dep.morpho.address:
                        self.reduced += 1
                elif attempt + 1 < len(option) and "healthy" not in result.revert_reason and (
                        option[attempt].to == self.dep.morpho.address or _error_selector(result) == MUST_NOT_LEAVE_DUST):
                    # Morpho: the collateral does not cover all shares: seize it all.
                    # Aave v3.6: max would leave dust: the largest accepted amount.
                    retry.append(option)
            pending = retry
        return chosen

    def deficits(self) -> dict[str, int]:
        """``getReserveDeficit`` of every reserve of the v3.6 Pool at the latest block (raw units)."""
        if self.aave36 is None:
            return {}
        block = self.rpc.block_number()
        return {s: int(self.rpc.call_decode(self.aave36.pool, GET_RESERVE_DEFICIT, (a,), ("uint256",), block)[0])
                for s, a in self.dep.tokens.items()}

    def execute(self, txs: list[Tx], prices: Mapping[str, float], result: ChainCascade,
                hit: set[str]) -> dict[str, int]:
        """Send the liquidations in one block; returns the liquidator's net raw flow per symbol.
        The v3.6 Pool's deficit is read before and after: what it books in this block is bad debt,
        valued at this pass's prices (as the engine values the bad debt of the pass)."""
        deficit_before = self.deficits()
        self.rpc.send_bulk(txs, what="liquidations")
        block = self.rpc.block_number()
        for s, raw in self.deficits().items():
            booked = raw - deficit_before[s]
            if booked < 0:
                raise ChainCascadeError(f"the v3.6 deficit of {s} fell during a liquidation block ({booked})")
            usd = booked / 10 ** self.dep.decimals[s] * prices[s]
            result.deficit_usd += usd
            result.bad_debt_usd += usd
        receipts = self.rpc.request("eth_getBlockReceipts", [hex(block)])
        if len(receipts) != len(txs):
            raise ChainCascadeError(f"liquidation block holds {len(receipts)} of {len(txs)} transactions")
        flow: dict[str, int] = {}
        dec = self.dep.decimals
        treasury_topic = "0x" + "00" * 12 + self.treasury[2:].lower()
        a_tokens = self.a_tokens
        for receipt in receipts:
            for log in receipt["logs"]:
                topic = log["topics"][0]
                if topic == LIQUIDATION_CALL_TOPIC:
                    coll = self.symbol_of[to_checksum_address("0x" + log["topics"][1][-40:])]
                    debt = self.symbol_of[to_checksum_address("0x" + log["topics"][2][-40:])]
                    hit.add(log["address"].lower() + ":" + log["topics"][3][-40:])  # the Pool and the user
                    repaid, seized, _, _ = decode(["uint256", "uint256", "address", "bool"], bytes.fromhex(log["data"][2:]))
                elif topic == MORPHO_LIQUIDATE_TOPIC:
                    name, _ = self.morpho_by_id[log["topics"][1].lower()]
                    coll, debt = name.split("/")
                    hit.add("morpho:" + log["topics"][3][-40:] + name)
                    repaid, _, seized, bad, _ = decode(["uint256"] * 5, bytes.fromhex(log["data"][2:]))
                    result.bad_debt_usd += bad / 10 ** dec[debt] * prices[debt]
                    result.morpho_bad_debt_usd += bad / 10 ** dec[debt] * prices[debt]
                elif (topic == TRANSFER_TOPIC and log["address"].lower() in a_tokens
                      and log["topics"][2].lower() == treasury_topic):
                    fee_symbol = a_tokens[log["address"].lower()]  # Aave's protocol fee (seized, not sold)
                    result.seized_collateral_usd += int(log["data"], 16) / 10 ** dec[fee_symbol] * prices[fee_symbol]
                    continue
                else:
                    continue
                result.liquidations += 1
                result.liquidated_debt_usd += repaid / 10 ** dec[debt] * prices[debt]
                result.seized_collateral_usd += seized / 10 ** dec[coll] * prices[coll]
                flow[coll] = flow.get(coll, 0) + seized
                flow[debt] = flow.get(debt, 0) - repaid
        return flow

    def trade(self, flow: Mapping[str, int], order: Sequence[str]) -> int:
        """Sell (or buy) each asset's net flow into the pools; returns the number of swaps."""
        uni = self.dep.uniswap
        infos = list(uni.pools.values())
        swaps = 0
        for symbol in order:
            net = flow.get(symbol, 0)
            if symbol == NUMERAIRE or net == 0:
                continue
            pools = read_pools(self.transport, self.rpc.block_number(), [p.address for p in infos],
                               {to_checksum_address(a): s for s, a in self.dep.tokens.items()})
            router = Router([p.state() for p in pools])
            if net > 0:
                routes = sale_routes(pools, symbol)
                legs = router.sell(routes, net, ROUTER_CHUNKS)
            else:
                routes = buy_routes(pools, symbol)
                legs = self._buy(router, routes, -net)
            txs = []
            for leg in legs:
                tokens = []
                for hop, (i, zfo) in enumerate(leg.route):
                    pool = pools[i]
                    t_in, t_out = (pool.token0_address, pool.token1_address) if zfo else (pool.token1_address,
                                                                                          pool.token0_address)
                    tokens += ([t_in] if hop == 0 else []) + [pool.fee_pips, t_out]
                if len(leg.route) == 1:
                    data = encode_call(EXACT_INPUT_SINGLE, (tokens[0], tokens[2], tokens[1], self.account, 2**255,
                                                            leg.amount_in, leg.amount_out, 0))
                else:
                    data = encode_call(EXACT_INPUT, (encode_path(tokens), self.account, 2**255, leg.amount_in,
                                                     leg.amount_out))
                txs.append(Tx(self.account, uni.swap_router, data, SWAP_GAS))
            # amountOutMinimum = the exact math's output: a swap paying one wei less reverts.
            self.rpc.send_bulk(txs, per_block=1, what=f"swaps {symbol}")
            swaps += len(txs)
        return swaps

    @staticmethod
    def _buy(router: Router, routes, amount_out: int):
        """Spend the least numeraire whose planned purchase yields at least ``amount_out``."""
        def planned(spend: int):
            scratch = Router(router.states)
            legs = scratch.sell(routes, spend, ROUTER_CHUNKS)
            return legs, sum(leg.amount_out for leg in legs)

        lo, hi = 0, 1
        while planned(hi)[1] < amount_out:
            hi *= 2
            if hi > 2**200:
                raise ChainCascadeError("cannot buy that much: the pools run out")
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if planned(mid)[1] >= amount_out else (mid, hi)
        return router.sell(routes, hi, ROUTER_CHUNKS)


def run_chain_cascade(devnet, drawdown: float, *, driver: str = "WETH",
                      betas: Mapping[str, float] | None = None) -> tuple[ChainCascade, Snapshot]:
    """Run the cascade on the devnet's contracts (mutates the chain: use a reverted devnet).
    Returns the outcome and the pre-shock snapshot (the engine's input)."""
    betas = dict(betas or {"wstETH": 1.0})
    dep = devnet.deployment
    if dep is None or dep.uniswap is None:
        raise ChainCascadeError("the devnet has no Uniswap deployment")
    started = time.perf_counter()
    result = ChainCascade(drawdown)
    with HttpTransport(devnet.rpc_url) as transport, tempfile.TemporaryDirectory(prefix="liqrisk-cascade-") as tmp:
        index = AccountIndex(Path(tmp) / "accounts.sqlite")  # discovery resumes from the last block scanned
        scan = lambda: without_comet(scan_devnet(dep, transport=transport, accounts_index=index))  # noqa: E731
        before = scan()
        spot = {a.symbol: a.price_usd for a in before.assets}
        symbols = tuple(a.symbol for a in before.assets)
        refs = reference_pools(before.pools, symbols)
        states0 = [p.state() for p in before.pools]
        ref_at_shock = {s: reference_price(states0, before.pools, chain) for s, chain in refs.items()}
        shocked = {s: spot[s] * (1.0 + (-drawdown) * (1.0 if s == driver else betas.get(s, 0.0))) for s in symbols}
        liquidator = _Liquidator(devnet, transport)
        for s in symbols:
            if shocked[s] != spot[s]:
                devnet.set_price_usd(s, _usd8(shocked[s]))
        hit: set[str] = set()
        order = [driver] + [s for s in symbols if s != driver]
        for _ in range(MAX_ROUNDS):
            liquidated_this_round = False
            flow: dict[str, int] = {}
            for _pass in range(MAX_PASSES):
                snap = scan()
                txs = liquidator.candidates(snap)
                if not txs:
                    break
                prices = {a.symbol: a.price_usd for a in snap.assets}
                for s, v in liquidator.execute(txs, prices, result, hit).items():
                    flow[s] = flow.get(s, 0) + v
                liquidated_this_round = True
            else:
                raise ChainCascadeError(f"still liquidatable after {MAX_PASSES} passes at one price")
            if not liquidated_this_round:
                break
            result.rounds += 1
            result.swaps += liquidator.trade(flow, order)
            pools = read_pools(transport, devnet.rpc.block_number(), [p.address for p in before.pools])
            states = [p.state() for p in pools]
            for s, chain in refs.items():
                new = shocked[s] * reference_price(states, pools, chain) / ref_at_shock[s]
                devnet.set_price_usd(s, _usd8(new))
        else:
            raise ChainCascadeError(f"cascade did not stop within {MAX_ROUNDS} rounds")
        final = scan()
        index.close()
    result.positions_hit = len(hit)
    result.reduced_liquidations = liquidator.reduced
    result.final_prices_usd = {a.symbol: a.price_usd for a in final.assets}
    # Aave v3.0 keeps debt without collateral on the book (no deficit), and v3.6 keeps any debt its
    # "no collateral left" test did not see (v3.6 compares base values): count it once, as the
    # engine does. v3.6 debt turned into deficit was burnt, so it is not counted twice.
    markets = {m.id: m for m in final.markets}
    for pos in final.positions:
        m = markets[pos.market]
        if m.venue.startswith("aave") and pos.debt and not any(pos.collateral.values()):
            usd = sum(raw / 10 ** final.asset(s).decimals * final.asset(s).price_usd for s, raw in pos.debt.items())
            result.bad_debt_usd += usd
            result.stranded_debt_usd += usd
    result.seconds = time.perf_counter() - started
    return result, before


def _error_selector(exc: RpcError) -> str:
    """The 4-byte selector of a custom-error revert ("" if the node gave no revert data)."""
    data = exc.data.get("data") if isinstance(exc.data, dict) else exc.data
    return data[:10].lower() if isinstance(data, str) else ""


def compare(chain: ChainCascade, table: CascadeTable, driver: str = "WETH") -> dict[str, Any]:
    """Chain vs engine for one drawdown: the numbers and the relative gaps."""
    i = int(np.argmin(np.abs(table.initial_drawdown - chain.drawdown)))
    j = table.symbols.index(driver)
    engine = {"rounds": int(table.rounds[i]), "liquidated_debt_usd": float(table.liquidated_debt_usd[i]),
              "seized_collateral_usd": float(table.seized_collateral_usd[i].sum()),
              "bad_debt_usd": float(table.bad_debt_usd[i]), "final_price_usd": float(table.final_prices_usd[i, j])}
    onchain = {"rounds": chain.rounds, "liquidated_debt_usd": chain.liquidated_debt_usd,
               "seized_collateral_usd": chain.seized_collateral_usd, "bad_debt_usd": chain.bad_debt_usd,
               "final_price_usd": chain.final_prices_usd[driver]}

    def gap(a: float, b: float) -> float:
        return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))

    detail = {"deficit_usd": chain.deficit_usd, "morpho_bad_debt_usd": chain.morpho_bad_debt_usd,
              "stranded_debt_usd": chain.stranded_debt_usd, "reduced_liquidations": chain.reduced_liquidations,
              "liquidations": chain.liquidations, "positions_hit": chain.positions_hit}
    return {"drawdown": chain.drawdown, "chain": onchain, "engine": engine, "chain_detail": detail,
            "gap": {k: gap(onchain[k], engine[k]) for k in onchain if k != "rounds"}}


__all__ = ["EXECUTED_VENUES", "NOT_EXECUTED_VENUES", "ChainCascade", "ChainCascadeError", "compare", "engine_cascade", "run_chain_cascade", "without_comet"]

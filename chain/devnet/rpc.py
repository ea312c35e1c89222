"""Transaction helper for the local devnet ONLY, over the project's one JSON-RPC client.

Every call goes through :class:`chain.transport.HttpTransport` (the same client, answer checks
and batching the scans use; issue 12: one JSON-RPC client in the project). For the devnet it
runs with no retries and no hedging: ``eth_sendTransaction`` is not idempotent, and anvil on
127.0.0.1 either answers or is gone. Transactions are sent with ``eth_sendTransaction`` from anvil's unlocked default accounts or
impersonated accounts (``anvil_impersonateAccount``) — never with a private key. Gas limits
and nonces are explicit; bulk work uses JSON-RPC batches with automine off and a bounded
number of transactions per block. Calldata is encoded with eth-abi and cached selectors (web3
contract objects re-validate the ABI on every call, ~2 ms each).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

from eth_abi import decode, encode
from eth_utils import keccak, to_checksum_address

from chain.transport import HttpTransport, RpcError

DEFAULT_GAS = 3_000_000
MAX_TX_PER_BLOCK = 128


class DevnetRpcError(RuntimeError):
    """A devnet RPC call or transaction failed; the message names the method / tx."""


@functools.lru_cache(maxsize=None)
def _split_signature(signature: str) -> tuple[str, tuple[str, ...]]:
    name, _, rest = signature.partition("(")
    inner = rest[:-1] if rest.endswith(")") else rest
    types: list[str] = []
    depth, start = 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            types.append(inner[start:i])
            start = i + 1
    if inner:
        types.append(inner[start:])
    return name, tuple(types)


@functools.lru_cache(maxsize=None)
def selector(signature: str) -> bytes:
    """4-byte selector of a canonical signature such as ``"borrow(address,uint256,uint256,uint16,address)"``."""
    return keccak(text=signature)[:4]


def encode_call(signature: str, *args: Any) -> str:
    """0x-hex calldata for ``signature`` with ``args`` (eth-abi types taken from the signature)."""
    _, types = _split_signature(signature)
    if len(types) != len(args):
        raise ValueError(f"{signature}: expected {len(types)} arguments, got {len(args)}")
    return "0x" + (selector(signature) + encode(list(types), list(args))).hex()


def encode_args(types: Sequence[str], args: Sequence[Any]) -> str:
    """ABI-encoded arguments without selector (constructor arguments), hex without 0x."""
    return encode(list(types), list(args)).hex()


def contract_address(sender: str, nonce: int) -> str:
    """CREATE address of ``sender`` at ``nonce`` (RLP of [sender, nonce])."""
    sender_bytes = bytes.fromhex(sender[2:])
    if nonce == 0:
        nonce_rlp = b"\x80"
    elif nonce < 0x80:
        nonce_rlp = bytes([nonce])
    else:
        raw = nonce.to_bytes((nonce.bit_length() + 7) // 8, "big")
        nonce_rlp = bytes([0x80 + len(raw)]) + raw
    payload = b"\x94" + sender_bytes + nonce_rlp
    return to_checksum_address(keccak(bytes([0xC0 + len(payload)]) + payload)[12:])


@dataclass(frozen=True, slots=True)
class Tx:
    """One transaction to send: ``data`` is 0x-hex calldata (or creation code if ``to`` is None)."""

    sender: str
    to: str | None
    data: str
    gas: int = DEFAULT_GAS
    value: int = 0


class DevnetRpc:
    """JSON-RPC client for a local anvil: :class:`~chain.transport.HttpTransport` (keep-alive
    session, answers checked by :func:`chain.validate.check_result`) with devnet settings."""

    def __init__(self, url: str, *, timeout: float = 120.0) -> None:
        self.url = url
        self._timeout = timeout
        self.transport = HttpTransport(url, timeout_s=timeout, max_retries=0, hedge_after_s=None,
                                       deadline_s=2.0 * timeout + 1.0, max_batch_size=500)

    def close(self) -> None:
        self.transport.close()

    # -------------------------------------------------------------------------- raw calls

    def request(self, method: str, params: list[Any]) -> Any:
        try:
            return self.transport.request(method, params)
        except RpcError as exc:
            raise DevnetRpcError(f"{method} failed: {exc}") from exc

    def batch(self, calls: Sequence[tuple[str, list[Any]]], *, chunk: int = 500) -> list[Any]:
        """Several calls as JSON-RPC batches of at most ``chunk``; results in order."""
        results: list[Any] = []
        for lo in range(0, len(calls), chunk):
            part = list(calls[lo : lo + chunk])
            try:
                results.extend(self.transport.batch(part))
            except RpcError as exc:
                raise DevnetRpcError(f"{exc.method or part[0][0]} (batch of {len(part)} from element {lo}) "
                                     f"failed: {exc}") from exc
        return results

    # ------------------------------------------------------------------------------ reads

    def call(self, to: str, data: str, block: str | int = "latest") -> bytes:
        tag = hex(block) if isinstance(block, int) else block
        return bytes.fromhex(self.request("eth_call", [{"to": to, "data": data}, tag])[2:])

    def call_decode(self, to: str, signature: str, args: Sequence[Any], out_types: Sequence[str],
                    block: str | int = "latest") -> tuple[Any, ...]:
        return decode(list(out_types), self.call(to, encode_call(signature, *args), block))

    def block_number(self) -> int:
        return int(self.request("eth_blockNumber", []), 16)

    def nonce(self, account: str) -> int:
        return int(self.request("eth_getTransactionCount", [account, "pending"]), 16)

    def accounts(self) -> list[str]:
        return [to_checksum_address(a) for a in self.request("eth_accounts", [])]

    # ------------------------------------------------------------------------ transactions

    @staticmethod
    def _tx_params(tx: Tx, nonce: int | None) -> dict[str, Any]:
        params: dict[str, Any] = {"from": tx.sender, "data": tx.data, "gas": hex(tx.gas), "value": hex(tx.value)}
        if tx.to is not None:
            params["to"] = tx.to
        if nonce is not None:
            params["nonce"] = hex(nonce)
        return params

    def transact(self, tx: Tx, *, what: str = "tx") -> dict[str, Any]:
        """Send one transaction, mine it in a block of its own, and return its successful receipt.

        The block is mined explicitly (automine off for the send, then ``evm_mine``) rather than
        left to anvil's automine: right after ``evm_revert`` + ``evm_setNextBlockTimestamp``,
        anvil's background automine was seen to mine an empty block and drop the transaction (2
        of 249,454 sends, FoundryOSS PR #16027), which left the caller waiting for a receipt that
        never came. With an explicit nonce and ``evm_mine`` the transaction is in the pool when
        the block is built, and a block without it is an error here, not a hang.
        """
        nonce = int(self.request("eth_getTransactionCount", [tx.sender, "pending"]), 16)
        self.request("evm_setAutomine", [False])
        try:
            tx_hash = self.request("eth_sendTransaction", [self._tx_params(tx, nonce)])
            self.request("evm_mine", [])
            receipt = self.request("eth_getTransactionReceipt", [tx_hash])
        finally:
            self.request("evm_setAutomine", [True])
        if receipt is None:
            raise DevnetRpcError(f"{what}: the block mined for tx {tx_hash} does not hold it")
        if int(receipt["status"], 16) != 1:
            raise DevnetRpcError(f"{what} reverted (tx {tx_hash}, gas used {int(receipt['gasUsed'], 16)})")
        return dict(receipt)

    def deploy(self, sender: str, creation_code: str, *, gas: int = 15_000_000, what: str = "deploy") -> str:
        receipt = self.transact(Tx(sender, None, creation_code, gas), what=what)
        return to_checksum_address(receipt["contractAddress"])

    def send_bulk(self, txs: Sequence[Tx], *, per_block: int = MAX_TX_PER_BLOCK, what: str = "bulk") -> int:
        """Send many transactions with automine off, ``per_block`` per mined block.

        Nonces are assigned here, from each sender's pending nonce, in list order (so a sender's
        transactions execute in the order given). Every receipt is checked; returns the number
        of blocks mined. Automine is switched back on afterwards.
        """
        if not txs:
            return 0
        senders = sorted({t.sender for t in txs})
        base = dict(zip(senders, (int(n, 16) for n in self.batch(
            [("eth_getTransactionCount", [s, "pending"]) for s in senders]))))
        next_nonce = dict(base)
        self.request("evm_setAutomine", [False])
        blocks = 0
        try:
            for lo in range(0, len(txs), per_block):
                part = txs[lo : lo + per_block]
                calls = []
                for tx in part:
                    calls.append(("eth_sendTransaction", [self._tx_params(tx, next_nonce[tx.sender])]))
                    next_nonce[tx.sender] += 1
                hashes = self.batch(calls)
                self.request("evm_mine", [])
                blocks += 1
                receipts = self.request("eth_getBlockReceipts", ["latest"])
                if len(receipts) != len(part):
                    raise DevnetRpcError(f"{what}: block held {len(receipts)} of {len(part)} transactions")
                by_hash = {r["transactionHash"]: r for r in receipts}
                for i, h in enumerate(hashes):
                    r = by_hash.get(h)
                    if r is None or int(r["status"], 16) != 1:
                        tx = part[i]
                        raise DevnetRpcError(
                            f"{what}: transaction {lo + i} from {tx.sender} to {tx.to} "
                            f"(selector {tx.data[:10]}) {'missing' if r is None else 'reverted'}"
                        )
        finally:
            self.request("evm_setAutomine", [True])
        return blocks

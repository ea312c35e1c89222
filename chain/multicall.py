"""Many ``eth_call``s at one pinned block through Multicall3 ``aggregate3``.

All sub-calls of one ``aggregate3`` read the same block state. :func:`multicall` packs calls
into ``aggregate3`` chunks (several chunks per JSON-RPC batch), halves the chunk size when the
node refuses (out of gas, response/request too large) and grows it back after successes,
retries each failed sub-call alone once with a plain ``eth_call``, and falls back to a JSON-RPC
batch of plain ``eth_call``s where no Multicall3 code exists at that block.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from eth_utils import keccak

from chain.transport import RpcError, Transport, batch_settled, is_too_big
from chain.validate import decode_aggregate3 as strict_decode_aggregate3

log = logging.getLogger(__name__)

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")

MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"
AGGREGATE3_SELECTOR = bytes.fromhex("82ad56cb")  # aggregate3((address,bool,bytes)[])
DEFAULT_BATCH_SIZE = 200
"""Sub-calls per aggregate3; Aave ``getUserAccountData`` is ~100–300k gas, so 200 stays under
a 50M-gas ``eth_call`` cap (reth default) for typical users; larger requests adapt downwards."""
DEFAULT_AGGREGATES_PER_REQUEST = 4

# eth_call refusals that mean "this aggregate is too heavy": split it.
_HEAVY_TEXT = re.compile(
    r"out of gas|gas required exceeds|gas limit|exceeds block gas|intrinsic gas|"
    r"gas cap|outofgas|memory limit|execution timeout|timeout",
    re.IGNORECASE,
)


@lru_cache(maxsize=4096)
def selector(signature: str) -> bytes:
    """4-byte function selector of a canonical signature, e.g. ``"balanceOf(address)"``."""
    if "(" not in signature or not signature.endswith(")") or " " in signature:
        raise ValueError(f"not a canonical function signature: {signature!r}")
    return keccak(text=signature)[:4]


@dataclass(frozen=True, slots=True)
class Call:
    """One call: ``target`` contract address, ``data`` = selector + ABI-encoded args."""

    target: str
    data: bytes

    def __post_init__(self) -> None:
        # Validate cheaply (checksumming costs ~60 µs per call); keep lower-case hex.
        if not isinstance(self.target, str) or not _ADDRESS.match(self.target):
            raise ValueError(f"Call.target is not a 0x-hex address: {self.target!r}")
        object.__setattr__(self, "target", self.target.lower())
        if not isinstance(self.data, (bytes, bytearray)):
            raise ValueError(f"Call.data must be bytes (got {type(self.data).__name__})")


@dataclass(frozen=True, slots=True)
class CallResult:
    """``success`` and the return data (or the revert data when ``success`` is False)."""

    success: bool
    data: bytes


@dataclass
class MulticallStats:
    """Counters of one or more :func:`multicall` runs (pass the same object to accumulate)."""

    aggregates: int = 0
    splits: int = 0
    retried_alone: int = 0
    failed: int = 0
    fallback_calls: int = 0


class MulticallError(RuntimeError):
    """Sub-calls failed and the caller asked for ``allow_failure=False``."""

    def __init__(self, message: str, failed_indices: list[int]) -> None:
        super().__init__(message)
        self.failed_indices = failed_indices


def encode_aggregate3(calls: Sequence[Call]) -> bytes:
    """Calldata of ``aggregate3((address,bool,bytes)[])`` with ``allowFailure=true`` for every
    call. Hand-rolled ABI encoding (eth-abi costs ~80 µs per element; this ~3 µs); equality
    with ``eth_abi.encode`` is tested."""
    n = len(calls)
    heads: list[bytes] = []
    tails: list[bytes] = []
    offset = 32 * n
    for c in calls:
        data = bytes(c.data)
        padded = data + b"\0" * (-len(data) % 32)
        # tuple = address | bool(true) | offset of bytes (3 words) | len | data
        tail = (bytes(12) + bytes.fromhex(c.target[2:]) + _WORD_ONE + _WORD_96
                + len(data).to_bytes(32, "big") + padded)
        heads.append(offset.to_bytes(32, "big"))
        tails.append(tail)
        offset += len(tail)
    return AGGREGATE3_SELECTOR + _WORD_32 + n.to_bytes(32, "big") + b"".join(heads) + b"".join(tails)


_WORD_ONE = (1).to_bytes(32, "big")
_WORD_32 = (32).to_bytes(32, "big")
_WORD_96 = (96).to_bytes(32, "big")


def decode_aggregate3(return_hex: str, expected: int) -> list[CallResult]:
    """Decode ``(bool,bytes)[]`` strictly (:func:`chain.validate.decode_aggregate3`: canonical
    offsets, exact length; equality with eth-abi tested). The transport already refused any
    answer that does not decode, so here this only converts."""
    return [CallResult(ok, data) for ok, data in strict_decode_aggregate3(return_hex, expected)]


def _call_obj(target: str, data: bytes) -> dict[str, str]:
    return {"to": target, "data": "0x" + bytes(data).hex()}


def _hex_bytes(value: Any) -> bytes:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return b""
    return b""


def _is_heavy(err: RpcError) -> bool:
    return is_too_big(err) or bool(_HEAVY_TEXT.search(err.rpc_message or str(err)))


def has_code(transport: Transport, address: str, block: int) -> bool:
    return transport.request("eth_getCode", [address, hex(block)]) not in (None, "0x", "0x0", "")


def multicall(
    transport: Transport,
    calls: Sequence[Call],
    block: int,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    min_batch_size: int = 1,
    aggregates_per_request: int = DEFAULT_AGGREGATES_PER_REQUEST,
    allow_failure: bool = True,
    gas: int | None = None,
    multicall_address: str = MULTICALL3,
    stats: MulticallStats | None = None,
) -> list[CallResult]:
    """Run ``calls`` at block number ``block``; results in input order.

    ``batch_size``: sub-calls per ``aggregate3`` to start with (halved on "too heavy" errors,
    doubled back after two clean rounds, never above the given value).
    ``aggregates_per_request``: ``aggregate3`` calls per JSON-RPC batch.
    ``gas``: optional gas for each ``eth_call`` (default: the node's cap).
    A sub-call that fails inside ``aggregate3`` is retried alone once via plain ``eth_call``;
    if it still fails, its :class:`CallResult` has ``success=False`` and the revert data; with
    ``allow_failure=False`` a :class:`MulticallError` listing the failed indices is raised.
    """
    if isinstance(block, bool) or not isinstance(block, int) or block < 0:
        raise ValueError(f"multicall: block must be a non-negative int (got {block!r})")
    if batch_size < 1 or aggregates_per_request < 1 or min_batch_size < 1:
        raise ValueError("multicall: batch_size, min_batch_size, aggregates_per_request must be >= 1")
    stats = stats if stats is not None else MulticallStats()
    calls = list(calls)
    if not calls:
        return []
    block_hex = hex(block)
    results: list[CallResult | None] = [None] * len(calls)

    if has_code(transport, multicall_address, block):
        _run_aggregates(transport, calls, results, block_hex, batch_size, min_batch_size,
                        aggregates_per_request, gas, multicall_address, stats)
    else:
        log.info("no Multicall3 code at %s, block %d: plain eth_call batches", multicall_address, block)
        _run_plain(transport, list(range(len(calls))), calls, results, block_hex, batch_size, gas, stats)

    # Retry failed sub-calls alone, once (a sub-call can fail inside a big aggregate only
    # because of the 63/64 gas rule).
    failed = [i for i, r in enumerate(results) if r is None or not r.success]
    if failed:
        stats.retried_alone += len(failed)
        _run_plain(transport, failed, calls, results, block_hex, batch_size, gas, stats)
    final_failed = [i for i, r in enumerate(results) if r is None or not r.success]
    stats.failed += len(final_failed)
    if final_failed and not allow_failure:
        raise MulticallError(
            f"{len(final_failed)} of {len(calls)} calls failed at block {block} "
            f"(first: #{final_failed[0]} to {calls[final_failed[0]].target})", final_failed)
    return [r if r is not None else CallResult(False, b"") for r in results]


def _run_plain(
    transport: Transport, indices: list[int], calls: list[Call], results: list[CallResult | None],
    block_hex: str, batch_size: int, gas: int | None, stats: MulticallStats,
) -> None:
    for start in range(0, len(indices), batch_size):
        chunk = indices[start:start + batch_size]
        reqs = []
        for i in chunk:
            obj = _call_obj(calls[i].target, calls[i].data)
            if gas is not None:
                obj["gas"] = hex(gas)
            reqs.append(("eth_call", [obj, block_hex]))
        stats.fallback_calls += len(reqs)
        for i, value in zip(chunk, batch_settled(transport, reqs), strict=True):
            if isinstance(value, RpcError):
                if value.kind != "rpc":
                    # No answer, or only invalid ones: that is not a revert, and taking it for
                    # one would change the snapshot (a probe read as "not supported").
                    raise value
                results[i] = CallResult(False, _hex_bytes(value.data))
            else:
                results[i] = CallResult(True, _hex_bytes(value) if value != "0x" else b"")


def _run_aggregates(
    transport: Transport, calls: list[Call], results: list[CallResult | None], block_hex: str,
    max_size: int, min_size: int, per_request: int, gas: int | None, address: str,
    stats: MulticallStats,
) -> None:
    size = max_size
    clean_rounds = 0
    pos = 0
    while pos < len(calls):
        chunks: list[tuple[int, int]] = []
        cursor = pos
        while cursor < len(calls) and len(chunks) < per_request:
            end = min(len(calls), cursor + size)
            chunks.append((cursor, end))
            cursor = end
        reqs = []
        for lo, hi in chunks:
            obj = _call_obj(address, encode_aggregate3(calls[lo:hi]))
            if gas is not None:
                obj["gas"] = hex(gas)
            reqs.append(("eth_call", [obj, block_hex]))
        try:
            replies = transport.batch(reqs)
        except RpcError as exc:
            if not _is_heavy(exc):
                raise
            if size <= min_size:
                # Cannot split further: leave these unset, they are retried alone.
                log.info("aggregate3 of %d call(s) refused (%s); plain eth_call", size, exc.rpc_message)
                pos = chunks[0][1]
                continue
            size = max(min_size, size // 2)
            stats.splits += 1
            clean_rounds = 0
            log.debug("aggregate3 too heavy (%s): batch size now %d", exc.rpc_message, size)
            continue
        stats.aggregates += len(chunks)
        for (lo, hi), reply in zip(chunks, replies, strict=True):
            for offset, res in enumerate(decode_aggregate3(reply, hi - lo)):
                results[lo + offset] = res
        pos = cursor
        clean_rounds += 1
        if clean_rounds >= 2 and size < max_size:
            size = min(max_size, size * 2)
            clean_rounds = 0

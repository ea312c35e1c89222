"""Every JSON-RPC answer is checked here before anything uses it.

A node (or a proxy, or a provider's load balancer) can answer with valid JSON that is not a
valid answer: a number where a hex string belongs, hex of the wrong length, a log of another
contract or outside the requested range, a truncated ``aggregate3`` return. Used as-is such
an answer either crashes deep inside a reader or — worse — silently changes the snapshot
(a dropped borrower, a wrong chain id). :func:`check_result` is called by the transport for
every result, inside its retry loop: an invalid answer is retried like a dropped connection
and, if it persists, fails the call with :class:`~chain.transport.RpcError` (``kind="invalid"``)
naming the method and the masked URL.

What is checked is structure, not truth: a well-formed answer with a plausible wrong value
(a flipped digit inside a balance) cannot be told from the truth by one client talking to one
node. What structure is checked, per method:

- quantities (``eth_blockNumber``, ``eth_chainId``, balances, nonces): ``0x`` + 1..64 hex digits;
  ``eth_chainId`` must also equal the expected chain id when the caller knows it;
- ``eth_call``: ``0x``-hex bytes in whole 32-byte ABI words (every Solidity/Vyper return is);
  an ``aggregate3`` return is decoded strictly (:func:`decode_aggregate3`): exactly as many
  results as calls sent, canonical offsets, zero padding, nothing before or after;
- ``eth_getCode``: ``0x``-hex bytes; ``eth_getStorageAt``: one 32-byte word;
- blocks: null or an object with a quantity ``number`` (the one asked for), 32-byte ``hash``
  (the one asked for) and ``parentHash``, quantity ``timestamp``;
- ``eth_getLogs``: a list; every entry from the filtered address(es), with topic0 in the filter,
  32-byte topics, hex data, ``blockNumber`` inside the requested range (and ``blockHash`` equal
  to the requested one), 32-byte block and transaction hashes, never ``removed``, in strictly
  increasing (block, logIndex) order, one hash per block number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

AGGREGATE3_SELECTOR_HEX = "0x82ad56cb"  # aggregate3((address,bool,bytes)[])

_HEX_DIGITS = re.compile(r"^[0-9a-fA-F]*$")


class InvalidAnswer(ValueError):
    """A JSON-RPC ``result`` that is not a valid answer to its method and parameters."""


# --------------------------------------------------------------------------------------------
# Primitive shapes


def is_quantity(value: Any) -> bool:
    """``0x`` + 1..64 hex digits (a JSON-RPC QUANTITY; leading zeros tolerated)."""
    return (isinstance(value, str) and value[:2] in ("0x", "0X") and 3 <= len(value) <= 66
            and bool(_HEX_DIGITS.match(value[2:])))


def is_data(value: Any, n_bytes: int | None = None) -> bool:
    """``0x`` + an even number of hex digits (DATA), of exactly ``n_bytes`` bytes if given."""
    if not isinstance(value, str) or value[:2] not in ("0x", "0X"):
        return False
    digits = value[2:]
    if len(digits) % 2 or not _HEX_DIGITS.match(digits):
        return False
    return n_bytes is None or len(digits) == 2 * n_bytes


def _quantity(value: Any, what: str) -> int:
    if not is_quantity(value):
        raise InvalidAnswer(f"{what} is not a hex quantity: {_show(value)}")
    return int(value, 16)


def _data(value: Any, what: str, n_bytes: int | None = None) -> str:
    if not is_data(value, n_bytes):
        size = f"{n_bytes}-byte " if n_bytes is not None else ""
        raise InvalidAnswer(f"{what} is not {size}0x-hex data: {_show(value)}")
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _block_number_param(value: Any) -> int | None:
    """A numeric block parameter (hex number or EIP-1898 ``blockNumber``), else None."""
    if isinstance(value, Mapping):
        value = value.get("blockNumber")
    return int(value, 16) if is_quantity(value) else None


# --------------------------------------------------------------------------------------------
# aggregate3


def decode_aggregate3(return_hex: str, expected: int) -> list[tuple[bool, bytes]]:
    """Decode an ``aggregate3`` return, ``(bool success, bytes returnData)[]``, strictly.

    The encoding is canonical Solidity ABI: the array offset is 32, there are exactly
    ``expected`` elements, each tuple's offset is where the previous one ended, each bytes
    offset is 64, padding is zero and the data ends exactly after the last element. Anything
    else raises :class:`InvalidAnswer` (a truncated, extended or garbled reply never decodes).
    """
    if not is_data(return_hex):
        raise InvalidAnswer(f"aggregate3 return is not 0x-hex data: {_show(return_hex)}")
    raw = bytes.fromhex(return_hex[2:])
    size = len(raw)

    def word(pos: int) -> int:
        if pos + 32 > size:
            raise InvalidAnswer(f"aggregate3 return data truncated at byte {pos} (length {size})")
        return int.from_bytes(raw[pos:pos + 32], "big")

    if word(0) != 32:
        raise InvalidAnswer(f"aggregate3 return: array offset {word(0)}, expected 32")
    n = word(32)
    if n != expected:
        raise InvalidAnswer(f"aggregate3 returned {n} results for {expected} calls")
    heads = 64
    out: list[tuple[bool, bytes]] = []
    next_tuple = 32 * n  # relative to the start of the heads
    for i in range(n):
        rel = word(heads + 32 * i)
        if rel != next_tuple:
            raise InvalidAnswer(f"aggregate3 result {i}: offset {rel}, expected {next_tuple}")
        tup = heads + rel
        success = word(tup)
        if success > 1:
            raise InvalidAnswer(f"aggregate3 result {i}: bool word is {success}")
        if word(tup + 32) != 64:
            raise InvalidAnswer(f"aggregate3 result {i}: bytes offset is not 64")
        length = word(tup + 64)
        start = tup + 96
        padded = length + (-length % 32)
        if start + padded > size:
            raise InvalidAnswer(f"aggregate3 result {i}: bytes run past the end of the return data")
        if any(raw[start + length:start + padded]):
            raise InvalidAnswer(f"aggregate3 result {i}: non-zero padding")
        out.append((bool(success), raw[start:start + length]))
        next_tuple = start + padded - heads
    if heads + next_tuple != size:
        raise InvalidAnswer(f"aggregate3 return has {size - heads - next_tuple} trailing byte(s)")
    return out


def _aggregate3_count(call: Any) -> int | None:
    """Number of calls in an ``aggregate3`` eth_call's calldata, or None if it is not one."""
    if not isinstance(call, Mapping):
        return None
    data = call.get("data") or call.get("input")
    if not isinstance(data, str) or not data.lower().startswith(AGGREGATE3_SELECTOR_HEX):
        return None
    try:
        return int(data[10 + 64:10 + 128], 16)
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------
# Per method


def check_block(result: Any, params: Sequence[Any], method: str) -> None:
    if result is None:
        return
    if not isinstance(result, Mapping):
        raise InvalidAnswer(f"block is a {type(result).__name__}, not an object")
    number = _quantity(result.get("number"), "block number")
    _data(result.get("hash"), "block hash", 32)
    _data(result.get("parentHash"), "block parentHash", 32)
    _quantity(result.get("timestamp"), "block timestamp")
    if params:
        if method == "eth_getBlockByNumber":
            asked = _block_number_param(params[0])
            if asked is not None and asked != number:
                raise InvalidAnswer(f"asked for block {asked}, got block {number}")
        elif method == "eth_getBlockByHash" and isinstance(params[0], str):
            if result["hash"].lower() != params[0].lower():
                raise InvalidAnswer("block hash differs from the hash asked for")


def check_logs(result: Any, params: Sequence[Any]) -> None:
    if not isinstance(result, list):
        raise InvalidAnswer(f"eth_getLogs result is a {type(result).__name__}, not a list")
    flt = params[0] if params and isinstance(params[0], Mapping) else {}
    addresses = flt.get("address")
    if isinstance(addresses, str):
        addresses = [addresses]
    wanted_addresses = {a.lower() for a in addresses} if addresses else None
    topics = flt.get("topics") or []
    topic0 = topics[0] if topics else None
    if isinstance(topic0, str):
        topic0 = [topic0]
    wanted_topic0 = {t.lower() for t in topic0} if topic0 else None
    lo = _block_number_param(flt.get("fromBlock"))
    hi = _block_number_param(flt.get("toBlock"))
    want_hash = flt.get("blockHash")
    previous: tuple[int, int] | None = None
    hash_at: dict[int, str] = {}
    for i, entry in enumerate(result):
        what = f"log {i}"
        if not isinstance(entry, Mapping):
            raise InvalidAnswer(f"{what} is a {type(entry).__name__}, not an object")
        address = _data(entry.get("address"), f"{what} address", 20).lower()
        if wanted_addresses is not None and address not in wanted_addresses:
            raise InvalidAnswer(f"{what} is from {address}, not from the filtered address")
        entry_topics = entry.get("topics")
        if not isinstance(entry_topics, list) or len(entry_topics) > 4:
            raise InvalidAnswer(f"{what} topics are not a list of at most 4: {_show(entry_topics)}")
        for j, t in enumerate(entry_topics):
            _data(t, f"{what} topic{j}", 32)
        if wanted_topic0 is not None and (not entry_topics or entry_topics[0].lower() not in wanted_topic0):
            raise InvalidAnswer(f"{what} has a topic0 outside the filter")
        _data(entry.get("data"), f"{what} data")
        number = _quantity(entry.get("blockNumber"), f"{what} blockNumber")
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            raise InvalidAnswer(f"{what} is in block {number}, outside the requested {lo}..{hi}")
        block_hash = _data(entry.get("blockHash"), f"{what} blockHash", 32).lower()
        if isinstance(want_hash, str) and block_hash != want_hash.lower():
            raise InvalidAnswer(f"{what} is from another block than the one asked for")
        if hash_at.setdefault(number, block_hash) != block_hash:
            raise InvalidAnswer(f"{what}: two different hashes for block {number}")
        _data(entry.get("transactionHash"), f"{what} transactionHash", 32)
        index = _quantity(entry.get("logIndex"), f"{what} logIndex")
        if entry.get("removed", False) is not False:
            raise InvalidAnswer(f"{what} is marked removed (or removed is not a bool)")
        if previous is not None and (number, index) <= previous:
            raise InvalidAnswer(f"{what} is out of order (block {number}, index {index})")
        previous = (number, index)


def check_result(method: str, params: Sequence[Any], result: Any, *,
                 expected_chain_id: int | None = None) -> None:
    """Raise :class:`InvalidAnswer` unless ``result`` is a well-formed answer to
    ``method(params)``. Methods not listed in the module docstring are not checked."""
    if method == "eth_chainId":
        chain_id = _quantity(result, "chain id")
        if expected_chain_id is not None and chain_id != expected_chain_id:
            raise InvalidAnswer(f"chain id {chain_id}, expected {expected_chain_id}")
    elif method in ("eth_blockNumber", "eth_getBalance", "eth_getTransactionCount", "eth_gasPrice"):
        _quantity(result, f"{method} result")
    elif method == "eth_call":
        _data(result, "eth_call result")
        count = _aggregate3_count(params[0]) if params else None
        if count is not None:
            decode_aggregate3(result, count)
        elif (len(result) - 2) % 64:
            raise InvalidAnswer(f"eth_call result is {(len(result) - 2) // 2} bytes, not whole 32-byte ABI words")
    elif method == "eth_getCode":
        _data(result, "eth_getCode result")
    elif method == "eth_getStorageAt":
        _data(result, "eth_getStorageAt result", 32)
    elif method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
        check_block(result, params, method)
    elif method == "eth_getLogs":
        check_logs(result, params)


__all__ = ["AGGREGATE3_SELECTOR_HEX", "InvalidAnswer", "check_block", "check_logs", "check_result",
           "decode_aggregate3", "is_data", "is_quantity"]

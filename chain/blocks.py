"""Resolve a block tag to one concrete block, once, and pin every later read to it — by hash.

``latest`` moves between two calls; a snapshot read at "latest" mixes blocks. So a run resolves
its tag to a :class:`PinnedBlock` (number *and* hash) first. A block *number* is not enough: a
reorg can replace block N by another block N in the middle of a scan, and reads by number then
silently mix the two. :class:`PinnedTransport` therefore sends every state read at the pinned
number by hash instead (EIP-1898 ``{"blockHash": h, "requireCanonical": true}``), bounds logs by
the pinned number and checks that logs and headers of that number carry the pinned hash; its
:meth:`~PinnedTransport.verify` re-checks at the end of a scan that the hash is still canonical.
Any sign of a replaced block raises :class:`ReorgError`; the scan re-pins and reads again
(:func:`chain.scan.scan_snapshot`) instead of writing a mixed snapshot.

anvil 1.7.1 (the devnet) accepts EIP-1898 block objects; after ``anvil_reorg`` or
``evm_revert`` it forgets the replaced block entirely and answers a read by its hash with
``-32001 Resource not found`` — an error, never the state of another block. Geth-style nodes
answer ``requireCanonical`` reads of a side-chain block with an error as well. A node that
rejects the object form (``-32602``) is read by number instead, with a warning; the final
canonical check still catches a reorg of the pinned block (only a reorg that replaces the block
and then restores it within one scan could go unseen there).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chain.transport import RpcError, Transport, batch_settled

log = logging.getLogger(__name__)

BLOCK_TAGS = ("latest", "safe", "finalized", "earliest")
# If a node does not know "safe"/"finalized" (pre-merge style dev nodes, some L2s), we use
# latest minus these many blocks instead and say so in a warning. Values follow the usual
# Ethereum assumptions: 'safe' ~ 1 epoch (32 slots), 'finalized' ~ 2 epochs.
FALLBACK_DEPTH = {"safe": 32, "finalized": 64}


@dataclass(frozen=True, slots=True)
class PinnedBlock:
    """A concrete block: ``number``, ``hash`` (0x-hex, 32 bytes), ``timestamp`` (unix seconds)."""

    number: int
    hash: str
    timestamp: int

    @property
    def hex_number(self) -> str:
        """The JSON-RPC block parameter for this block, e.g. ``"0x12d687"``."""
        return hex(self.number)


def block_param(block: PinnedBlock | int) -> str:
    """JSON-RPC block parameter (hex number) for a pinned block or a block number."""
    number = block.number if isinstance(block, PinnedBlock) else block
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise ValueError(f"block must be a non-negative int or PinnedBlock (got {block!r})")
    return hex(number)


def parse_block_tag(tag: str | int) -> str | int:
    """Normalise a user block spec: a tag name, a decimal or 0x-hex string, or an int."""
    if isinstance(tag, bool):
        raise ValueError(f"invalid block {tag!r}")
    if isinstance(tag, int):
        if tag < 0:
            raise ValueError(f"block number must be >= 0 (got {tag})")
        return tag
    text = str(tag).strip().lower()
    if text in BLOCK_TAGS:
        return text
    try:
        number = int(text, 16) if text.startswith("0x") else int(text, 10)
    except ValueError:
        raise ValueError(
            f"invalid block {tag!r}: expected one of {', '.join(BLOCK_TAGS)}, a number or 0x-hex"
        ) from None
    if number < 0:
        raise ValueError(f"block number must be >= 0 (got {tag})")
    return number


def _block(transport: Transport, param: str) -> dict[str, Any] | None:
    return transport.request("eth_getBlockByNumber", [param, False])


def _to_pinned(block: dict[str, Any]) -> PinnedBlock:
    return PinnedBlock(number=int(block["number"], 16), hash=block["hash"],
                       timestamp=int(block["timestamp"], 16))


def pin_block(transport: Transport, tag: str | int = "latest", confirmations: int = 0) -> PinnedBlock:
    """Resolve ``tag`` (``latest``/``safe``/``finalized``/``earliest``, a number or a numeric
    string) minus ``confirmations`` blocks to a :class:`PinnedBlock`, with one or two RPC calls.

    If the node rejects ``safe``/``finalized`` (error or null), falls back to latest minus
    :data:`FALLBACK_DEPTH` blocks and logs a warning naming the fallback.
    """
    if confirmations < 0:
        raise ValueError(f"confirmations must be >= 0 (got {confirmations})")
    spec = parse_block_tag(tag)
    if isinstance(spec, int):
        number = spec - confirmations
    else:
        block = None
        try:
            block = _block(transport, spec)
        except RpcError as exc:
            if spec not in FALLBACK_DEPTH:
                raise
            log.debug("node rejected %r: %s", spec, exc)
        if block is None and spec in FALLBACK_DEPTH:
            latest = _block(transport, "latest")
            if latest is None:
                raise RpcError(f"eth_getBlockByNumber('latest') returned null at {transport.masked_url}",
                               method="eth_getBlockByNumber")
            depth = FALLBACK_DEPTH[spec]
            log.warning("%s does not support block tag %r; using latest - %d blocks instead",
                        transport.masked_url, spec, depth)
            block = {"number": hex(max(0, int(latest["number"], 16) - depth))}
            if confirmations == 0:
                return pin_block(transport, int(block["number"], 16))
        if block is None:
            raise RpcError(f"eth_getBlockByNumber({spec!r}) returned null at {transport.masked_url}",
                           method="eth_getBlockByNumber")
        if confirmations == 0:
            return _to_pinned(block)
        number = int(block["number"], 16) - confirmations
    if number < 0:
        raise ValueError(f"block {tag!r} minus {confirmations} confirmations is before genesis")
    found = _block(transport, hex(number))
    if found is None:
        raise ValueError(f"block {number} does not exist yet at {transport.masked_url}")
    return _to_pinned(found)


# --------------------------------------------------------------------------------------------
# Reads pinned by hash

# State-reading methods and the index of their block parameter.
STATE_METHODS_BLOCK_INDEX = {
    "eth_call": 1,
    "eth_getCode": 1,
    "eth_getBalance": 1,
    "eth_getTransactionCount": 1,
    "eth_getStorageAt": 2,
}


class ReorgError(RpcError):
    """The pinned block is no longer the chain's block at that number (a reorg replaced it, or
    the node serving us switched forks). ``pinned``: the block that was read."""

    def __init__(self, message: str, pinned: PinnedBlock) -> None:
        super().__init__(message, method="eth_getBlockByNumber", kind="reorg")
        self.pinned = pinned


class PinnedReadError(ValueError):
    """A read inside a pinned scan named another block: a programming error that would mix
    blocks into one snapshot, refused before it is sent."""


def hash_param(block: PinnedBlock) -> dict[str, Any]:
    """The EIP-1898 block parameter reading exactly ``block``, and only while it is canonical."""
    return {"blockHash": block.hash, "requireCanonical": True}


def _is_revert(err: RpcError) -> bool:
    text = (err.rpc_message or "").lower()
    return err.code == 3 or "revert" in text or "invalid opcode" in text


def _raw(transport: Transport) -> Transport:
    """The innermost transport (below caches): the chain itself answers."""
    while hasattr(transport, "inner"):
        transport = transport.inner  # type: ignore[attr-defined]
    return transport


class PinnedTransport:
    """A :class:`Transport` view of ``inner`` in which every read is pinned to ``pinned``.

    - state reads (``eth_call``, ``eth_getCode``, ...) at ``hex(pinned.number)`` go by hash
      (:func:`hash_param`); at any other block they are refused (:class:`PinnedReadError`);
    - ``eth_getLogs`` must end at or before the pinned number; a log or header of the pinned
      number with another hash raises :class:`ReorgError`;
    - a failed read that is not a revert (e.g. "Resource not found" for a forgotten hash) is
      followed by a canonical check, so a reorg surfaces as :class:`ReorgError` rather than as a
      failed sub-call;
    - :meth:`verify`: is the pinned hash (still) canonical, and does the node still name the
      same chain? Call it after the last read.
    """

    def __init__(self, inner: Transport, pinned: PinnedBlock, *, by_hash: bool = True) -> None:
        self.inner = inner
        self.pinned = pinned
        self.by_hash = by_hash

    @property
    def masked_url(self) -> str:  # type: ignore[override]
        return self.inner.masked_url

    @property
    def chain_id(self) -> int:
        return self.inner.chain_id

    def __repr__(self) -> str:
        return f"PinnedTransport({self.inner!r}, block {self.pinned.number})"

    # -- Transport --------------------------------------------------------------------------

    def request(self, method: str, params: list[Any]) -> Any:
        sent = self._pin(method, params)
        try:
            result = self.inner.request(method, sent)
        except RpcError as exc:
            if self._fallback_to_number(method, sent, exc):
                return self.request(method, params)
            self._check_error(exc)
            raise
        self._check_result(method, sent, result)
        return result

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        sent = [(m, self._pin(m, p)) for m, p in calls]
        try:
            results = self.inner.batch(sent)
        except RpcError as exc:
            if any(self._fallback_to_number(m, p, exc) for m, p in sent):
                return self.batch(calls)
            self._check_error(exc)
            raise
        for (m, p), r in zip(sent, results, strict=True):
            self._check_result(m, p, r)
        return results

    def batch_settled(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        sent = [(m, self._pin(m, p)) for m, p in calls]
        try:
            results = batch_settled(self.inner, sent)
        except RpcError as exc:
            self._check_error(exc)
            raise
        errors = [r for r in results if isinstance(r, RpcError)]
        if any(self._fallback_to_number(m, p, r) for (m, p), r in zip(sent, results, strict=True)
               if isinstance(r, RpcError)):
            return self.batch_settled(calls)
        if any(not _is_revert(e) for e in errors):
            self.verify()  # a reorg must not pass for failed sub-calls
        for (m, p), r in zip(sent, results, strict=True):
            if not isinstance(r, RpcError):
                self._check_result(m, p, r)
        return results

    # -- checks -----------------------------------------------------------------------------

    def verify(self) -> None:
        """Raise :class:`ReorgError` unless the chain's block at the pinned number still has the
        pinned hash; raise :class:`RpcError` if the node now names another chain id."""
        raw = _raw(self.inner)
        chain_hex, block = raw.batch([("eth_chainId", []), ("eth_getBlockByNumber", [self.pinned.hex_number, False])])
        if int(chain_hex, 16) != self.chain_id:
            raise RpcError(f"eth_chainId answers disagree at {self.masked_url}: {self.chain_id} at the start of "
                           f"the scan, {int(chain_hex, 16)} at its end; not writing a snapshot",
                           method="eth_chainId", kind="invalid")
        if block is None or block["hash"].lower() != self.pinned.hash.lower():
            now = "no block" if block is None else f"block {block['hash'][:12]}…"
            raise ReorgError(f"block {self.pinned.number} ({self.pinned.hash[:12]}…) was replaced by a reorg "
                             f"at {self.masked_url} (the chain now has {now} at that number)", self.pinned)

    def _pin(self, method: str, params: list[Any]) -> list[Any]:
        index = STATE_METHODS_BLOCK_INDEX.get(method)
        if index is not None:
            if len(params) <= index:
                raise PinnedReadError(f"{method} without a block parameter inside a scan pinned to block "
                                      f"{self.pinned.number}")
            value = params[index]
            if isinstance(value, dict) and str(value.get("blockHash", "")).lower() == self.pinned.hash.lower():
                return params
            if isinstance(value, str) and value[:2] in ("0x", "0X") and _int_or_none(value) == self.pinned.number:
                if not self.by_hash:
                    return params
                out = list(params)
                out[index] = hash_param(self.pinned)
                return out
            raise PinnedReadError(f"{method} at block {value!r} inside a scan pinned to block {self.pinned.number}: "
                                  "every state read must name the pinned block")
        if method == "eth_getLogs" and params and isinstance(params[0], dict) and "blockHash" not in params[0]:
            to = _int_or_none(params[0].get("toBlock"))
            if to is None or to > self.pinned.number:
                raise PinnedReadError(f"eth_getLogs to {params[0].get('toBlock')!r} inside a scan pinned to block "
                                      f"{self.pinned.number}")
        return params

    def _check_result(self, method: str, params: list[Any], result: Any) -> None:
        if method == "eth_getBlockByNumber" and isinstance(result, dict) and params \
                and _int_or_none(params[0]) == self.pinned.number:
            if str(result.get("hash", "")).lower() != self.pinned.hash.lower():
                self.verify()
                raise ReorgError(f"the header of block {self.pinned.number} at {self.masked_url} names another "
                                 f"block than the pinned {self.pinned.hash[:12]}… (nodes on different forks?)",
                                 self.pinned)
        elif method == "eth_getLogs" and isinstance(result, list):
            pinned_hex = self.pinned.hash.lower()
            if any(_int_or_none(e.get("blockNumber")) == self.pinned.number
                   and str(e.get("blockHash", "")).lower() != pinned_hex for e in result):
                self.verify()
                raise ReorgError(f"logs of block {self.pinned.number} at {self.masked_url} come from another "
                                 f"block than the pinned {self.pinned.hash[:12]}…", self.pinned)

    def _check_error(self, exc: RpcError) -> None:
        if exc.kind == "rpc" and not _is_revert(exc):
            self.verify()

    def _fallback_to_number(self, method: str, sent: list[Any], exc: RpcError) -> bool:
        """The node does not take EIP-1898 block objects: read by number from now on."""
        index = STATE_METHODS_BLOCK_INDEX.get(method)
        if not self.by_hash or index is None or not isinstance(sent[index], dict):
            return False
        if exc.kind != "rpc" or exc.code != -32602:
            return False
        log.warning("%s rejects EIP-1898 block-hash parameters (%s); reading block %d by number and "
                    "re-checking its hash at the end", self.masked_url, exc.rpc_message, self.pinned.number)
        self.by_hash = False
        return True


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, str) and value[:2] in ("0x", "0X"):
        try:
            return int(value, 16)
        except ValueError:
            return None
    return None

"""Resolve a block tag to one concrete block, once, and pin every later read to it.

``latest`` moves between two calls; a snapshot read at "latest" mixes blocks. So a run resolves
its tag to a :class:`PinnedBlock` first and then passes ``hex(number)`` (or the hash) to every
``eth_call`` / ``eth_getLogs``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from chain.transport import RpcError, Transport

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

"""ERC-20 metadata that survives tokens which do not follow the optional parts of the standard.

EIP-20 makes ``name()``, ``symbol()`` and ``decimals()`` OPTIONAL, and Morpho Blue markets are
permissionless: any contract can be a market's token. Real cases: MKR and SAI answer
``symbol()`` with a ``bytes32``; Morpho's own ``src/mocks/ERC20Mock.sol`` has no ``decimals()``;
a token may answer with garbage (short return data, a value that does not fit ``uint8``).

:func:`read_tokens` reads ``symbol()`` and ``decimals()`` of many tokens in one multicall and
never raises for one token's answer: it reports what it found (:class:`TokenInfo`), and the
scan decides per venue what a missing value means (Aave and Comet keep their own record of a
token's decimals; a Morpho market's math needs none, its USD value does — see chain.scan).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from eth_abi import decode

from abis import abi_function
from chain.aave_v3 import block_number, checksum
from chain.blocks import PinnedBlock
from chain.multicall import Call, multicall
from chain.transport import Transport

MAX_DECIMALS = 36  # risk.snapshot.Asset accepts 0..36: 10**decimals stays exact in a float64 exponent range
MAX_SYMBOL_CHARS = 24
_SYMBOL_EXTRA_CHARS = set("._-+/$")


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What one token answered at the block.

    ``symbol`` is always usable (sanitised; ``TKN-<address prefix>`` when the token gave none);
    ``symbol_source`` says which: ``string``, ``bytes32`` (MKR-style) or ``none``.
    ``decimals`` is None when ``decimals()`` reverted, returned no 32-byte word, or a value above
    :data:`MAX_DECIMALS`; ``decimals_problem`` then says which.
    """

    address: str
    symbol: str
    symbol_source: Literal["string", "bytes32", "none"]
    decimals: int | None
    decimals_problem: str | None = None


def placeholder_symbol(address: str) -> str:
    return f"TKN-{address[2:10]}"


def clean_symbol(text: str) -> str | None:
    """Letters, digits and ``._-+/$`` only (no markup, whitespace or control characters reach a
    table, a file name or a report), at most :data:`MAX_SYMBOL_CHARS`; None if nothing is left."""
    kept = "".join(c for c in unicodedata.normalize("NFC", text)
                   if c.isalnum() or c in _SYMBOL_EXTRA_CHARS or unicodedata.category(c) == "Sc")
    kept = kept[:MAX_SYMBOL_CHARS]
    return kept or None


def decode_symbol(data: bytes) -> tuple[str | None, Literal["string", "bytes32", "none"]]:
    """``symbol()`` return data as a string (ABI ``string``) or a ``bytes32`` (MKR)."""
    if len(data) >= 64:
        try:
            (text,) = decode(["string"], data)
            cleaned = clean_symbol(str(text))
            if cleaned:
                return cleaned, "string"
        except Exception:  # not an ABI string: maybe bytes32 followed by more words
            pass
    if len(data) >= 32:
        word = data[:32].rstrip(b"\x00")
        if word and b"\x00" not in word:
            cleaned = clean_symbol(word.decode("utf-8", "replace"))
            if cleaned:
                return cleaned, "bytes32"
    return None, "none"


def decode_decimals(data: bytes) -> tuple[int | None, str | None]:
    """``decimals()`` return data: the first 32-byte word as an unsigned int (strict ``uint8``
    decoding would reject a padded word we can still judge)."""
    if len(data) < 32:
        return None, "decimals() returned no value" if not data else f"decimals() returned {len(data)} bytes"
    value = int.from_bytes(data[:32], "big")
    if value > MAX_DECIMALS:
        return None, f"decimals() = {value} is out of range (0..{MAX_DECIMALS})"
    return value, None


def read_tokens(transport: Transport, block: PinnedBlock | int, addresses: Iterable[str]) -> dict[str, TokenInfo]:
    """``symbol()`` and ``decimals()`` of each token at ``block``, one multicall, never raising
    for what a token answers (transport errors still raise)."""
    tokens = sorted({checksum(a, "token") for a in addresses})
    if not tokens:
        return {}
    symbol_fn = abi_function("ERC20", "symbol")
    decimals_fn = abi_function("ERC20", "decimals")
    calls = [Call(t, symbol_fn.selector) for t in tokens] + [Call(t, decimals_fn.selector) for t in tokens]
    results = multicall(transport, calls, block_number(block))
    out: dict[str, TokenInfo] = {}
    for i, token in enumerate(tokens):
        sym_res, dec_res = results[i], results[len(tokens) + i]
        symbol, source = decode_symbol(bytes(sym_res.data)) if sym_res.success else (None, "none")
        if dec_res.success:
            decimals, problem = decode_decimals(bytes(dec_res.data))
        else:
            decimals, problem = None, "decimals() reverted"
        out[token] = TokenInfo(token, symbol or placeholder_symbol(token), source, decimals, problem)
    return out


__all__ = ["MAX_DECIMALS", "TokenInfo", "clean_symbol", "decode_decimals", "decode_symbol", "placeholder_symbol",
           "read_tokens"]

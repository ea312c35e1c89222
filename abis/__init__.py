"""ABI subsets (JSON) of the contracts liqrisk reads: only the functions/events the readers use.

``load_abi(name)`` returns the parsed JSON list; :func:`abi_function` turns one entry into an
:class:`AbiFunction` that encodes calldata and decodes return data with eth-abi (cached, so
bulk reads do not re-parse the ABI per call).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak


@lru_cache(maxsize=None)
def _load(name: str) -> str:
    try:
        return resources.files(__name__).joinpath(f"{name}.json").read_text()
    except FileNotFoundError:
        available = sorted(p.name[:-5] for p in resources.files(__name__).iterdir() if p.name.endswith(".json"))
        raise FileNotFoundError(f"no ABI {name!r} in package abis; available: {available}") from None


def load_abi(name: str) -> list[dict[str, Any]]:
    """The ABI list of ``abis/<name>.json`` (e.g. ``"AavePool"``)."""
    return json.loads(_load(name))


def _canonical_type(param: dict[str, Any]) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple'):]}"
    return kind


@dataclass(frozen=True, slots=True)
class AbiFunction:
    """One function: canonical ``signature``, 4-byte ``selector``, eth-abi input/output types."""

    name: str
    signature: str
    selector: bytes
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]

    def encode(self, *args: Any) -> bytes:
        """Calldata: selector + ABI-encoded ``args``."""
        fast = _encode_static_words(self.input_types, args)
        if fast is not None:
            return self.selector + fast
        return self.selector + encode(list(self.input_types), list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """Return values as a tuple (one element per output; structs are nested tuples)."""
        data = bytes(data)
        if len(data) == 32 * len(self.output_types) and all(t.startswith("uint") for t in self.output_types):
            # All-uint returns (balances, prices, indices) are the bulk of a scan: read the words
            # directly. eth-abi handles everything else (and validates).
            return tuple(
                _checked_uint(data[32 * i: 32 * i + 32], t) for i, t in enumerate(self.output_types)
            )
        return tuple(decode(list(self.output_types), data))


_HEX = frozenset("0123456789abcdefABCDEF")


def _encode_static_words(types: tuple[str, ...], args: tuple[Any, ...]) -> bytes | None:
    """Encode address/uint/bytes32 arguments as 32-byte words, or None to let eth-abi do it.

    Per-call eth-abi encoding dominated the readers' client time; these are the only argument
    types the hot reads use. Anything unusual (or malformed) falls back to eth-abi, which raises
    its usual clear errors.
    """
    if len(types) != len(args):
        return None
    words = []
    for kind, value in zip(types, args):
        if kind == "address" and isinstance(value, str) and len(value) == 42 and value[:2] in ("0x", "0X") \
                and _HEX.issuperset(value[2:]):
            words.append(bytes(12) + bytes.fromhex(value[2:]))
        elif kind == "uint256" and type(value) is int and 0 <= value < 1 << 256:
            words.append(value.to_bytes(32, "big"))
        elif kind == "bytes32" and isinstance(value, (bytes, bytearray)) and len(value) == 32:
            words.append(bytes(value))
        else:
            return None
    return b"".join(words)


def _checked_uint(word: bytes, kind: str) -> int:
    value = int.from_bytes(word, "big")
    bits = int(kind[4:] or 256)
    if value >> bits:
        raise ValueError(f"return value does not fit {kind}: {value}")
    return value


@lru_cache(maxsize=None)
def abi_function(abi_name: str, function_name: str) -> AbiFunction:
    """The function ``function_name`` of ABI ``abi_name`` (must be unique by name there)."""
    entries = [e for e in load_abi(abi_name) if e.get("type") == "function" and e.get("name") == function_name]
    if len(entries) != 1:
        raise KeyError(f"ABI {abi_name!r} has {len(entries)} functions named {function_name!r}")
    entry = entries[0]
    inputs = tuple(_canonical_type(p) for p in entry["inputs"])
    outputs = tuple(_canonical_type(p) for p in entry["outputs"])
    signature = f"{function_name}({','.join(inputs)})"
    return AbiFunction(function_name, signature, keccak(text=signature)[:4], inputs, outputs)


def _named(param: dict[str, Any], value: Any) -> Any:
    kind = param["type"]
    if kind == "tuple":
        components = param["components"]
        if len(value) != len(components):
            raise ValueError(f"{len(value)} values for struct fields {[c['name'] for c in components]}")
        return {c["name"]: _named(c, v) for c, v in zip(components, value, strict=True)}
    if kind.startswith("tuple["):
        element = {**param, "type": "tuple"}
        return [_named(element, v) for v in value]
    return value


@lru_cache(maxsize=None)
def _outputs(abi_name: str, function_name: str) -> tuple[dict[str, Any], ...]:
    entries = [e for e in load_abi(abi_name) if e.get("type") == "function" and e.get("name") == function_name]
    if len(entries) != 1:
        raise KeyError(f"ABI {abi_name!r} has {len(entries)} functions named {function_name!r}")
    return tuple(entries[0]["outputs"])


def named_outputs(abi_name: str, function_name: str, decoded: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
    """``decoded`` (what :meth:`AbiFunction.decode` returned) keyed by the ABI's output names, structs
    as dicts of their field names (recursively), so readers read ``rd["aTokenAddress"]``, never
    ``rd[8]``: a field added or moved in the ABI cannot shift what a position means. A function whose
    one output is an unnamed struct (Aave's ``getReserveData``) gives that struct's fields. A count
    that does not match the ABI is a ``ValueError``."""
    outputs = _outputs(abi_name, function_name)
    if len(decoded) != len(outputs):
        raise ValueError(f"{abi_name}.{function_name}: {len(decoded)} values for {len(outputs)} outputs")
    if len(outputs) == 1 and not outputs[0]["name"] and outputs[0]["type"] == "tuple":
        named: dict[str, Any] = _named(outputs[0], decoded[0])
        return named
    names = [o["name"] or f"output{i}" for i, o in enumerate(outputs)]
    return {n: _named(o, v) for n, o, v in zip(names, outputs, decoded, strict=True)}


def event_topic0(abi_name: str, event_name: str) -> str:
    """``0x``-hex topic0 of event ``event_name`` in ABI ``abi_name``."""
    entries = [e for e in load_abi(abi_name) if e.get("type") == "event" and e.get("name") == event_name]
    if len(entries) != 1:
        raise KeyError(f"ABI {abi_name!r} has {len(entries)} events named {event_name!r}")
    types = ",".join(_canonical_type(p) for p in entries[0]["inputs"])
    return "0x" + keccak(text=f"{event_name}({types})").hex()


__all__ = ["AbiFunction", "abi_function", "event_topic0", "load_abi", "named_outputs"]

"""Multicall reads by ABI name, and their results by output name: the two helpers every venue
reader (``chain/euler_v2.py``, ``chain/liquity_v2.py``, ``chain/sky_vaults.py``, ``chain/aave_v4.py``,
``chain/venues/fluid_vault.py``) used to keep its own copy of.

- :func:`abi_read`: a :class:`chain.aave_v3.Read` (one Multicall3 call) of ``function`` of ABI
  ``abi_name`` (``abis/<abi_name>.json``) on ``target`` with ``args``;
- :func:`named`: the decoded return values keyed by the ABI's output names, so a reader writes
  ``rd["ink"]``, never ``rd[0]``; a function whose one output is a struct gives that struct's fields
  (Liquity's ``getLatestTroveData``, Aave V4's ``getReserve``). A call that returned nothing (it
  reverted inside the Multicall) or a value count that does not match the ABI is a
  :class:`chain.aave_v3.ReaderError` naming the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from abis import abi_function, load_abi
from chain.aave_v3 import Read, ReaderError


def abi_read(target: str, abi_name: str, function: str, *args: Any) -> Read:
    """One Multicall3 read of ``abi_name.function(*args)`` on ``target``."""
    return Read(target, abi_function(abi_name, function), args)


def named(abi_name: str, function: str, decoded: Sequence[Any] | None) -> dict[str, Any]:
    """Decoded return values keyed by their ABI output names (a struct return is unpacked)."""
    if decoded is None:
        raise ReaderError(f"{abi_name}.{function} returned nothing")
    (entry,) = [e for e in load_abi(abi_name) if e.get("type") == "function" and e.get("name") == function]
    outputs = entry["outputs"]
    if len(outputs) == 1 and outputs[0]["type"] == "tuple":
        names = tuple(c["name"] for c in outputs[0]["components"])
        values = tuple(decoded[0])
    else:
        names, values = tuple(o["name"] for o in outputs), tuple(decoded)
    if len(names) != len(values):
        raise ReaderError(f"{abi_name}.{function}: {len(values)} values for outputs {names}")
    return dict(zip(names, values, strict=True))


__all__ = ["abi_read", "named"]

"""The one I/O seam: JSON-RPC over HTTP.

Every chain read in liqrisk goes through a :class:`Transport`. Readers take one; they never
build one. (Interface fixed here; the HTTP implementation, retries, rate limit, batching and
the SQLite cache of pinned-block results live in this module and :mod:`chain.cache`.)
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


class RpcError(RuntimeError):
    """An RPC call failed for good (after retries). The message names the method and the
    masked URL, never the full URL."""


@runtime_checkable
class Transport(Protocol):
    masked_url: str
    """The endpoint with any API key masked, safe to print."""

    @property
    def chain_id(self) -> int: ...

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; returns ``result`` or raises :class:`RpcError`."""

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls in one JSON-RPC batch; results in the order given. A failed
        element raises :class:`RpcError` (after retrying it alone)."""

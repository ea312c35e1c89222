"""A user's ``web3.Web3`` (or web3 provider) as the :class:`~chain.transport.Transport`.

Risk desks already hold configured ``web3.Web3`` objects (their provider, its auth headers and
session). :class:`Web3Transport` lets every reader run over one of them instead of a URL::

    from web3 import Web3
    from chain.web3_transport import Web3Transport

    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    snapshot = scan_snapshot(Web3Transport(w3), block="latest", aave_pools=[...])

What goes through web3 and what does not:

- calls go to the **provider** (``w3.provider.make_request`` / ``make_batch_request``), i.e. the raw
  JSON-RPC answers, not web3's formatted Python values: every answer must pass
  :func:`chain.validate.check_result` exactly as it does for :class:`~chain.transport.HttpTransport`
  (same checks, same ``expected_chain_id``), and the readers decode hex themselves. web3's result
  formatters and middleware (e.g. a POA ``extraData`` fixer) are therefore not applied; the
  provider's own session, headers and retry configuration are.
- **batching** is kept: a provider with a working ``make_batch_request`` (web3 >= 7: HTTP, IPC,
  Auto providers) receives one JSON-RPC batch per ``max_batch_size`` calls. A provider without it
  (``NotImplementedError``, an older web3, a custom provider) gets the **fallback**: the calls one
  by one, in order — the same answers, more round trips (``stats.batches`` stays 0).
- **retries**: an answer that fails validation, a provider rate-limit error and a connection error
  are retried (equal-jitter backoff, seeded) like HttpTransport does; a node's definitive JSON-RPC
  error is raised at once as :class:`~chain.transport.RpcError`. A batch element that fails or is
  invalid is retried alone.
- only :func:`~chain.transport.mask_url` of the provider's endpoint is ever shown.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any, Callable

from chain.transport import RpcError, TransportStats, _JsonRpcClient, _Transient, mask_url


def _provider_of(w3_or_provider: Any) -> Any:
    provider = getattr(w3_or_provider, "provider", None)
    if provider is not None and callable(getattr(provider, "make_request", None)):
        return provider  # a web3.Web3
    if callable(getattr(w3_or_provider, "make_request", None)):
        return w3_or_provider  # a provider
    raise TypeError(f"Web3Transport needs a web3.Web3 or a web3 provider, got {type(w3_or_provider).__name__}")


def _is_async(provider: Any) -> bool:
    import inspect

    return inspect.iscoroutinefunction(provider.make_request)


class Web3Transport(_JsonRpcClient):
    """JSON-RPC through a ``web3.Web3`` object's provider (or a provider), answers validated.

    Parameters
    ----------
    w3 : a ``web3.Web3`` instance or a synchronous web3 provider (``HTTPProvider``, ``IPCProvider``...).
    expected_chain_id : if given, an ``eth_chainId`` answer naming another chain is invalid.
    max_retries : retries after the first attempt for invalid answers, rate limits, connection errors.
    backoff_base_s, backoff_max_s : first backoff (doubles per retry) and its cap, seconds.
    max_batch_size : JSON-RPC calls per batch sent to the provider.
    use_batches : ``None`` (default) = batch when the provider implements ``make_batch_request``;
        ``False`` = always one call at a time (the fallback).
    rng, sleep : jitter source (default ``random.Random(0)``) and sleep function.
    """

    def __init__(
        self,
        w3: Any,
        *,
        expected_chain_id: int | None = None,
        max_retries: int = 5,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 30.0,
        max_batch_size: int = 100,
        use_batches: bool | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.provider = _provider_of(w3)
        if _is_async(self.provider):
            raise TypeError("Web3Transport needs a synchronous provider (web3.Web3, not AsyncWeb3)")
        if max_retries < 0 or max_batch_size < 1 or backoff_base_s < 0:
            raise ValueError("Web3Transport: need max_retries >= 0, max_batch_size >= 1, backoff_base_s >= 0")
        endpoint = getattr(self.provider, "endpoint_uri", None) or getattr(self.provider, "ipc_path", None)
        shown = mask_url(str(endpoint)) if endpoint and str(endpoint).startswith(("http", "ws")) else None
        self.masked_url = shown or f"web3:{type(self.provider).__name__}"
        self.expected_chain_id = expected_chain_id
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_batch_size = max_batch_size
        self._batches = use_batches if use_batches is not None else callable(
            getattr(self.provider, "make_batch_request", None))
        self._rng = rng if rng is not None else random.Random(0)
        self._sleep = sleep
        self._lock = threading.Lock()
        self._chain_id: int | None = None
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"Web3Transport({self.masked_url!r})"

    __str__ = __repr__

    @property
    def batching(self) -> bool:
        """True while calls are sent as JSON-RPC batches (False: the one-by-one fallback)."""
        return self._batches

    # -- public calls -----------------------------------------------------------------------

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; returns ``result`` (validated) or raises :class:`RpcError`."""
        self._count(rpc_calls=1)

        def attempt() -> Any:
            reply = self._send_one(method, params)
            result = self._result_or_raise(reply, method)
            self._check(method, params, result)
            return result

        return self._with_retries(attempt, method)

    # -- internals --------------------------------------------------------------------------

    def _send_one(self, method: str, params: list[Any]) -> Any:
        self._count(http_requests=1)
        try:
            return self.provider.make_request(method, params)
        except RpcError:
            raise
        except (OSError, TimeoutError) as exc:  # requests' errors are OSErrors too
            raise _Transient("connection", f"provider error ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001 - a provider's own failure: name its type only
            if _looks_like_connection_error(exc):
                raise _Transient("connection", f"provider error ({type(exc).__name__})") from None
            raise RpcError(f"{method} at {self.masked_url}: provider raised {type(exc).__name__}",
                           method=method, kind="connection") from None

    def _send_batch(self, calls: list[tuple[str, list[Any]]], label: str) -> list[Any]:
        self._count(http_requests=1)
        try:
            replies = self.provider.make_batch_request(list(calls))
        except NotImplementedError:
            raise
        except (OSError, TimeoutError) as exc:
            raise _Transient("connection", f"provider error ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001
            if _looks_like_connection_error(exc):
                raise _Transient("connection", f"provider error ({type(exc).__name__})") from None
            raise RpcError(f"{label} at {self.masked_url}: provider raised {type(exc).__name__}",
                           method=label, kind="connection") from None
        if isinstance(replies, dict):  # a whole-batch error object
            self._result_or_raise(replies, label)
            raise _Transient("protocol", "batch answered with a single object")
        if not isinstance(replies, list):
            raise _Transient("protocol", f"expected a list of replies, got {type(replies).__name__}")
        return replies

    def _chunk(self, calls: list[tuple[str, list[Any]]], *, settle: bool) -> list[Any]:
        if not calls:
            return []
        if not self._batches or (len(calls) == 1 and not settle):
            return [self._settled_request(m, p) if settle else self.request(m, p) for m, p in calls]
        label = f"batch[{len(calls)}]:{calls[0][0]}"
        self._count(batches=1, rpc_calls=len(calls))
        try:
            replies = self._with_retries(lambda: self._send_batch(calls, label), label)
        except NotImplementedError:
            self._batches = False  # this provider cannot batch: the documented fallback from now on
            self._count(batches=-1, rpc_calls=-len(calls), http_requests=-1)  # nothing was sent
            return self._chunk(calls, settle=settle)
        # web3 sorts the replies by id and its ids are its own: match by position, but only when
        # the counts agree (anything else is retried element by element).
        if len(replies) != len(calls):
            replies = [None] * len(calls)
        return self._take_replies(calls, replies, settle=settle)

    def _with_retries(self, attempt: Callable[[], Any], method: str) -> Any:
        for n in range(self.max_retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                if n == self.max_retries:
                    self._count(failures=1)
                    raise RpcError(
                        f"{method} failed after {n + 1} attempt(s) at {self.masked_url}: {exc.kind}: {exc.detail}",
                        method=method.split(":", 1)[-1], kind=exc.kind, code=exc.code,
                        rpc_message=exc.rpc_message, data=exc.data) from None
                self._count(retries=1)
                self._sleep(self._backoff_s(n))
        raise AssertionError("unreachable")

def _looks_like_connection_error(exc: Exception) -> bool:
    """requests' / aiohttp's / web3's connection and timeout errors, by class name (no import)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ConnectionError", "Timeout", "ReadTimeout", "ConnectTimeout", "TimeExhausted",
                         "ProviderConnectionError", "ChunkedEncodingError", "RequestException"})


def as_transport(value: Any, **options: Any) -> Any:
    """A :class:`~chain.transport.Transport` from what a caller holds: a transport as is, a
    ``web3.Web3`` or web3 provider wrapped in :class:`Web3Transport`, an ``http(s)://`` URL in
    :class:`~chain.transport.HttpTransport`."""
    from chain.transport import HttpTransport, Transport

    if isinstance(value, str):
        return HttpTransport(value, **options)
    if isinstance(value, Transport) and not callable(getattr(value, "make_request", None)):
        return value
    return Web3Transport(value, **options)


__all__ = ["Web3Transport", "as_transport"]

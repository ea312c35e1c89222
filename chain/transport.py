"""The one I/O seam: JSON-RPC over HTTP.

Every chain read in liqrisk goes through a :class:`Transport`. Readers take one; they never
build one. :class:`HttpTransport` is the HTTP implementation (retries with jittered
exponential backoff, a token-bucket rate limit, JSON-RPC batching, request counters); the
SQLite cache of pinned-block results lives in :mod:`chain.cache`.

RPC URLs often carry an API key (in the path, the query or the userinfo). Only
:func:`mask_url`'s output is ever put into messages, reprs or logs.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable
from urllib.parse import urlsplit, urlunsplit

import requests

log = logging.getLogger(__name__)

ENV_RPC_URL = "ETH_RPC_URL"


class RpcError(RuntimeError):
    """An RPC call failed for good (after retries). The message names the method and the
    masked URL, never the full URL.

    Attributes: ``method``; ``kind`` (``"rpc"`` = the node answered with a JSON-RPC error,
    ``"http"`` = bad HTTP status, ``"timeout"``, ``"connection"``, ``"protocol"`` = malformed
    reply); ``code``/``rpc_message``/``data`` from the JSON-RPC error object; ``http_status``.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        kind: str = "rpc",
        code: int | None = None,
        rpc_message: str = "",
        data: Any = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.kind = kind
        self.code = code
        self.rpc_message = rpc_message
        self.data = data
        self.http_status = http_status

    @property
    def revert_reason(self) -> str:
        """The contract's ``Error(string)`` reason when the call reverted with one, else the
        node's message."""
        data = self.data.get("data") if isinstance(self.data, dict) else self.data
        if isinstance(data, str) and data.startswith("0x08c379a0"):
            from eth_abi import decode

            (reason,) = decode(["string"], bytes.fromhex(data[10:]))
            return reason
        return self.rpc_message or str(self)


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


# --------------------------------------------------------------------------------------------
# URL handling

_MASK = "****"
# Path segments kept in clear: API version / network words ("v2", "v3", "eth", "rpc",
# "mainnet"). Anything with digits beyond a version tag, or long, is treated as a secret.
_PUBLIC_SEGMENT = re.compile(r"^(v\d{1,2}|[a-z]{1,12}([-_][a-z]{1,12}){0,2})$")


def mask_url(url: str) -> str:
    """Return ``url`` with secrets masked: userinfo dropped, the query replaced by ``****``
    and every path segment that could be a key replaced by ``****``.

    ``https://u:p@eth-mainnet.g.alchemy.com/v2/abc123?k=1`` →
    ``https://****@eth-mainnet.g.alchemy.com/v2/****?****``.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return _MASK
    if not parts.scheme or not host:
        return _MASK
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = f"{_MASK}@{netloc}"
    segments = [s if (s == "" or _PUBLIC_SEGMENT.match(s)) else _MASK for s in parts.path.split("/")]
    path = "/".join(segments)
    query = _MASK if parts.query else ""
    return urlunsplit((parts.scheme, netloc, path, query, ""))


class _ScrubSecretsFilter(logging.Filter):
    """urllib3 logs ``"POST /v2/<key> HTTP/1.1"`` at DEBUG: replace the secret parts of every
    URL an :class:`HttpTransport` uses with their masked form before the record is emitted."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            try:
                msg = record.getMessage()
            except Exception:  # malformed record: leave it to logging's own error handling
                return True
            scrubbed = msg
            for secret, masked in self.secrets.items():
                scrubbed = scrubbed.replace(secret, masked)
            if scrubbed != msg:
                record.msg, record.args = scrubbed, None
        return True


_SCRUB = _ScrubSecretsFilter()
for _name in ("urllib3.connectionpool", "urllib3.connection", "requests"):
    logging.getLogger(_name).addFilter(_SCRUB)


def _register_secret(url: str) -> None:
    parts = urlsplit(url)
    masked = urlsplit(mask_url(url))
    if parts.path and parts.path != masked.path:
        _SCRUB.secrets[parts.path] = masked.path
    if parts.query:
        _SCRUB.secrets[parts.query] = _MASK
    if parts.password:
        _SCRUB.secrets[parts.password] = _MASK
    # longest first, so a secret that contains another is replaced whole
    _SCRUB.secrets = dict(sorted(_SCRUB.secrets.items(), key=lambda kv: -len(kv[0])))


def url_from_env_or_arg(rpc_url: str | None) -> str:
    """The RPC URL given explicitly, else ``$ETH_RPC_URL``; raises ``ValueError`` if neither."""
    url = rpc_url or os.environ.get(ENV_RPC_URL, "")
    url = url.strip()
    if not url:
        raise ValueError(f"no RPC URL: pass --rpc-url or set {ENV_RPC_URL}")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"RPC URL must start with http:// or https:// (got {mask_url(url)})")
    return url


def batch_settled(transport: Transport, calls: list[tuple[str, list[Any]]]) -> list[Any]:
    """``transport.batch`` that returns an :class:`RpcError` in place of each failed element
    instead of raising. Uses the transport's own ``batch_settled`` when it has one; otherwise
    one batch, and on failure each call alone."""
    own = getattr(transport, "batch_settled", None)
    if own is not None:
        return list(own(calls))
    try:
        return list(transport.batch(calls))
    except RpcError:
        out: list[Any] = []
        for method, params in calls:
            try:
                out.append(transport.request(method, params))
            except RpcError as exc:
                out.append(exc)
        return out


# --------------------------------------------------------------------------------------------
# Error classification (shared with multicall / discovery)

RETRYABLE_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# Provider rate / capacity limits: transient, worth retrying after a pause.
_RATE_LIMIT_CODES = frozenset({-32005, -32016, -32029, -32090, 429})
_RATE_LIMIT_TEXT = re.compile(
    r"rate limit|too many requests|limit exceeded|exceeded .*(capacity|quota|rate)|"
    r"request rate|throughput|compute units|try again|temporarily unavailable|"
    r"header not found|capacity",
    re.IGNORECASE,
)
# Refusals because the query is too big (getLogs range/result count, response size): retrying
# the same request cannot help; the caller must split it.
_TOO_BIG_TEXT = re.compile(
    r"more than \d+ results|query returned more than|block range|range (is )?too (large|wide|big)|"
    r"exceed(s|ed)? (the )?(maximum|max)? ?(block )?range|too many (logs|results|blocks)|"
    r"response (size|is too)|size exceed|too large|payload|log response size|"
    r"limited to \d+|max(imum)? (\d+ )?block|range should|query timeout|timed? ?out",
    re.IGNORECASE,
)


def is_too_big(err: RpcError) -> bool:
    """True if ``err`` says the request was too large (range, result count, response or
    request size, server-side query timeout): split it and try again."""
    if err.kind == "timeout":
        return True
    if err.http_status == 413:
        return True
    if err.kind != "rpc":
        return False
    return bool(_TOO_BIG_TEXT.search(err.rpc_message or "")) or (
        err.code == -32602 and "range" in (err.rpc_message or "").lower()
    )


def _is_retryable_rpc_error(code: int | None, message: str) -> bool:
    if _TOO_BIG_TEXT.search(message):
        return False
    return code in _RATE_LIMIT_CODES or bool(_RATE_LIMIT_TEXT.search(message))


# --------------------------------------------------------------------------------------------
# Rate limit and counters


class TokenBucket:
    """Requests-per-second limiter: ``rate`` tokens/s, bursts of up to ``burst`` requests."""

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError(f"requests_per_second must be > 0 (got {rate})")
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, rate))
        self._tokens = self.burst
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping if needed; returns the seconds slept."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            wait_s = 0.0
            if self._tokens < 1.0:
                wait_s = (1.0 - self._tokens) / self.rate
                self._sleep(wait_s)
                self._last = self._clock()
                self._tokens = 1.0
            self._tokens -= 1.0
            return wait_s


@dataclass
class TransportStats:
    """Counters for benchmarks. ``http_requests`` counts HTTP POSTs (a batch is one);
    ``rpc_calls`` counts JSON-RPC calls (a batch of n counts n)."""

    http_requests: int = 0
    rpc_calls: int = 0
    batches: int = 0
    retries: int = 0
    failures: int = 0
    throttle_wait_s: float = 0.0

    def copy(self) -> TransportStats:
        return TransportStats(**self.__dict__)


class _Transient(Exception):
    """Internal: a failure worth retrying; carries the final RpcError fields."""

    def __init__(self, kind: str, detail: str, *, http_status: int | None = None,
                 code: int | None = None, rpc_message: str = "", data: Any = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.http_status = http_status
        self.code = code
        self.rpc_message = rpc_message
        self.data = data
        self.retry_after_s = retry_after_s


# --------------------------------------------------------------------------------------------
# HTTP transport


class HttpTransport:
    """JSON-RPC over HTTP(S) with retries, rate limiting and batching.

    Parameters
    ----------
    url : endpoint; may carry an API key (only :attr:`masked_url` is ever shown).
    timeout_s : per-HTTP-request timeout, seconds.
    max_retries : retries after the first attempt for transient failures (timeouts,
        connection errors, HTTP 429/5xx, provider rate/limit errors).
    backoff_base_s : first backoff, seconds; doubles per retry, full jitter from ``rng``,
        capped at ``backoff_max_s``. A ``Retry-After`` header (seconds) is honoured up to the cap.
    requests_per_second : token-bucket limit on HTTP requests (a batch counts once); None = off.
    max_batch_size : JSON-RPC calls per HTTP batch; longer batches are sent in chunks.
    rng : source of jitter (seeded ``random.Random``); default ``random.Random(0)``.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 30.0,
        max_retries: int = 5,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 30.0,
        requests_per_second: float | None = None,
        max_batch_size: int = 100,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"RPC URL must start with http:// or https:// (got {mask_url(url)})")
        if max_retries < 0 or timeout_s <= 0 or backoff_base_s < 0 or max_batch_size < 1:
            raise ValueError("HttpTransport: need max_retries >= 0, timeout_s > 0, "
                             "backoff_base_s >= 0, max_batch_size >= 1")
        self._url = url
        self.masked_url = mask_url(url)
        _register_secret(url)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.max_batch_size = max_batch_size
        self._rng = rng if rng is not None else random.Random(0)
        self._sleep = sleep
        self._limiter = TokenBucket(requests_per_second, sleep=sleep) if requests_per_second else None
        self._session = session or requests.Session()
        self._session.headers.update({"Content-Type": "application/json"})
        self._next_id = 1
        self._chain_id: int | None = None
        self._lock = threading.Lock()
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"HttpTransport({self.masked_url!r})"

    __str__ = __repr__

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId", []), 16)
        return self._chain_id

    # -- public calls -----------------------------------------------------------------------

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; returns ``result`` or raises :class:`RpcError`."""
        payload = {"jsonrpc": "2.0", "id": self._take_ids(1), "method": method, "params": params}

        def attempt() -> Any:
            reply = self._post(payload, method)
            if not isinstance(reply, dict):
                raise _Transient("protocol", f"expected a JSON object, got {type(reply).__name__}")
            return self._result_or_raise(reply, method)

        self.stats.rpc_calls += 1
        return self._with_retries(attempt, method)

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls as JSON-RPC batches of at most ``max_batch_size``; results in the
        order given. An element that fails is retried alone (with retries); if it still
        fails, :class:`RpcError` is raised."""
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch_size):
            results.extend(self._batch_chunk(calls[start:start + self.max_batch_size], settle=False))
        return results

    def batch_settled(self, calls: list[tuple[str, list[Any]]]) -> list[Any | RpcError]:
        """Like :meth:`batch`, but an element the node refuses for good comes back as an
        :class:`RpcError` in its place instead of raising (transient element errors are
        still retried alone). Whole-request failures still raise."""
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch_size):
            results.extend(self._batch_chunk(calls[start:start + self.max_batch_size], settle=True))
        return results

    # -- internals --------------------------------------------------------------------------

    def _take_ids(self, n: int) -> int:
        with self._lock:
            first = self._next_id
            self._next_id += n
            return first

    def _batch_chunk(self, calls: list[tuple[str, list[Any]]], *, settle: bool) -> list[Any]:
        if not calls:
            return []
        if len(calls) == 1 and not settle:
            return [self.request(*calls[0])]
        first_id = self._take_ids(len(calls))
        payload = [
            {"jsonrpc": "2.0", "id": first_id + i, "method": m, "params": p}
            for i, (m, p) in enumerate(calls)
        ]
        label = f"batch[{len(calls)}]:{calls[0][0]}"

        def attempt() -> list[dict[str, Any]]:
            reply = self._post(payload, label)
            if isinstance(reply, dict):  # a whole-batch error (e.g. batch too large / rate limit)
                self._result_or_raise(reply, label)
                raise _Transient("protocol", "batch answered with a single object")
            if not isinstance(reply, list):
                raise _Transient("protocol", f"expected a JSON array, got {type(reply).__name__}")
            return reply

        self.stats.batches += 1
        self.stats.rpc_calls += len(calls)
        replies = self._with_retries(attempt, label)
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        out: list[Any] = []
        for i, (method, params) in enumerate(calls):
            reply = by_id.get(first_id + i)
            if reply is not None and "error" not in reply and "result" in reply:
                out.append(reply["result"])
                continue
            if settle and reply is not None and isinstance(reply.get("error"), dict):
                err = reply["error"]
                code, msg = err.get("code"), str(err.get("message", ""))
                if not _is_retryable_rpc_error(code, msg):
                    out.append(RpcError(f"{method} at {self.masked_url}: error {code}: {msg}",
                                        method=method, kind="rpc", code=code, rpc_message=msg,
                                        data=err.get("data")))
                    continue
            # Missing, rate-limited or failed element: retry it alone (request() retries).
            if settle:
                try:
                    out.append(self.request(method, params))
                except RpcError as exc:
                    out.append(exc)
            else:
                out.append(self.request(method, params))
        return out

    def _with_retries(self, attempt: Callable[[], Any], method: str) -> Any:
        for n in range(self.max_retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                if n == self.max_retries:
                    self.stats.failures += 1
                    raise RpcError(
                        f"{method} failed after {n + 1} attempt(s) at {self.masked_url}: "
                        f"{exc.kind}: {exc.detail}",
                        method=method, kind=exc.kind, code=exc.code, rpc_message=exc.rpc_message,
                        data=exc.data, http_status=exc.http_status,
                    ) from None
                delay = self._backoff_s(n, exc.retry_after_s)
                self.stats.retries += 1
                log.debug("%s at %s: %s; retry %d in %.2fs", method, self.masked_url, exc.detail,
                          n + 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _backoff_s(self, attempt: int, retry_after_s: float | None) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** attempt))
        delay = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never bursty
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.backoff_max_s))
        return delay

    def _post(self, payload: Any, method: str) -> Any:
        if self._limiter is not None:
            self.stats.throttle_wait_s += self._limiter.acquire()
        self.stats.http_requests += 1
        body = json.dumps(payload, separators=(",", ":"))
        try:
            resp = self._session.post(self._url, data=body, timeout=self.timeout_s)
        except requests.Timeout:
            raise _Transient("timeout", f"no answer within {self.timeout_s}s") from None
        except requests.ConnectionError as exc:
            # The exception text contains the URL path: keep only its type.
            raise _Transient("connection", f"connection error ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise RpcError(f"{method} at {self.masked_url}: {type(exc).__name__}",
                           method=method, kind="connection") from None
        if resp.status_code in RETRYABLE_HTTP_STATUS:
            raise _Transient("http", f"HTTP {resp.status_code}", http_status=resp.status_code,
                             retry_after_s=_retry_after_s(resp.headers.get("Retry-After")))
        if resp.status_code >= 400:
            # Some providers answer a JSON-RPC error with a 4xx status: surface it as such.
            try:
                reply = resp.json()
            except ValueError:
                reply = None
            if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
                err = reply["error"]
                code, msg = err.get("code"), str(err.get("message", ""))
                if _is_retryable_rpc_error(code, msg):
                    raise _Transient("rpc", f"error {code}: {msg}", code=code, rpc_message=msg,
                                     data=err.get("data"), http_status=resp.status_code)
                raise RpcError(f"{method} at {self.masked_url}: HTTP {resp.status_code}, "
                               f"error {code}: {msg}", method=method, kind="rpc", code=code,
                               rpc_message=msg, data=err.get("data"), http_status=resp.status_code)
            raise RpcError(f"{method} at {self.masked_url}: HTTP {resp.status_code}",
                           method=method, kind="http", http_status=resp.status_code)
        try:
            return resp.json()
        except ValueError:
            raise _Transient("protocol", "reply is not JSON") from None

    def _result_or_raise(self, reply: dict[str, Any], method: str) -> Any:
        err = reply.get("error")
        if err is None:
            if "result" not in reply:
                raise _Transient("protocol", "reply has neither result nor error")
            return reply["result"]
        if not isinstance(err, dict):
            err = {"code": None, "message": str(err)}
        code, msg, data = err.get("code"), str(err.get("message", "")), err.get("data")
        if _is_retryable_rpc_error(code, msg):
            raise _Transient("rpc", f"error {code}: {msg}", code=code, rpc_message=msg, data=data)
        raise RpcError(f"{method} at {self.masked_url}: error {code}: {msg}",
                       method=method, kind="rpc", code=code, rpc_message=msg, data=data)


def _retry_after_s(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None  # HTTP-date form: ignore, use our own backoff

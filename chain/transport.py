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
import queue
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable
from urllib.parse import urlsplit

import requests

from chain.validate import InvalidAnswer, check_result

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
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]{0,15}$")


def mask_url(url: str) -> str:
    """The only form of an RPC URL that is ever shown: ``scheme://host[:port]``, followed by
    ``/****`` when the URL carries anything else (user-info, a path other than ``/``, a query or
    a fragment) — by construction, no guessing which part is the key.

    ``https://u:p@eth-mainnet.g.alchemy.com/v2/abc123?k=1`` → ``https://eth-mainnet.g.alchemy.com/****``;
    ``http://127.0.0.1:8545`` → ``http://127.0.0.1:8545``; anything unparsable → ``****``.
    """
    if not isinstance(url, str):
        return _MASK
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = parts.port
    except (ValueError, TypeError):
        return _MASK
    scheme = parts.scheme.lower()
    if ":" in host:
        host = f"[{host}]"
    if not _SCHEME.match(scheme) or not _HOST.match(host):
        return _MASK
    hidden = bool(parts.username or parts.password or "@" in parts.netloc or parts.path not in ("", "/")
                  or parts.query or parts.fragment or url.strip().endswith(("?", "#")))
    shown = f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"
    return shown + ("/" + _MASK if hidden else "")


class _ScrubSecretsFilter(logging.Filter):
    """urllib3 logs ``"POST /v2/<key> HTTP/1.1"`` at DEBUG: replace the secret parts of every
    URL an :class:`HttpTransport` uses with ``****`` before the record is emitted."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: dict[str, str] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # malformed record: leave it to logging's own error handling
            return True
        scrubbed = msg
        for secret, masked in self.secrets.items():
            scrubbed = scrubbed.replace(secret, masked)
        # By construction, whoever made the request (this transport, the devnet's own client, a
        # webhook): the request target urllib3 logs ("POST /v2/<key> HTTP/1.1", url='/v2/<key>')
        # is never shown, only that there was one.
        scrubbed = _LOGGED_TARGET.sub(lambda m: f'"{m[1]} {"/" if m[2] == "/" else "/" + _MASK} {m[3]}"', scrubbed)
        scrubbed = _LOGGED_URL.sub(lambda m: m[0] if m[1] in ("", "/") else "url='/" + _MASK + "'", scrubbed)
        if scrubbed != msg:
            record.msg, record.args = scrubbed, None
        return True


_LOGGED_TARGET = re.compile(r'"([A-Z]+) (\S+) (HTTP/[0-9.]+)"')
_LOGGED_URL = re.compile(r"url='([^']*)'")


_SCRUB = _ScrubSecretsFilter()
for _name in ("urllib3.connectionpool", "urllib3.connection", "urllib3.util.retry", "requests"):
    logging.getLogger(_name).addFilter(_SCRUB)


def _register_secret(url: str) -> None:
    """Teach the log filter every secret-bearing piece of ``url``."""
    parts = urlsplit(url)
    masked = mask_url(url)
    found = {url: masked, url.strip(): masked}
    if parts.path not in ("", "/"):
        found[parts.path] = "/" + _MASK
    if parts.query:  # urllib3 logs the request target: path?query
        found[f"{parts.path or '/'}?{parts.query}"] = "/" + _MASK
    for piece in (parts.query, parts.fragment, parts.password, parts.username):
        if piece:
            found[piece] = _MASK
    if "@" in parts.netloc:
        found[parts.netloc.rsplit("@", 1)[0]] = _MASK
    _SCRUB.secrets.update(found)
    # longest first, so a secret that contains another is replaced whole
    _SCRUB.secrets = dict(sorted(_SCRUB.secrets.items(), key=lambda kv: -len(kv[0])))


def rpc_url_problem(url: str) -> str | None:
    """What makes ``url`` unusable as a JSON-RPC endpoint (None when it is usable): the scheme
    must be http or https, the host a DNS name, IPv4 or bracketed IPv6 address, the port (if
    any) 1-65535, and no whitespace or control character anywhere. Says nothing of the URL's
    secret parts (the caller shows :func:`mask_url`)."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return "contains whitespace or a control character"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must start with http:// or https://"
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return "has a port that is not a number in 1-65535"
    if not host:
        return "has no host"
    if not _HOST.match(f"[{host}]" if ":" in host else host):
        return "has a host that is not a DNS name or an IP address"
    if port is not None and not 0 < port < 65536:
        return "has a port outside 1-65535"
    if parts.netloc.count(":") > (1 + (1 if "@" in parts.netloc else 0)) and not host.count(":"):
        return "has more than one port"
    return None


def url_from_env_or_arg(rpc_url: str | None, env_var: str | None = None) -> str:
    """The RPC URL of ``$env_var`` when one is named (a source that names its own node), else the
    one given explicitly, else ``$ETH_RPC_URL``; raises ``ValueError`` naming the flag/variable if
    none is set or the URL is unusable (:func:`rpc_url_problem`)."""
    if env_var is not None:
        url = os.environ.get(env_var, "").strip()
        where = f"${env_var}"
        if not url:
            raise ValueError(f"no RPC URL: the source names ${env_var} (rpc_url_env), which is not set")
    else:
        given = rpc_url if rpc_url is not None and rpc_url.strip() else None
        url = (given or os.environ.get(ENV_RPC_URL, "")).strip()
        where = "--rpc-url" if given is not None else f"${ENV_RPC_URL}"
        if not url:
            raise ValueError(f"no RPC URL: pass --rpc-url or set {ENV_RPC_URL}")
    problem = rpc_url_problem(url)
    if problem is not None:
        raise ValueError(f"{where}: the RPC URL {problem} (got {mask_url(url)})")
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
    invalid_answers: int = 0
    hedges: int = 0

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


class _JsonRpcClient:
    """What :class:`HttpTransport` and :class:`chain.web3_transport.Web3Transport` share: the
    public batch calls, the answer check, the JSON-RPC reply parsing, the backoff and the stats.
    A subclass sends (``request``, ``_chunk``) and decides how to retry (``_with_retries``)."""

    masked_url: str
    expected_chain_id: int | None
    max_batch_size: int
    backoff_base_s: float
    backoff_max_s: float
    stats: TransportStats
    _rng: random.Random
    _lock: threading.Lock
    _chain_id: int | None

    def request(self, method: str, params: list[Any]) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Nothing to release by default."""

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.request("eth_chainId", []), 16)
        return self._chain_id

    def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        """Several calls as JSON-RPC batches of at most ``max_batch_size``; results in the
        order given. An element that fails or is invalid is retried alone (with retries); if it
        still fails, :class:`RpcError` is raised."""
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch_size):
            results.extend(self._chunk(calls[start:start + self.max_batch_size], settle=False))
        return results

    def batch_settled(self, calls: list[tuple[str, list[Any]]]) -> list[Any | RpcError]:
        """Like :meth:`batch`, but an element the node refuses for good comes back as an
        :class:`RpcError` in its place instead of raising (transient element errors are
        still retried alone). Whole-request failures still raise."""
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch_size):
            results.extend(self._chunk(calls[start:start + self.max_batch_size], settle=True))
        return results

    def _chunk(self, calls: list[tuple[str, list[Any]]], *, settle: bool) -> list[Any]:
        raise NotImplementedError

    def _take_replies(self, calls: list[tuple[str, list[Any]]], replies: list[Any], *, settle: bool) -> list[Any]:
        """The results of a batch from its replies (``replies[i]`` answers ``calls[i]``, ``None``
        if missing): a valid result is kept; with ``settle``, a definitive element error becomes
        its :class:`RpcError`; anything else (missing, invalid, rate-limited, failed) is sent
        again alone, with :meth:`request`'s retries."""
        out: list[Any] = []
        for (method, params), reply in zip(calls, replies):
            if isinstance(reply, dict) and reply.get("error") is None and "result" in reply:
                try:
                    self._check(method, params, reply["result"])
                except _Transient:
                    pass  # invalid element: retried alone below
                else:
                    out.append(reply["result"])
                    continue
            elif settle and isinstance(reply, dict) and isinstance(reply.get("error"), dict):
                err = reply["error"]
                code, msg = err.get("code"), str(err.get("message", ""))
                if isinstance(code, int) and not _is_retryable_rpc_error(code, msg):
                    out.append(RpcError(f"{method} at {self.masked_url}: error {code}: {msg}",
                                        method=method, kind="rpc", code=code, rpc_message=msg,
                                        data=err.get("data")))
                    continue
            out.append(self._settled_request(method, params) if settle else self.request(method, params))
        return out

    def _settled_request(self, method: str, params: list[Any]) -> Any:
        try:
            return self.request(method, params)
        except RpcError as exc:
            return exc

    def _count(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _check(self, method: str, params: list[Any], result: Any) -> None:
        try:
            check_result(method, params, result, expected_chain_id=self.expected_chain_id)
        except InvalidAnswer as exc:
            self._count(invalid_answers=1)
            raise _Transient("invalid", f"invalid answer: {exc}") from None

    def _backoff_s(self, attempt: int, retry_after_s: float | None = None) -> float:
        ceiling = min(self.backoff_max_s, self.backoff_base_s * (2 ** attempt))
        delay = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never zero, never bursty
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.backoff_max_s))
        return delay

    def _result_or_raise(self, reply: Any, method: str) -> Any:
        if not isinstance(reply, dict):
            raise _Transient("protocol", f"expected a JSON object, got {type(reply).__name__}")
        err = reply.get("error")
        if err is None:
            if "result" not in reply:
                raise _Transient("protocol", "reply has neither result nor error")
            return reply["result"]
        if not isinstance(err, dict) or not isinstance(err.get("code", 0), int):
            raise _Transient("protocol", "malformed JSON-RPC error object")
        code, msg, data = err.get("code"), str(err.get("message", "")), err.get("data")
        if _is_retryable_rpc_error(code, msg):
            raise _Transient("rpc", f"error {code}: {msg}", code=code, rpc_message=msg, data=data)
        raise RpcError(f"{method} at {self.masked_url}: error {code}: {msg}",
                       method=method.split(":", 1)[-1], kind="rpc", code=code, rpc_message=msg, data=data)


# --------------------------------------------------------------------------------------------
# HTTP transport


# Read-only methods: safe to send twice (hedged), since a duplicate changes nothing.
HEDGEABLE_METHODS = frozenset({
    "eth_call", "eth_getLogs", "eth_getBlockByNumber", "eth_getBlockByHash", "eth_getCode",
    "eth_getBalance", "eth_getStorageAt", "eth_getTransactionCount", "eth_chainId", "eth_blockNumber",
    "net_version", "web3_clientVersion", "eth_gasPrice", "eth_getTransactionReceipt",
    "eth_getTransactionByHash", "eth_accounts", "eth_syncing",
})


class HttpTransport(_JsonRpcClient):
    """JSON-RPC over HTTP(S) with retries, hedging, answer validation, rate limiting and batching.

    Parameters
    ----------
    url : endpoint; may carry an API key (only :attr:`masked_url` is ever shown).
    timeout_s : per-HTTP-request deadline for the answer (read timeout), seconds.
    max_retries : retries after the first attempt for transient failures (timeouts, connection
        errors and bodies cut short, HTTP 429/5xx, provider rate/limit errors, answers that fail
        :func:`chain.validate.check_result`).
    backoff_base_s : first backoff, seconds; doubles per retry, jitter from ``rng``,
        capped at ``backoff_max_s``. A ``Retry-After`` header (seconds) is honoured up to the cap.
    deadline_s : wall-clock bound on one call including all its retries, seconds.
    hedge_after_s : a read that has no answer after ``max(hedge_after_s, 4 × recent latency)``
        is sent again on another connection (up to ``max_in_flight`` copies); the first valid
        answer wins. ``None`` disables hedging. Only :data:`HEDGEABLE_METHODS` are hedged.
    expected_chain_id : if given, an ``eth_chainId`` answer naming another chain is invalid.
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
        deadline_s: float = 600.0,
        hedge_after_s: float | None = 0.5,
        max_in_flight: int = 3,
        expected_chain_id: int | None = None,
        requests_per_second: float | None = None,
        max_batch_size: int = 100,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")) or mask_url(url) == _MASK:
            raise ValueError(f"RPC URL must be an http:// or https:// URL with a host (got {mask_url(url)})")
        if max_retries < 0 or timeout_s <= 0 or backoff_base_s < 0 or max_batch_size < 1 or deadline_s <= 0:
            raise ValueError("HttpTransport: need max_retries >= 0, timeout_s > 0, deadline_s > 0, "
                             "backoff_base_s >= 0, max_batch_size >= 1")
        if hedge_after_s is not None and hedge_after_s <= 0 or max_in_flight < 1:
            raise ValueError("HttpTransport: need hedge_after_s > 0 (or None) and max_in_flight >= 1")
        self._url = url
        self.masked_url = mask_url(url)
        _register_secret(url)
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.deadline_s = deadline_s
        self.hedge_after_s = hedge_after_s
        self.max_in_flight = max_in_flight
        self.expected_chain_id = expected_chain_id
        self.max_batch_size = max_batch_size
        self._rng = rng if rng is not None else random.Random(0)
        self._sleep = sleep
        self._limiter = TokenBucket(requests_per_second, sleep=sleep) if requests_per_second else None
        self._session = session or requests.Session()
        if session is None:
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
            self._session.mount("http://", adapter)
            self._session.mount("https://", adapter)
        self._session.headers.update({"Content-Type": "application/json"})
        self._next_id = 1
        self._chain_id: int | None = None
        self._lock = threading.Lock()
        self._latency_s: dict[str, float] = {}
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"HttpTransport({self.masked_url!r})"

    __str__ = __repr__

    def close(self) -> None:
        self._session.close()

    # -- public calls -----------------------------------------------------------------------

    def request(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; returns ``result`` (validated) or raises :class:`RpcError`."""
        payload = {"jsonrpc": "2.0", "id": self._take_ids(1), "method": method, "params": params}

        def attempt() -> Any:
            reply = self._post(payload, method, hedge=method in HEDGEABLE_METHODS)
            if not isinstance(reply, dict):
                raise _Transient("protocol", f"expected a JSON object, got {type(reply).__name__}")
            if reply.get("id") != payload["id"]:
                raise _Transient("protocol", "reply id does not match the request id")
            result = self._result_or_raise(reply, method)
            self._check(method, params, result)
            return result

        self._count(rpc_calls=1)
        return self._with_retries(attempt, method)

    # -- internals --------------------------------------------------------------------------

    def _take_ids(self, n: int) -> int:
        with self._lock:
            first = self._next_id
            self._next_id += n
            return first

    def _chunk(self, calls: list[tuple[str, list[Any]]], *, settle: bool) -> list[Any]:
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
        hedge = all(m in HEDGEABLE_METHODS for m, _ in calls)

        def attempt() -> list[dict[str, Any]]:
            reply = self._post(payload, label, hedge=hedge)
            if isinstance(reply, dict):  # a whole-batch error (e.g. batch too large / rate limit)
                self._result_or_raise(reply, label)
                raise _Transient("protocol", "batch answered with a single object")
            if not isinstance(reply, list):
                raise _Transient("protocol", f"expected a JSON array, got {type(reply).__name__}")
            return reply

        self._count(batches=1, rpc_calls=len(calls))
        replies = self._with_retries(attempt, label)
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict) and isinstance(r.get("id"), int)}
        return self._take_replies(calls, [by_id.get(first_id + i) for i in range(len(calls))], settle=settle)

    def _with_retries(self, attempt: Callable[[], Any], method: str) -> Any:
        started = time.monotonic()
        for n in range(self.max_retries + 1):
            try:
                return attempt()
            except _Transient as exc:
                delay = self._backoff_s(n, exc.retry_after_s)
                out_of_time = time.monotonic() + delay - started > self.deadline_s
                if n == self.max_retries or out_of_time:
                    self._count(failures=1)
                    why = f"within the {self.deadline_s:g}s deadline" if out_of_time else ""
                    raise RpcError(
                        f"{method} failed after {n + 1} attempt(s){' ' + why if why else ''} at "
                        f"{self.masked_url}: {exc.kind}: {exc.detail}",
                        method=method.split(":", 1)[-1], kind=exc.kind, code=exc.code,
                        rpc_message=exc.rpc_message, data=exc.data, http_status=exc.http_status,
                    ) from None
                self._count(retries=1)
                log.debug("%s at %s: %s; retry %d in %.2fs", method, self.masked_url, exc.detail,
                          n + 1, delay)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _hedge_delay_s(self, key: str) -> float:
        assert self.hedge_after_s is not None
        recent = self._latency_s.get(key)
        delay = self.hedge_after_s if recent is None else max(self.hedge_after_s, 4.0 * recent)
        return min(delay, self.timeout_s)

    def _post(self, payload: Any, method: str, *, hedge: bool) -> Any:
        body = json.dumps(payload, separators=(",", ":"))
        key = method.rsplit(":", 1)[-1]
        if not hedge or self.hedge_after_s is None or self.max_in_flight < 2:
            return self._post_once(body, method, key)
        return self._post_hedged(body, method, key)

    def _post_hedged(self, body: str, method: str, key: str) -> Any:
        """Send ``body``; if no answer comes within the hedge delay, send it again (up to
        ``max_in_flight`` copies in flight); the first good answer wins. Each copy is bounded by
        ``timeout_s``, so this returns or raises within about ``timeout_s`` + the hedge delays."""
        answers: queue.Queue[tuple[BaseException | None, Any]] = queue.Queue()

        def one_copy() -> None:
            try:
                answers.put((None, self._post_once(body, method, key)))
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting caller
                answers.put((exc, None))

        launched = pending = 0
        first_error: BaseException | None = None

        def launch() -> None:
            nonlocal launched, pending
            threading.Thread(target=one_copy, name="liqrisk-rpc-hedge", daemon=True).start()
            launched += 1
            pending += 1

        launch()
        while True:
            can_hedge = launched < self.max_in_flight
            try:
                error, reply = answers.get(timeout=self._hedge_delay_s(key) if can_hedge else None)
            except queue.Empty:
                self._count(hedges=1)
                launch()
                continue
            pending -= 1
            if error is None:
                return reply
            if isinstance(error, RpcError):
                raise error  # the node's definitive answer: no point waiting for the copies
            first_error = first_error or error
            if pending == 0:
                raise first_error

    def _post_once(self, body: str, method: str, key: str) -> Any:
        """One HTTP attempt: the decoded JSON reply, or :class:`_Transient` / :class:`RpcError`."""
        if self._limiter is not None:
            waited = self._limiter.acquire()
            with self._lock:
                self.stats.throttle_wait_s += waited
        self._count(http_requests=1)
        started = time.monotonic()
        try:
            resp = self._session.post(self._url, data=body, timeout=self.timeout_s)
            content = resp.content  # already read (not streamed); a body cut short raised above
        except requests.Timeout:
            raise _Transient("timeout", f"no answer within {self.timeout_s}s") from None
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
            raise _Transient("truncated", f"reply body cut short ({type(exc).__name__})") from None
        except requests.ConnectionError as exc:
            # The exception text contains the URL path: keep only its type.
            raise _Transient("connection", f"connection error ({type(exc).__name__})") from None
        except requests.RequestException as exc:
            raise RpcError(f"{method} at {self.masked_url}: {type(exc).__name__}",
                           method=key, kind="connection") from None
        if resp.status_code in RETRYABLE_HTTP_STATUS:
            raise _Transient("http", f"HTTP {resp.status_code}", http_status=resp.status_code,
                             retry_after_s=_retry_after_s(resp.headers.get("Retry-After")))
        try:
            reply = json.loads(content)
        except ValueError:
            reply = None
            if resp.status_code < 400:
                raise _Transient("protocol", "reply is not JSON") from None
        if resp.status_code >= 400:
            # Some providers answer a JSON-RPC error with a 4xx status: surface it as such.
            if isinstance(reply, dict) and isinstance(reply.get("error"), dict):
                err = reply["error"]
                code, msg = err.get("code"), str(err.get("message", ""))
                if _is_retryable_rpc_error(code, msg):
                    raise _Transient("rpc", f"error {code}: {msg}", code=code, rpc_message=msg,
                                     data=err.get("data"), http_status=resp.status_code)
                raise RpcError(f"{method} at {self.masked_url}: HTTP {resp.status_code}, "
                               f"error {code}: {msg}", method=key, kind="rpc", code=code,
                               rpc_message=msg, data=err.get("data"), http_status=resp.status_code)
            raise RpcError(f"{method} at {self.masked_url}: HTTP {resp.status_code}",
                           method=key, kind="http", http_status=resp.status_code)
        elapsed = time.monotonic() - started
        with self._lock:
            previous = self._latency_s.get(key)
            self._latency_s[key] = elapsed if previous is None else 0.8 * previous + 0.2 * elapsed
        return reply

def _retry_after_s(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None  # HTTP-date form: ignore, use our own backoff

"""A local HTTP JSON-RPC proxy in front of anvil that misbehaves on a script.

Used by the transport / multicall / discovery / fault-suite tests to reproduce what public
providers (and hostile or broken middleboxes) do: HTTP 429 / 5xx, slow or hung answers, bodies
cut short mid-transfer, rate-limit JSON-RPC errors, ``-32005`` "query returned more than 10000
results" on wide ``eth_getLogs`` ranges (with Infura's suggested range in ``error.data``),
"out of gas" on oversized ``eth_call`` calldata, and valid JSON carrying a wrong result
(wrong type, wrong length, garbled chain id, garbled log entries).

Faults are objects in :attr:`FaultyRpcProxy.faults`; the first one that matches a request
handles it. :class:`RandomFaults` injects faults at a rate from a seeded generator, at most
``max_faults`` times (bounded in count); every delay is bounded and ends at :meth:`stop`.
Listens on 127.0.0.1 only; any URL path is accepted (so a fake API key in the path works).
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


@dataclass
class HttpFault:
    """The next ``count`` HTTP requests get status ``status`` (with an optional Retry-After)."""

    status: int
    count: int = 1
    retry_after: str | None = None


@dataclass
class DelayFault:
    """The next ``count`` HTTP requests are answered after ``delay_s`` seconds."""

    delay_s: float
    count: int = 1


@dataclass
class RpcErrorFault:
    """The next ``count`` calls of ``method`` (any if None) get a JSON-RPC error."""

    code: int
    message: str
    count: int = 1
    method: str | None = None


@dataclass
class LogRangeLimit:
    """Persistent: ``eth_getLogs`` over more than ``max_blocks`` blocks is refused with
    ``code``/``message`` and (if ``suggest``) ``data = {"from", "to"}`` = the first allowed range."""

    max_blocks: int
    code: int = -32005
    message: str = "query returned more than 10000 results"
    suggest: bool = True


@dataclass
class CallDataLimit:
    """Persistent: ``eth_call`` with calldata longer than ``max_bytes`` is refused."""

    max_bytes: int
    code: int = -32000
    message: str = "out of gas"


@dataclass
class TruncateFault:
    """The next ``count`` HTTP replies announce their full length but stop half-way and close
    the connection (the client sees ``ChunkedEncodingError``)."""

    count: int = 1


# Garbles of a JSON-RPC result: valid JSON, wrong answer. Each takes (method, params, result)
# and returns the garbled result, or None when it does not apply to that answer.
def _garble_number_for_string(method: str, params: Any, result: Any) -> Any:
    return int(result[2:] or "0", 16) if isinstance(result, str) and result.startswith("0x") else None


def _garble_drop_hex_digit(method: str, params: Any, result: Any) -> Any:
    return result[:-1] if isinstance(result, str) and result.startswith("0x") and len(result) > 3 else None


def _garble_truncate_half(method: str, params: Any, result: Any) -> Any:
    if isinstance(result, str) and result.startswith("0x") and len(result) > 4:
        digits = result[2:]
        return "0x" + digits[:len(digits) // 4 * 2]
    return None


def _garble_non_hex(method: str, params: Any, result: Any) -> Any:
    return "0x" + "zz" + result[4:] if isinstance(result, str) and result.startswith("0x") and len(result) > 3 else None


def _garble_chain_id(method: str, params: Any, result: Any) -> Any:
    return hex(int(result, 16) // 16) if method == "eth_chainId" else None  # 0x7a69 -> 0x7a6 (1958)


def _garble_log_entry(method: str, params: Any, result: Any) -> Any:
    """One log of the answer garbled: its topic0, account topic, address or block moved."""
    if method != "eth_getLogs" or not isinstance(result, list) or not result:
        return None
    logs = json.loads(json.dumps(result))
    entry = logs[len(logs) // 2]
    kind = len(logs) % 4
    if kind == 0 and entry.get("topics"):
        entry["topics"][0] = "0x" + "ee" * 32
    elif kind == 1 and len(entry.get("topics", [])) > 1:
        entry["topics"][1] = entry["topics"][1][:-2]
    elif kind == 2:
        entry["address"] = "0x" + "ee" * 20
    else:
        entry["blockNumber"] = hex(int(entry["blockNumber"], 16) + 10**6)
    return logs


def _garble_log_removed(method: str, params: Any, result: Any) -> Any:
    if method != "eth_getLogs" or not isinstance(result, list) or not result:
        return None
    logs = json.loads(json.dumps(result))
    logs[0]["removed"] = True
    return logs


def _garble_null_block(method: str, params: Any, result: Any) -> Any:
    return {"number": None} if method.startswith("eth_getBlockBy") and isinstance(result, dict) else None


GARBLES: dict[str, Callable[[str, Any, Any], Any]] = {
    "number-for-string": _garble_number_for_string,
    "drop-hex-digit": _garble_drop_hex_digit,
    "truncate-half": _garble_truncate_half,
    "non-hex": _garble_non_hex,
    "chain-id": _garble_chain_id,
    "log-entry": _garble_log_entry,
    "log-removed": _garble_log_removed,
    "bad-block": _garble_null_block,
}


@dataclass
class GarbleFault:
    """The next ``count`` results of ``method`` (any if None) that ``GARBLES[kind]`` applies to
    are replaced by its garbled version."""

    kind: str
    count: int = 1
    method: str | None = None


@dataclass
class RandomFaults:
    """Each HTTP request (``per="http"``) or each JSON-RPC call (``per="call"``, garbles and
    refusals) gets the fault ``kind`` with probability ``rate``, drawn from ``random.Random(seed)``,
    at most ``max_faults`` times. ``kind``: ``"reset"`` (connection closed, no answer),
    ``"http-503"``, ``"http-429"``, ``"truncate"``, ``"hang"`` (no answer for ``hang_s``),
    ``"rate-limit"`` (-32005 error), ``"getlogs-refusal"`` (eth_getLogs refused as too big,
    whatever its range, including one block) or any key of :data:`GARBLES`."""

    kind: str
    rate: float
    seed: int = 0
    max_faults: int = 1_000
    hang_s: float = 5.0
    injected: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def draw(self) -> bool:
        if self.injected >= self.max_faults or self.rng.random() >= self.rate:
            return False
        self.injected += 1
        return True


@dataclass
class Trigger:
    """After ``after`` JSON-RPC calls have been proxied, run ``action()`` once (e.g. reorg the
    upstream chain in the middle of a scan), before forwarding the next call."""

    after: int
    action: Callable[[], None]
    fired: bool = False


@dataclass
class ProxyCounters:
    http_requests: int = 0
    rpc_calls: int = 0
    by_method: dict[str, int] = field(default_factory=dict)


class FaultyRpcProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.faults: list[Any] = []
        self.counters = ProxyCounters()
        self._lock = threading.Lock()
        self._trigger_lock = threading.Lock()
        self._stopping = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, payload = proxy._handle(body)
                if status == 0:  # reset: close without answering
                    self.close_connection = True
                    return
                truncate = headers.pop("X-Truncate", None) is not None
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload[:len(payload) // 2] if truncate else payload)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # client timed out and left
                    pass
                if truncate:
                    self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._stopping.set()  # ends every injected delay at once
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.counters = ProxyCounters()

    # -- internals --------------------------------------------------------------------------

    def _take(self, kind: type, pred: Any = None) -> Any:
        with self._lock:
            for f in self.faults:
                if isinstance(f, kind) and (pred is None or pred(f)):
                    if hasattr(f, "count"):
                        if f.count <= 0:
                            continue
                        f.count -= 1
                    return f
        return None

    def _random(self, per: str) -> RandomFaults | None:
        """The first RandomFaults of this granularity that fires for this request."""
        with self._lock:
            for f in self.faults:
                if isinstance(f, RandomFaults) and _PER[f.kind] == per and f.draw():
                    return f
        return None

    def _handle(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        msg = json.loads(body)
        calls = msg if isinstance(msg, list) else [msg]
        with self._lock:
            self.counters.http_requests += 1
            self.counters.rpc_calls += len(calls)
            for c in calls:
                self.counters.by_method[c["method"]] = self.counters.by_method.get(c["method"], 0) + 1
            seen = self.counters.rpc_calls
        self._fire_triggers(seen)
        http = self._take(HttpFault)
        if http is not None:
            headers = {"Retry-After": http.retry_after} if http.retry_after else {}
            return http.status, headers, b'{"error":"injected"}'
        rnd = self._random("http")
        if rnd is not None:
            if rnd.kind == "reset":
                return 0, {}, b""
            if rnd.kind in ("http-503", "http-429"):
                return int(rnd.kind[5:]), {"Retry-After": "0"} if rnd.kind == "http-429" else {}, b"busy"
            if rnd.kind == "hang":
                self._stopping.wait(rnd.hang_s)
                return 0, {}, b""
        delay = self._take(DelayFault)
        if delay is not None:
            self._stopping.wait(delay.delay_s)
        replies = [self._one(c) for c in calls]
        out = replies if isinstance(msg, list) else replies[0]
        headers = {}
        if self._take(TruncateFault) is not None or (rnd is not None and rnd.kind == "truncate"):
            headers["X-Truncate"] = "1"
        return 200, headers, json.dumps(out).encode()

    def _fire_triggers(self, seen: int) -> None:
        with self._trigger_lock:  # one at a time, and before the call that crossed the mark
            for f in list(self.faults):
                if isinstance(f, Trigger) and not f.fired and seen > f.after:
                    f.fired = True
                    f.action()

    def _garble(self, method: str, params: Any, reply: dict[str, Any]) -> dict[str, Any]:
        if "result" not in reply:
            return reply
        with self._lock:
            for f in self.faults:
                if isinstance(f, GarbleFault) and f.count > 0 and f.method in (None, method):
                    garbled = GARBLES[f.kind](method, params, reply["result"])
                    if garbled is not None:
                        f.count -= 1
                        return {**reply, "result": garbled}
        for f in self.faults:
            if isinstance(f, RandomFaults) and f.kind in GARBLES:
                garbled = GARBLES[f.kind](method, params, reply["result"])
                if garbled is not None:
                    with self._lock:
                        fire = f.draw()
                    if fire:
                        return {**reply, "result": garbled}
        return reply

    def _one(self, call: dict[str, Any]) -> dict[str, Any]:
        method, params, cid = call["method"], call.get("params", []), call.get("id")
        err = self._take(RpcErrorFault, lambda f: f.method in (None, method))
        if err is not None:
            return {"jsonrpc": "2.0", "id": cid, "error": {"code": err.code, "message": err.message}}
        rnd = self._random("call")
        if rnd is not None:
            if rnd.kind == "rate-limit":
                return {"jsonrpc": "2.0", "id": cid, "error": {"code": -32005, "message": "rate limit exceeded"}}
            if rnd.kind == "getlogs-refusal" and method == "eth_getLogs":
                return {"jsonrpc": "2.0", "id": cid, "error": {
                    "code": -32005, "message": "query returned more than 10000 results"}}
        return self._garble(method, params, self._answer(call))

    def _answer(self, call: dict[str, Any]) -> dict[str, Any]:
        method, params, cid = call["method"], call.get("params", []), call.get("id")
        if method == "eth_getLogs":
            for f in list(self.faults):
                if isinstance(f, LogRangeLimit):
                    flt = params[0]
                    frm, to = int(flt["fromBlock"], 16), int(flt["toBlock"], 16)
                    if to - frm + 1 > f.max_blocks:
                        error: dict[str, Any] = {"code": f.code, "message": f.message}
                        if f.suggest:
                            error["data"] = {"from": hex(frm), "to": hex(frm + f.max_blocks - 1)}
                        return {"jsonrpc": "2.0", "id": cid, "error": error}
        if method == "eth_call":
            for f in list(self.faults):
                if isinstance(f, CallDataLimit):
                    data = params[0].get("data") or params[0].get("input") or "0x"
                    if (len(data) - 2) // 2 > f.max_bytes:
                        return {"jsonrpc": "2.0", "id": cid, "error": {"code": f.code, "message": f.message}}
        return self._forward(call)

    def _forward(self, call: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.upstream, data=json.dumps(call).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())


_PER = {"reset": "http", "http-503": "http", "http-429": "http", "truncate": "http", "hang": "http",
        "rate-limit": "call", "getlogs-refusal": "call", **{k: "garble" for k in GARBLES}}

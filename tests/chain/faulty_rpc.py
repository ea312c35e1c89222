"""A local HTTP JSON-RPC proxy in front of anvil that misbehaves on a script.

Used by the transport / multicall / discovery tests to reproduce what public providers do:
HTTP 429 / 5xx, slow answers (client timeouts), rate-limit JSON-RPC errors, ``-32005`` "query
returned more than 10000 results" on wide ``eth_getLogs`` ranges (with Infura's suggested
range in ``error.data``), and "out of gas" on oversized ``eth_call`` calldata.

Faults are objects in :attr:`FaultyRpcProxy.faults`; the first one that matches a request
handles it. Listens on 127.0.0.1 only; any URL path is accepted (so a fake API key in the
path works).
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


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
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers, payload = proxy._handle(body)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # client timed out and left
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
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

    def _handle(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        msg = json.loads(body)
        calls = msg if isinstance(msg, list) else [msg]
        with self._lock:
            self.counters.http_requests += 1
            self.counters.rpc_calls += len(calls)
            for c in calls:
                self.counters.by_method[c["method"]] = self.counters.by_method.get(c["method"], 0) + 1
        http = self._take(HttpFault)
        if http is not None:
            headers = {"Retry-After": http.retry_after} if http.retry_after else {}
            return http.status, headers, b'{"error":"injected"}'
        delay = self._take(DelayFault)
        if delay is not None:
            time.sleep(delay.delay_s)
        replies = [self._one(c) for c in calls]
        out = replies if isinstance(msg, list) else replies[0]
        return 200, {}, json.dumps(out).encode()

    def _one(self, call: dict[str, Any]) -> dict[str, Any]:
        method, params, cid = call["method"], call.get("params", []), call.get("id")
        err = self._take(RpcErrorFault, lambda f: f.method in (None, method))
        if err is not None:
            return {"jsonrpc": "2.0", "id": cid, "error": {"code": err.code, "message": err.message}}
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

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
    ``"batch-shuffle"`` / ``"batch-drop-item"`` (a batch answered out of order / one item short),
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
    """After ``after`` distinct JSON-RPC calls have been proxied (:attr:`ProxyCounters.logical_calls`),
    run ``action()`` once (e.g. reorg the upstream chain in the middle of a scan), before
    forwarding the next call."""

    after: int
    action: Callable[[], None]
    fired: bool = False


@dataclass
class ProxyCounters:
    """``rpc_calls`` counts every JSON-RPC call forwarded, hedged copies and retries included (so
    it depends on the machine's load: the suite's transport hedges a read after 50 ms);
    ``logical_calls`` counts distinct request ids, i.e. the calls the scan made, whatever the
    timing. Points in a scan (the reorg triggers) are placed by ``logical_calls``."""

    http_requests: int = 0
    rpc_calls: int = 0
    logical_calls: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    seen_ids: set[Any] = field(default_factory=set)


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
                key = json.dumps(c.get("id"))
                if key not in self.counters.seen_ids:  # a hedged copy or a retry repeats the id
                    self.counters.seen_ids.add(key)
                    self.counters.logical_calls += 1
            seen = self.counters.logical_calls
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
        if isinstance(msg, list) and rnd is not None and len(replies) > 1:
            if rnd.kind == "batch-shuffle":
                replies = replies[1:] + replies[:1]
            elif rnd.kind == "batch-drop-item":
                replies = replies[:len(replies) // 2] + replies[len(replies) // 2 + 1:]
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
        "batch-shuffle": "http", "batch-drop-item": "http",
        "rate-limit": "call", "getlogs-refusal": "call", **{k: "garble" for k in GARBLES}}


# --------------------------------------------------------------------------------------------
# The fault matrix: one devnet scan per trial, classified against the fault-free snapshot.

@dataclass(frozen=True)
class FaultCase:
    """One row of the fault table: ``kind`` injected at ``rate`` by :class:`RandomFaults`."""

    label: str
    kind: str
    rate: float


FAULT_MATRIX: tuple[FaultCase, ...] = (
    FaultCase("connection reset, no answer", "reset", 0.2),
    FaultCase("HTTP 503", "http-503", 0.2),
    FaultCase("HTTP 429 with Retry-After", "http-429", 0.2),
    FaultCase("provider rate-limit error (-32005)", "rate-limit", 0.2),
    FaultCase("batch answered out of order", "batch-shuffle", 0.3),
    FaultCase("batch answered one item short", "batch-drop-item", 0.3),
    FaultCase("body cut short mid-transfer", "truncate", 0.1),
    FaultCase("body cut short mid-transfer", "truncate", 0.3),
    FaultCase("hang (no answer for 5 s)", "hang", 0.1),
    FaultCase("hang (no answer for 5 s)", "hang", 0.3),
    FaultCase("getLogs refused as too big (1-block windows too)", "getlogs-refusal", 0.3),
    FaultCase("number where a hex string belongs", "number-for-string", 0.1),
    FaultCase("number where a hex string belongs", "number-for-string", 0.2),
    FaultCase("hex result one digit short", "drop-hex-digit", 0.2),
    FaultCase("hex result truncated (wrong length)", "truncate-half", 0.2),
    FaultCase("non-hex characters in a result", "non-hex", 0.2),
    FaultCase("garbled eth_chainId", "chain-id", 0.5),
    FaultCase("garbled eth_getLogs entry", "log-entry", 0.3),
    FaultCase("log marked removed", "log-removed", 0.3),
    FaultCase("malformed block header", "bad-block", 0.3),
)

IDENTICAL, CLEAR_ERROR, OTHER = "identical", "clear error", "other"


def snapshot_facts(snapshot: Any) -> dict[str, Any]:
    """A snapshot as a dict without its ``source`` (the proxy's port differs from the node's)."""
    facts = json.loads(snapshot.to_json())
    facts.pop("source", None)
    return facts


def classify(run: Callable[[], Any], expected: dict[str, Any]) -> tuple[str, str]:
    """Run a scan; ``identical`` if its snapshot equals ``expected``, ``clear error`` if it
    raised one :class:`chain.transport.RpcError` (the typed, masked-URL error the CLI prints),
    else ``other`` (a different snapshot, or any other exception). Returns (outcome, detail)."""
    from chain.transport import RpcError

    try:
        snapshot = run()
    except RpcError as exc:
        return CLEAR_ERROR, str(exc)
    except Exception as exc:  # noqa: BLE001 - this is what the table counts
        return OTHER, f"{type(exc).__name__}: {exc}"
    if snapshot_facts(snapshot) == expected:
        return IDENTICAL, ""
    return OTHER, "a different snapshot"


def suite_transport(url: str, seed: int, **kw: Any) -> Any:
    """The transport the suite scans through: the product's retry/hedge logic, with short
    backoffs and a 2 s per-request deadline so a trial stays within seconds."""
    from chain.transport import HttpTransport

    opts: dict[str, Any] = dict(timeout_s=2.0, max_retries=8, backoff_base_s=0.001, backoff_max_s=0.02,
                                hedge_after_s=0.05, expected_chain_id=31337, rng=random.Random(seed))
    opts.update(kw)
    return HttpTransport(url, **opts)


def run_fault_case(devnet: Any, case: FaultCase, trials: int, expected: dict[str, Any],
                   *, seed0: int = 0) -> tuple[dict[str, int], list[str]]:
    """``trials`` scans of the devnet through a proxy injecting ``case``; (outcome counts, the
    details of every ``other`` outcome)."""
    from chain.scan import scan_devnet

    counts = {IDENTICAL: 0, CLEAR_ERROR: 0, OTHER: 0}
    others: list[str] = []
    for trial in range(trials):
        proxy = FaultyRpcProxy(devnet.rpc_url)
        proxy.faults.append(RandomFaults(case.kind, case.rate, seed=seed0 + 1000 * trial + 17, max_faults=200))
        try:
            with suite_transport(proxy.url, trial) as transport:
                outcome, detail = classify(lambda: scan_devnet(devnet.deployment, "latest", transport=transport),
                                           expected)
        finally:
            proxy.stop()
        counts[outcome] += 1
        if outcome == OTHER:
            others.append(detail)
    return counts, others


def _reorg_tx(devnet: Any, price_usd: int) -> dict[str, Any]:
    """A transaction for the replacing block: the WETH feed moves, so the snapshot changes."""
    from chain.devnet import encode_call

    dep = devnet.deployment
    data = encode_call("setAnswer(int256)", price_usd * 10**8)
    return {"from": dep.deployer, "to": dep.aave.price_feeds["WETH"], "gas": hex(200_000),
            "data": data if isinstance(data, str) else "0x" + data.hex()}


class ReorgScenario:
    """On the shared devnet: ``evm_snapshot``, mine ``depth`` empty blocks (the block a scan
    pins is one of them), and later replace them with ``anvil_reorg`` by blocks carrying a price
    move. :meth:`close` reverts everything (``anvil_reorg`` forgets snapshots of the blocks it
    replaces, hence the empty blocks above the snapshot)."""

    def __init__(self, devnet: Any, depth: int, price_usd: int) -> None:
        self.devnet, self.depth, self.price_usd = devnet, depth, price_usd
        self.snapshot_id = devnet.rpc.request("evm_snapshot", [])
        devnet.rpc.request("anvil_mine", [hex(depth)])

    def reorg(self) -> None:
        self.devnet.rpc.request("anvil_reorg", [self.depth, [[_reorg_tx(self.devnet, self.price_usd), 0]]])

    def close(self) -> None:
        if not self.devnet.rpc.request("evm_revert", [self.snapshot_id]):
            raise RuntimeError("evm_revert failed: later tests would see a modified devnet")


def run_reorg_mid_scan(devnet: Any, *, depth: int, after_calls: int, seed: int) -> tuple[str, str, bool]:
    """A scan of ``latest`` during which the pinned block is replaced (after ``after_calls``
    JSON-RPC calls). Expected: the snapshot of the chain after the reorg (re-pinned), or one
    clear error. Returns (outcome, detail, whether the reorg fired)."""
    from chain.scan import scan_devnet

    scenario = ReorgScenario(devnet, depth, 1_500 + seed)
    try:
        proxy = FaultyRpcProxy(devnet.rpc_url)
        trigger = Trigger(after_calls, scenario.reorg)
        proxy.faults.append(trigger)
        try:
            # no hedging: the trigger counts calls, and hedged duplicates vary with the load
            with suite_transport(proxy.url, seed, hedge_after_s=None) as transport:
                result: list[Any] = []

                def scan() -> Any:
                    result.append(scan_devnet(devnet.deployment, "latest", transport=transport))
                    return result[-1]

                outcome, detail = classify_later(scan)
        finally:
            proxy.stop()
        with suite_transport(devnet.rpc_url, seed) as direct:
            expected = snapshot_facts(scan_devnet(devnet.deployment, "latest", transport=direct))
        if outcome == IDENTICAL:  # classify_later defers the comparison until the chain settled
            outcome, detail = (IDENTICAL, "") if snapshot_facts(result[-1]) == expected else (OTHER, "a different snapshot")
        return outcome, detail, trigger.fired
    finally:
        scenario.close()


def classify_later(run: Callable[[], Any]) -> tuple[str, str]:
    """:func:`classify` when the expected snapshot is only known afterwards: ``identical``
    here means "produced a snapshot" (the caller compares)."""
    from chain.transport import RpcError

    try:
        run()
    except RpcError as exc:
        return CLEAR_ERROR, str(exc)
    except Exception as exc:  # noqa: BLE001
        return OTHER, f"{type(exc).__name__}: {exc}"
    return IDENTICAL, ""


def run_reorg_between_runs(devnet: Any, cache_dir: Any, *, depth: int, seed: int) -> tuple[str, str]:
    """Scan ``latest`` through a warm SQLite cache and a persistent account index, replace the
    pinned block(s) by a reorg, scan again with the same cache and index. Expected: exactly a
    cold scan of the new chain, or one clear error — never the replaced block's data."""
    from pathlib import Path

    from chain.cache import CachingTransport
    from chain.scan import devnet_sources, scan_snapshot

    scenario = ReorgScenario(devnet, depth, 1_700 + seed)
    try:
        cache, index = Path(cache_dir) / f"rpc-{seed}.sqlite", Path(cache_dir) / f"accounts-{seed}.sqlite"
        sources = devnet_sources(devnet.deployment)
        result: list[Any] = []
        with suite_transport(devnet.rpc_url, seed) as http:
            with CachingTransport(http, cache) as cached:
                first = scan_snapshot(cached, block="latest", accounts_index=index, **sources)
            scenario.reorg()
            with CachingTransport(http, cache) as cached:
                outcome, detail = classify_later(
                    lambda: result.append(scan_snapshot(cached, block="latest", accounts_index=index, **sources)))
            expected = snapshot_facts(scan_snapshot(http, block="latest", **sources))
        if outcome == IDENTICAL:
            second = snapshot_facts(result[-1])
            if second != expected:
                outcome, detail = OTHER, "a different snapshot"
            elif second == snapshot_facts(first):
                outcome, detail = OTHER, "the reorg did not change the snapshot: the trial proves nothing"
        return outcome, detail
    finally:
        scenario.close()


def format_table(rows: list[tuple[str, str, int, dict[str, int]]]) -> str:
    """Markdown table: fault | rate | trials | identical | clear error | other."""
    lines = ["| fault | rate | trials | identical | clear error | other |", "|---|---|---|---|---|---|"]
    for label, rate, trials, c in rows:
        lines.append(f"| {label} | {rate} | {trials} | {c[IDENTICAL]} | {c[CLEAR_ERROR]} | {c[OTHER]} |")
    return "\n".join(lines)

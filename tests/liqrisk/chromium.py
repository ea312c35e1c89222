"""A small Chrome DevTools Protocol driver for Debian's ``chromium`` (test helper).

No browser download: it starts the system's ``/usr/bin/chromium`` headless with
``--remote-debugging-port=0`` (a free port, read back from the browser's "DevTools listening
on ws://..." line) and talks CDP over one websocket (``websocket-client``), with a flattened
session on one page target. Every wait is bounded by a deadline; nothing asserts on time.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")


def find_chromium() -> str | None:
    for path in CHROMIUM_PATHS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def why_no_browser() -> str | None:
    """None when the browser test can run, else the reason (for pytest.skip)."""
    if find_chromium() is None:
        return ("Debian's chromium is not installed (no /usr/bin/chromium): `apt-get install -y chromium`; "
                ".ci/run installs it when it runs as root")
    try:
        import websocket  # noqa: F401
    except ImportError:
        return "websocket-client is not installed (it is in the dev extra: pip install -e '.[dev]')"
    return None


@dataclass
class PageRun:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    result: Any = None
    screenshot: Path | None = None


class Browser:
    """``with Browser() as b: run = b.load(url, check_js, screenshot=path)``."""

    def __init__(self, *, width: int = 1280, height: int = 900, timeout_s: float = 120.0) -> None:
        self.width, self.height, self.timeout_s = width, height, timeout_s
        self._profile = tempfile.mkdtemp(prefix="liqrisk-chromium-")
        self._proc: subprocess.Popen[str] | None = None
        self._ws: Any = None
        self._next_id = 0
        self._session: str | None = None
        self._events: list[dict[str, Any]] = []

    # -- process -------------------------------------------------------------------------
    def __enter__(self) -> "Browser":
        import websocket

        exe = find_chromium()
        assert exe is not None, why_no_browser()
        self._proc = subprocess.Popen(
            [exe, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ws_url = self._read_ws_url()
        self._ws = websocket.create_connection(ws_url, timeout=self.timeout_s, suppress_origin=True)
        target = self._call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True}, session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self._call(f"{domain}.enable")
        self._call("Emulation.setDeviceMetricsOverride",
                   {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        return self

    def _read_ws_url(self) -> str:
        assert self._proc is not None and self._proc.stderr is not None
        found: list[str] = []
        lines: list[str] = []

        def reader() -> None:
            assert self._proc is not None and self._proc.stderr is not None
            for line in self._proc.stderr:
                lines.append(line)
                m = re.search(r"DevTools listening on (ws://\S+)", line)
                if m and not found:
                    found.append(m.group(1))
            # keep draining so the browser never blocks on a full pipe

        threading.Thread(target=reader, daemon=True).start()
        deadline = time.monotonic() + self.timeout_s
        while not found and time.monotonic() < deadline and self._proc.poll() is None:
            time.sleep(0.05)
        if not found:
            raise RuntimeError("chromium did not start its DevTools endpoint:\n" + "".join(lines[-20:]))
        return found[0]

    def __exit__(self, *exc: object) -> None:
        try:
            if self._ws is not None:
                self._ws.close()
        finally:
            if self._proc is not None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=20)
            shutil.rmtree(self._profile, ignore_errors=True)

    # -- protocol ------------------------------------------------------------------------
    def _call(self, method: str, params: dict[str, Any] | None = None, *, session: bool = True) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self._session
        self._ws.send(json.dumps(message))
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            reply = json.loads(self._ws.recv())
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)
        raise TimeoutError(f"no reply to {method}")

    def _wait_event(self, method: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            for k, event in enumerate(self._events):
                if event["method"] == method:
                    return self._events.pop(k)
            event = json.loads(self._ws.recv())
            if "method" in event:
                self._events.append(event)
        raise TimeoutError(f"no {method} event")

    def evaluate(self, expression: str) -> Any:
        reply = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in reply:
            raise RuntimeError(f"page script failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    # -- one page ------------------------------------------------------------------------
    def load(self, url: str, ready_js: str, *, screenshot: Path | None = None, full_page: bool = True) -> PageRun:
        """Navigate, wait for ``load``, poll ``ready_js`` (a JS expression) until it is truthy
        (bounded), then collect console errors, requests and (optionally) a screenshot."""
        self._events.clear()
        self._call("Page.navigate", {"url": url})
        self._wait_event("Page.loadEventFired")
        run = PageRun()
        deadline = time.monotonic() + self.timeout_s
        while True:
            run.result = self.evaluate(ready_js)
            if run.result or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self._call("Runtime.evaluate", {"expression": "0"})  # flush pending events into the queue
        for event in self._events:
            p = event.get("params", {})
            if event["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                run.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif event["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                run.console_errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif event["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                run.console_errors.append(p["entry"].get("text", ""))
            elif event["method"] == "Network.requestWillBeSent":
                run.requests.append(p.get("request", {}).get("url", ""))
        if screenshot is not None:
            params: dict[str, Any] = {"format": "png"}
            if full_page:
                size = self._call("Page.getLayoutMetrics")["cssContentSize"]
                params.update(captureBeyondViewport=True,
                              clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
            data = self._call("Page.captureScreenshot", params)["data"]
            screenshot.write_bytes(base64.b64decode(data))
            run.screenshot = screenshot
        return run


__all__ = ["Browser", "PageRun", "find_chromium", "why_no_browser"]

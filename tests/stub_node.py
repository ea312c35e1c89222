"""A JSON-RPC node that answers from a function, for the CLI's error-path tests.

Not a stand-in for a chain (readers are tested on anvil): these tests need a node that is
wrong on purpose — another chain id, every read refused — to see what the user is told.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], dict[str, Any]]


def result(request: dict[str, Any], value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request["id"], "result": value}


def error(request: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": message}}


def chain_only(chain_id: int, *, block_number: int | None = None, message: str = "method not supported") -> Answer:
    """A node that names ``chain_id`` (and ``block_number`` if given) and refuses every other call."""

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        if request["method"] == "eth_chainId":
            return result(request, hex(chain_id))
        if request["method"] == "eth_blockNumber" and block_number is not None:
            return result(request, hex(block_number))
        return error(request, -32601, message)

    return answer


@contextmanager
def stub_node(answer: Answer, *, path: str = "") -> Iterator[str]:
    """Serve ``answer`` (single calls and batches) on a free loopback port; yields the URL
    (``http://127.0.0.1:PORT`` + ``path``)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            reply = [answer(r) for r in request] if isinstance(request, list) else answer(request)
            body = json.dumps(reply).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{path}"
    finally:
        server.shutdown()
        server.server_close()

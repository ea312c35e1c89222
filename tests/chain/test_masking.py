"""No RPC key is ever shown (issue 13, item 5): masking by construction, on every channel.

RPC URLs whose secret sits in a path segment of any case, the query, the user-info or the
fragment are used for real — through a loopback proxy in front of the session devnet, which
accepts any path — and every channel is searched for the secret: the CLI's status lines and
results (stdout, stderr), every error message (a node on the wrong chain, an unreachable node, a
node failing mid-scan), the log records of every logger at DEBUG (urllib3 included), the report
files (JSON, Markdown, HTML), the snapshot file, the SQLite files (run index, RPC cache, account
index, with their WAL), ``devnet status`` (table and JSON), and the alert webhook (the payload it
receives, and its own URL's secret in everything printed).
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from chain.cache import CachingTransport
from chain.scan import devnet_sources, scan_snapshot
from chain.transport import HttpTransport, mask_url
from liqrisk.cli import cli

try:
    from tests.chain.faulty_rpc import FaultyRpcProxy, RpcErrorFault
except ImportError:  # pytest's default rootdir import mode
    from faulty_rpc import FaultyRpcProxy, RpcErrorFault  # type: ignore[no-redef]

# (name, URL suffix after scheme://, the secrets it carries); {host} = the proxy's host:port
URLS = [
    ("path-lowercase", "{host}/v2/mysecretkeyab12", ["mysecretkeyab12"]),
    ("path-hyphenated", "{host}/rpc/secret-key-value-77", ["secret-key-value-77"]),
    ("path-uppercase", "{host}/KEY/UPPERSECRETXY", ["UPPERSECRETXY"]),
    ("query", "{host}/?apikey=querysecret42&x=1", ["querysecret42"]),
    ("user-info", "aliceuser4242:passsecret93@{host}", ["passsecret93", "aliceuser4242"]),
    ("fragment", "{host}/#fragsecret55", ["fragsecret55"]),
    ("everything", "bobuser5151:pw-secret-66@{host}/v3/Path-Secret-88?token=tok-secret-99#frag-secret-11",
     ["bobuser5151", "pw-secret-66", "Path-Secret-88", "tok-secret-99", "frag-secret-11"]),
]


class _Hook(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        _Hook.bodies.append(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


@pytest.fixture(scope="module")
def webhook():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _state_file(cache: Path, devnet, url: str) -> None:
    """A devnet state file naming the session devnet, reached through ``url``."""
    deployment = json.loads(devnet.deployment.to_json())
    deployment["rpc_url"] = url
    state = {"pid": devnet.process.pid, "port": devnet.process.port, "rpc_url": url, "deployment": deployment}
    path = cache / "devnet" / "state.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state))


def _files_text(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _leaks(secrets: list[str], channels: dict[str, str | bytes]) -> list[str]:
    found = []
    for name, text in channels.items():
        data = text.encode() if isinstance(text, str) else text
        for secret in secrets:
            at = data.lower().find(secret.lower().encode())
            if at >= 0:
                found.append(f"{secret!r} in {name}: ...{data[max(0, at - 120):at + 60]!r}...")
    return found


@pytest.mark.parametrize(("name", "suffix", "secrets"), URLS, ids=[u[0] for u in URLS])
def test_no_key_on_any_channel(devnet, tmp_path, monkeypatch, caplog, webhook, name, suffix, secrets):
    proxy = FaultyRpcProxy(devnet.rpc_url)
    host = proxy.url.removeprefix("http://")
    url = "http://" + suffix.format(host=host)
    hook_secret = f"hooksecret-{name}"
    hook_url = f"http://127.0.0.1:{webhook.server_port}/services/{hook_secret}"
    all_secrets = [*secrets, hook_secret]
    assert mask_url(url) in (f"http://{host}", f"http://{host}/****")
    cache = tmp_path / "cache"
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(cache))
    for var in ("ETH_RPC_URL", "LIQRISK_WEBHOOK_URL", "LIQRISK_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    _state_file(cache, devnet, url)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("urllib3").setLevel(logging.DEBUG)
    _Hook.bodies.clear()
    runner = CliRunner()
    streams: dict[str, str] = {}

    def run(*args: str, code: int = 0) -> None:
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        key = " ".join(str(a) for a in args)
        streams[f"stdout of {key}"], streams[f"stderr of {key}"] = result.stdout, result.stderr
        assert result.exit_code == code, (key, result.output)

    out = tmp_path / "out"
    try:
        run("devnet", "status")
        run("devnet", "status", "--format", "json")
        run("scan", "--source", "devnet", "--out", out / "snap.json")
        run("bands", "--source", "devnet", "--format", "json")
        run("report", "--source", "devnet", "--out", out / "reports", "--paths", "20", "--no-charts",
            "--alert-band-within", "0.99", "--alert-band-min-usd", "0", "--alert-cascade-usd", "0",
            "--webhook-url", hook_url)
        run("runs", out / "reports", "--format", "json")
        # errors: a node on another chain than --source rpc wants, an unreachable node, a failing node
        run("bands", "--source", "rpc", "--rpc-url", url, code=1)
        assert "is chain 31337" in streams[f"stderr of bands --source rpc --rpc-url {url}"]
        monkeypatch.setenv("ETH_RPC_URL", url)
        run("scan", "--source", "rpc", "--out", out / "never.json", code=1)
        monkeypatch.delenv("ETH_RPC_URL")
        dead = "http://" + suffix.format(host="127.0.0.1:9")
        run("cascade", "--source", "rpc", "--rpc-url", dead, code=1)
        proxy.faults.append(RpcErrorFault(-32000, "node is sick", count=10_000, method="eth_call"))
        run("scan", "--source", "devnet", "--out", out / "failed.json", code=1)
        assert "node is sick" in streams[f"stderr of scan --source devnet --out {out / 'failed.json'}"]
        proxy.faults.clear()
        # the stores --source rpc writes: RPC cache and account index, through the same URL
        with HttpTransport(url, expected_chain_id=31337) as http, \
                CachingTransport(http, out / "db" / "rpc-cache.sqlite") as cached:
            scan_snapshot(cached, block="latest", accounts_index=out / "db" / "accounts.sqlite",
                          **devnet_sources(devnet.deployment))
    finally:
        proxy.stop()
    assert _Hook.bodies, "the alert webhook was called (the alerts channel is exercised)"
    files = _files_text(out)
    assert any(p.endswith("report.html") for p in files) and any(p.endswith("runs.sqlite") for p in files)
    assert any(p.endswith("rpc-cache.sqlite") for p in files) and any(p.endswith("accounts.sqlite") for p in files)
    channels: dict[str, str | bytes] = {**streams, **files, "log records": caplog.text,
                                        **{f"webhook payload {i}": b for i, b in enumerate(_Hook.bodies)}}
    assert not _leaks(all_secrets, channels)
    assert mask_url(url) in streams["stdout of devnet status"]

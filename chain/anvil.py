"""Start and stop a local anvil node (from the npm package ``@foundry-rs/anvil``).

The npm ``.bin/anvil`` is a Node wrapper that may leave the native node running when it is
stopped, so we start the native binary directly, in its own process group, listening on
127.0.0.1 only, and stop the whole group.

Disk: anvil keeps every block's state (pinned reads need the history) and moves the older ones
to disk, 85-230 kB per block even for empty ones (1,100 mined blocks: 95 MB, 3,072: 704 MB), by default
under ``~/.foundry/anvil/tmp``, where a stopped or killed node leaves them behind (53 GB once on
the project's shared machine). Each node started here gets its own ``--cache-path`` folder in
``<TMPDIR>/liqrisk-anvil-states/`` with its pid in ``owner.pid``; stopping a node removes its
folder, and every start removes the folders whose owner is no longer alive (killed runs).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chain.locations import PACKAGE_ROOT, UnsupportedPlatform, anvil_binary_path, missing_npm_hint

PROJECT_ROOT = PACKAGE_ROOT  # the checkout root, or site-packages for a wheel (see chain.locations)
ANVIL_ENV = "LIQRISK_ANVIL"
DEFAULT_GENESIS_TIMESTAMP = 1_767_225_600  # 2026-01-01T00:00:00Z: fixed so interest accrual is reproducible


class AnvilError(RuntimeError):
    pass


def anvil_binary() -> Path:
    """The native anvil: ``$LIQRISK_ANVIL``, else the npm package's binary for this OS and CPU."""
    override = os.environ.get(ANVIL_ENV)
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise AnvilError(f"anvil not found at {path} (from ${ANVIL_ENV})")
        return path
    try:
        path = anvil_binary_path()
    except UnsupportedPlatform as exc:
        raise AnvilError(str(exc)) from None
    if not path.is_file():
        raise AnvilError(f"anvil not found at {path}: {missing_npm_hint()}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AnvilProcess:
    pid: int
    port: int
    log_path: Path
    state_dir: Path | None = None
    """The node's ``--cache-path``: its persisted older states (removed when it stops)."""

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout: float = 5.0) -> None:
        stop_process_group(self.pid, timeout)


STATE_DIRS_NAME = "liqrisk-anvil-states"
_OWNER_FILE = "owner.pid"
_UNOWNED_GRACE_S = 120.0
"""A folder without ``owner.pid`` is being set up by a starting node; older than this, its start failed."""


def state_dirs_root() -> Path:
    """Where the nodes' persisted-state folders live (``$TMPDIR``, else the system temp folder)."""
    return Path(os.environ.get("TMPDIR") or tempfile.gettempdir()) / STATE_DIRS_NAME


def _owner_of(folder: Path) -> int | None:
    try:
        return int((folder / _OWNER_FILE).read_text())
    except (OSError, ValueError):
        return None


def remove_stale_state_dirs(*, also_owned_by: int | None = None) -> list[Path]:
    """Remove the state folders of nodes that are gone (and of ``also_owned_by``, a node just stopped)."""
    root = state_dirs_root()
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for folder in root.iterdir():
        owner = _owner_of(folder)
        if owner is None:
            try:
                stale = time.time() - folder.stat().st_mtime > _UNOWNED_GRACE_S
            except OSError:
                continue
        else:
            stale = owner == also_owned_by or not _alive(owner)
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def stop_process_group(pid: int, timeout: float = 5.0) -> None:
    try:
        _stop_group(pid, timeout)
    finally:
        remove_stale_state_dirs(also_owned_by=pid)


def _stop_group(pid: int, timeout: float) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            finished, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (started by another process): poll liveness
            finished = 0 if _alive(pid) else pid
        if finished:
            return
        time.sleep(0.05)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_anvil(
    *,
    port: int | None = None,
    chain_id: int = 31337,
    genesis_timestamp: int = DEFAULT_GENESIS_TIMESTAMP,
    log_path: Path | None = None,
    gas_limit: int = 1_000_000_000,
    code_size_limit: int = 0x20000,
    extra_args: tuple[str, ...] = (),
    detach: bool = False,
    startup_timeout: float = 20.0,
) -> AnvilProcess:
    """Start anvil on 127.0.0.1 and wait until it answers ``eth_chainId``.

    ``detach=True`` lets the node outlive this Python process (``liqrisk devnet up``).
    """
    binary = anvil_binary()
    port = port or free_port()
    if log_path is None:
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"liqrisk-anvil-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_state_dirs()
    state_dirs_root().mkdir(parents=True, exist_ok=True)
    state_dir = Path(tempfile.mkdtemp(prefix=f"{port}-", dir=state_dirs_root()))
    args = [
        str(binary),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--chain-id", str(chain_id),
        "--timestamp", str(genesis_timestamp),
        "--gas-limit", str(gas_limit),
        "--code-size-limit", str(code_size_limit),
        "--accounts", "10",
        "--balance", "1000000000",
        "--cache-path", str(state_dir),
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    (state_dir / _OWNER_FILE).write_text(str(proc.pid))
    from chain.transport import RpcError  # here, not at the top: `liqrisk --help` stays light

    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            shutil.rmtree(state_dir, ignore_errors=True)
            raise AnvilError(f"anvil exited with code {proc.returncode}; log: {log_path}")
        try:
            _rpc(url, "eth_chainId", [])
            break
        except RpcError:  # not listening yet (connection refused) or not answering yet
            time.sleep(0.05)
    else:
        stop_process_group(proc.pid)
        raise AnvilError(f"anvil did not answer on {url} within {startup_timeout}s; log: {log_path}")
    if detach:
        # Forget the child so its exit is not tied to our Popen object.
        proc.returncode = 0
    return AnvilProcess(pid=proc.pid, port=port, log_path=log_path, state_dir=state_dir)


def _rpc(url: str, method: str, params: list[object]) -> object:
    """One call through the project's JSON-RPC client (no retries: the caller polls)."""
    from chain.transport import HttpTransport

    with HttpTransport(url, timeout_s=2.0, max_retries=0, hedge_after_s=None, deadline_s=5.0) as transport:
        return transport.request(method, list(params))

"""Where positions come from: the synthetic sample, a snapshot file, the devnet or an RPC node.

:func:`load_source` is the I/O part of running a scenario: it turns a
:class:`~liqrisk.scenario.SourceSpec` into a :class:`LoadedSnapshot` pinned to one block, and turns
every failure a user can fix into one :class:`~liqrisk.errors.LiqriskUserError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from liqrisk.errors import LiqriskUserError
from liqrisk.scenario import BlockSpec, SourceSpec, format_validation_error, read_limited

if TYPE_CHECKING:
    from risk.snapshot import Snapshot

from chain.locations import CACHE_DIR_ENV

MAX_SNAPSHOT_BYTES = 2 << 30
"""2 GiB: about 6 million positions; a larger file is refused before it is read."""


def cache_dir() -> Path:
    """Root of the RPC cache and the account index (see :func:`chain.locations.cache_root`)."""
    from chain.locations import cache_root

    return cache_root()


@dataclass(frozen=True)
class LoadedSnapshot:
    """A snapshot and how it was obtained (``description`` is safe to print: URLs are masked)."""

    snapshot: "Snapshot"
    kind: str
    description: str

    @property
    def block_line(self) -> str:
        s = self.snapshot
        tag = " — SYNTHETIC sample, not chain data" if s.synthetic else ""
        return f"block {s.block_number:,} (chain {s.chain_id}, {self.description}){tag}"


def load_source(
    source: SourceSpec,
    *,
    rpc_url: str | None = None,
    block: BlockSpec | None = None,
    base_dir: Path | None = None,
    markets_file: str | Path | None = None,
) -> LoadedSnapshot:
    """Read positions as ``source`` says (``block`` overrides ``source.block``).

    ``--source rpc`` scans the markets of the market file's network whose ``chain_id`` the node
    answers: ``markets_file`` (``--markets``), else the scenario's ``source.markets`` (relative to
    ``base_dir``), else the shipped ``chain/data/markets.toml``. A node on a chain the file does
    not list (or not the ``source.network`` asked for) is refused with the file and field named.

    Every failure a user can fix (no devnet, RPC unreachable, missing file, bad JSON) becomes a
    :class:`LiqriskUserError` with the masked URL or the path in the message.
    """
    from pydantic import ValidationError as _VE

    block = source.block if block is None else block
    if source.kind == "sample":
        from risk.sample import sample_snapshot

        snap = sample_snapshot(source.sample_positions, seed=source.sample_seed)
        return LoadedSnapshot(snap, "sample", f"synthetic sample, seed {source.sample_seed}")
    if source.kind == "snapshot":
        from risk.snapshot import Snapshot

        path = Path(source.path or "")
        if base_dir is not None and not path.is_absolute() and not path.exists():
            path = base_dir / path
        text = read_limited(path, MAX_SNAPSHOT_BYTES, "snapshot file", LiqriskUserError)
        try:
            snap = Snapshot.from_json(text)
        except _VE as exc:
            raise LiqriskUserError(format_validation_error(exc, f"{path}: not a valid liqrisk snapshot")) from None
        except RecursionError:
            raise LiqriskUserError(f"{path}: not a valid liqrisk snapshot: nested too deeply") from None
        return LoadedSnapshot(snap, "snapshot", f"snapshot file {path}")
    from chain.transport import RpcError

    if source.kind == "devnet":
        from chain.devnet import DevnetError, load_deployment
        from chain.devnet.core import devnet_status
        from chain.scan import scan_devnet

        status = devnet_status()
        if not status["running"]:
            raise LiqriskUserError("no devnet is running: start one with `liqrisk devnet up` "
                                   f"(state file {status['state_path']})")
        try:
            deployment = load_deployment()
            snap = scan_devnet(deployment, block)
        except (RpcError, DevnetError) as exc:
            raise LiqriskUserError(f"devnet scan failed: {exc}") from None
        except ValueError as exc:  # e.g. a block the devnet does not have
            raise LiqriskUserError(f"devnet scan at block {block}: {exc}") from None
        return LoadedSnapshot(snap, "devnet", f"devnet {snap.source}")
    # rpc
    from chain.aave_v3 import ReaderError
    from chain.cache import CachingTransport
    from chain.markets import SHIPPED_MARKET_FILE, MarketFileError, load_market_file
    from chain.scan import scan_snapshot
    from chain.transport import HttpTransport

    url = rpc_url_of(source, rpc_url)
    path = markets_path(source, markets_file, base_dir)
    try:
        market_file = load_market_file(path)
    except MarketFileError as exc:
        raise LiqriskUserError(str(exc)) from None
    where = str(path or SHIPPED_MARKET_FILE)
    root = cache_dir()
    _check_stores(root)  # a corrupt or foreign cache/index is named before any RPC work
    try:
        with HttpTransport(url) as http:
            try:
                name, net = market_file.network_for_chain(http.chain_id, where=where, network=source.network)
            except MarketFileError as exc:
                raise LiqriskUserError(f"{exc} (node {http.masked_url})") from None
            cached = CachingTransport(http, root / "rpc-cache.sqlite")
            try:
                snap = scan_snapshot(cached, block=block, accounts_index=root / "accounts.sqlite", **net.scan_kwargs())
            except ReaderError as exc:  # e.g. no contract at a listed address: wrong node or wrong file
                raise LiqriskUserError(f"RPC scan failed: {exc} (markets of network {name!r} in {where})") from None
            return LoadedSnapshot(snap, "rpc", f"rpc {http.masked_url}, network {name} of {Path(where).name}")
    except RpcError as exc:
        raise LiqriskUserError(f"RPC scan failed: {exc}") from None


def rpc_url_of(source: SourceSpec, rpc_url: str | None = None) -> str:
    """The node URL of an ``rpc`` source: its ``rpc_url_env`` variable when it names one, else
    ``rpc_url`` (``--rpc-url``), else ``$ETH_RPC_URL``; a :class:`LiqriskUserError` naming the
    flag or variable when it is missing or unusable."""
    from chain.transport import url_from_env_or_arg

    try:
        return url_from_env_or_arg(rpc_url, env_var=source.rpc_url_env)
    except ValueError as exc:
        raise LiqriskUserError(str(exc)) from None


def _check_stores(root: Path) -> None:
    """Open (creating if needed) the RPC cache and the account index once: a file that is not
    one (corrupt, another program's, a folder) is one :class:`~chain.store.StoreFileError`
    naming it and how to recover, raised before any node is asked anything."""
    from chain import cache, discovery
    from chain.store import open_store

    for name, module in (("rpc-cache.sqlite", cache), ("accounts.sqlite", discovery)):
        what = module.CACHE_WHAT if module is cache else module.INDEX_WHAT
        recover = module.CACHE_RECOVER if module is cache else module.INDEX_RECOVER
        open_store(root / name, what=what, schema=module._SCHEMA, recover=recover).close()


def markets_path(source: SourceSpec, markets_file: str | Path | None, base_dir: Path | None) -> Path | None:
    """The market file to use: ``--markets``, else the scenario's ``markets`` (relative to its
    folder), else None (the shipped file)."""
    if markets_file is not None:
        return Path(markets_file)
    if source.markets:
        path = Path(source.markets)
        if base_dir is not None and not path.is_absolute() and not path.exists():
            path = base_dir / path
        return path
    return None


__all__ = ["CACHE_DIR_ENV", "LoadedSnapshot", "cache_dir", "load_source", "markets_path", "rpc_url_of"]

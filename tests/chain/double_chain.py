"""The anvil set-up every test double's module starts from: a fresh node, Multicall3 at its
canonical address, and test ERC-20s for the given symbols (each venue then deploys its double)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from chain.anvil import AnvilProcess, start_anvil
from chain.devnet.rpc import DevnetRpc, encode_args
from chain.devnet.solc import compile_own_contracts
from chain.devnet.core import MULTICALL3_ADDRESS


@dataclass(frozen=True)
class DoubleChain:
    node: AnvilProcess
    rpc: DevnetRpc
    deployer: str
    tokens: dict[str, str]  # symbol -> address


@contextmanager
def double_chain(decimals: Mapping[str, int], *, chain_id: int = 31337, genesis_timestamp: int | None = None,
                 block_interval_s: int | None = 12) -> Iterator[DoubleChain]:
    """A node with Multicall3 and one TestERC20 per ``decimals`` entry; stopped on exit."""
    options: dict[str, Any] = {} if genesis_timestamp is None else {"genesis_timestamp": genesis_timestamp}
    node = start_anvil(chain_id=chain_id, extra_args=("--auto-impersonate",), **options)
    rpc = DevnetRpc(node.rpc_url)
    try:
        if block_interval_s is not None:
            rpc.request("anvil_setBlockTimestampInterval", [block_interval_s])
        deployer = rpc.accounts()[0]
        own = compile_own_contracts()
        rpc.request("anvil_setCode", [MULTICALL3_ADDRESS, own["Multicall3"].deployed_bytecode])
        tokens = {}
        for symbol, dec in decimals.items():
            code = own["TestERC20"].bytecode + encode_args(("string", "string", "uint8"), (f"devnet {symbol}", symbol, dec))
            tokens[symbol] = rpc.deploy(deployer, code, gas=3_000_000, what=symbol)
        yield DoubleChain(node, rpc, deployer, tokens)
    finally:
        rpc.close()
        node.stop()


@contextmanager
def reverted(rpc: DevnetRpc) -> Iterator[None]:
    """Whatever the body does to the chain is undone (evm_snapshot / evm_revert)."""
    snap = rpc.request("evm_snapshot", [])
    try:
        yield
    finally:
        assert rpc.request("evm_revert", [snap])

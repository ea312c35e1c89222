"""Compile Solidity with solc-js (npm ``solc`` 0.8.19) through node, with an on-disk cache.

The compiler runs as ``node`` + ``require('solc').compile(standardJsonInput)``. All sources are
passed inline in the standard JSON input (so no import callback is needed). Outputs are cached
under ``.liqrisk-cache/solc/`` keyed by sha256 of (standard JSON input, compiler version):
Morpho Blue with its production settings (viaIR, 999,999 optimizer runs) takes ~15 s in solc-js.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.anvil import PROJECT_ROOT
from chain.files import write_atomic
from chain.locations import cache_root, node_modules_dir

NODE_MODULES = node_modules_dir()
SOLC_PACKAGE = NODE_MODULES / "solc"
MORPHO_SRC = NODE_MODULES / "@morpho-org" / "morpho-blue" / "src"
OWN_CONTRACTS = PROJECT_ROOT / "chain" / "contracts"

# Morpho Blue 1.0.0 production settings (foundry.toml of the morpho-blue repo: via-ir, 999999 runs).
MORPHO_SETTINGS: dict[str, Any] = {
    "viaIR": True,
    "optimizer": {"enabled": True, "runs": 999_999},
    "evmVersion": "paris",
}
OWN_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "paris",
}
_OUTPUT_SELECTION = {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]}}

_NODE_SCRIPT = """
const solc = require(process.argv[1]);
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => { input += d; });
process.stdin.on('end', () => {
  const out = solc.compile(input);
  process.stdout.write(JSON.stringify({version: solc.version(), output: JSON.parse(out)}));
});
"""


class SolcError(RuntimeError):
    """Compilation failed; the message carries solc's formatted errors."""


@dataclass(frozen=True, slots=True)
class CompiledContract:
    """One compiled contract: ``bytecode`` is creation code as 0x-hex, ``abi`` the JSON ABI."""

    source: str
    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: str
    deployed_bytecode: str


def cache_dir() -> Path:
    return cache_root() / "solc"


def compiler_version() -> str:
    """The solc-js package version (part of the cache key)."""
    meta = json.loads((SOLC_PACKAGE / "package.json").read_text())
    return str(meta["version"])


def compile_standard(sources: dict[str, str], settings: dict[str, Any]) -> dict[str, CompiledContract]:
    """Compile ``{source unit name: source text}`` with ``settings``.

    Returns ``{"<source unit>:<ContractName>": CompiledContract}`` for every contract (including
    libraries and interfaces). Cached on disk; a cache hit does not start node.
    """
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {**settings, "outputSelection": _OUTPUT_SELECTION},
    }
    payload = json.dumps(std_input, sort_keys=True)
    version = compiler_version()
    key = hashlib.sha256((version + "\n" + payload).encode()).hexdigest()
    path = cache_dir() / f"{key}.json"
    if path.exists():
        output = json.loads(path.read_text())
    else:
        output = _run_solc(payload)
        write_atomic(path, json.dumps(output))
    return _contracts(output)


def _run_solc(payload: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise SolcError("node not found on PATH (needed to run solc-js)")
    if not SOLC_PACKAGE.exists():
        raise SolcError(f"solc-js not installed at {SOLC_PACKAGE}: run ./setup.sh")
    proc = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(SOLC_PACKAGE)],
        input=payload,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SolcError(f"solc-js exited with {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    result = json.loads(proc.stdout)
    output = result["output"]
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise SolcError("\n".join(e.get("formattedMessage", e.get("message", "?")) for e in errors))
    output.pop("errors", None)
    output.pop("sources", None)
    return output


def _contracts(output: dict[str, Any]) -> dict[str, CompiledContract]:
    result: dict[str, CompiledContract] = {}
    for source, contracts in output.get("contracts", {}).items():
        for name, data in contracts.items():
            evm = data.get("evm", {})
            result[f"{source}:{name}"] = CompiledContract(
                source=source,
                name=name,
                abi=tuple(data.get("abi", [])),
                bytecode="0x" + evm.get("bytecode", {}).get("object", ""),
                deployed_bytecode="0x" + evm.get("deployedBytecode", {}).get("object", ""),
            )
    return result




def _read_tree(root: Path, prefix: str) -> dict[str, str]:
    return {f"{prefix}/{p.relative_to(root).as_posix()}": p.read_text() for p in sorted(root.rglob("*.sol"))}


def compile_morpho() -> dict[str, CompiledContract]:
    """Morpho Blue 1.0.0 (``src/Morpho.sol``, its libraries and ``src/mocks/OracleMock.sol``,
    ``src/mocks/IrmMock.sol``) with the production settings. Keys like ``src/Morpho.sol:Morpho``.

    solc < 0.8.20 leaves library-emitted events out of a contract's ABI: Morpho's events are in
    ``src/libraries/EventsLib.sol:EventsLib`` (see :func:`morpho_abi`).
    """
    if not MORPHO_SRC.exists():
        raise SolcError(f"@morpho-org/morpho-blue not installed at {MORPHO_SRC}: run ./setup.sh")
    sources = {
        name: text
        for name, text in _read_tree(MORPHO_SRC, "src").items()
        if not name.startswith("src/mocks/") or name in ("src/mocks/OracleMock.sol", "src/mocks/IrmMock.sol")
    }
    # Only what Morpho.sol and the two mocks import; periphery libs are not needed.
    sources = {k: v for k, v in sources.items() if "/periphery/" not in k}
    return compile_standard(sources, MORPHO_SETTINGS)


def morpho_abi(contracts: dict[str, CompiledContract]) -> list[dict[str, Any]]:
    """Morpho's ABI with the events of EventsLib merged in."""
    abi = list(contracts["src/Morpho.sol:Morpho"].abi)
    abi += [e for e in contracts["src/libraries/EventsLib.sol:EventsLib"].abi if e.get("type") == "event"]
    return abi


def compile_own_contracts() -> dict[str, CompiledContract]:
    """liqrisk's own devnet contracts in ``chain/contracts``. Keys like ``TestERC20``."""
    sources = _read_tree(OWN_CONTRACTS, "contracts")
    compiled = compile_standard(sources, OWN_SETTINGS)
    return {c.name: c for c in compiled.values()}

"""Compile Solidity with solc-js through node, with an on-disk cache.

Two compilers are installed by set-up: npm ``solc`` 0.8.19 (Morpho Blue, whose pragma is exactly
0.8.19, and liqrisk's own contracts) and ``solc-0.8.27`` (an npm alias of ``solc@0.8.27``) for
Aave v3.6 (``@aave-dao/aave-v3-origin`` needs >= 0.8.26 for ``require(cond, CustomError())``;
its foundry.toml pins 0.8.27).

The compiler runs as ``node`` + ``require(<solc package>).compile(standardJsonInput)``. All sources
are passed inline in the standard JSON input (imports are resolved here, in Python, so no import
callback is needed). Outputs are cached under ``.liqrisk-cache/solc/`` keyed by sha256 of
(standard JSON input, compiler version): Morpho Blue with its production settings (viaIR,
999,999 optimizer runs) takes ~15 s in solc-js, the Aave v3.6 market ~20 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
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
SOLC_0827_PACKAGE = NODE_MODULES / "solc-0.8.27"
AAVE36_PACKAGE = "@aave-dao/aave-v3-origin"
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


def compiler_version(package: Path = SOLC_PACKAGE) -> str:
    """The solc-js package version (part of the cache key)."""
    meta = json.loads((package / "package.json").read_text())
    return str(meta["version"])


def compile_standard(sources: dict[str, str], settings: dict[str, Any], *,
                     package: Path = SOLC_PACKAGE) -> dict[str, CompiledContract]:
    """Compile ``{source unit name: source text}`` with ``settings`` and the solc-js ``package``.

    Returns ``{"<source unit>:<ContractName>": CompiledContract}`` for every contract (including
    libraries and interfaces). Cached on disk; a cache hit does not start node.
    """
    std_input = {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": {**settings, "outputSelection": _OUTPUT_SELECTION},
    }
    payload = json.dumps(std_input, sort_keys=True)
    version = compiler_version(package)
    key = hashlib.sha256((version + "\n" + payload).encode()).hexdigest()
    path = cache_dir() / f"{key}.json"
    if path.exists():
        output = json.loads(path.read_text())
    else:
        output = _run_solc(payload, package)
        write_atomic(path, json.dumps(output))
    return _contracts(output)


def _run_solc(payload: str, package: Path) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise SolcError("node not found on PATH (needed to run solc-js)")
    if not package.exists():
        raise SolcError(f"solc-js not installed at {package}: run ./setup.sh")
    proc = subprocess.run(
        [node, "-e", _NODE_SCRIPT, str(package)],
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


# ------------------------------------------------------------------------------ Aave v3.6

# aave-v3-origin v3.6.0 foundry.toml: solc 0.8.27, evm_version shanghai, optimizer 200 runs, no
# via-ir. Its remappings (remappings.txt) point at git submodules; the npm package depends on
# @bgd-labs/solidity-utils, which brings OpenZeppelin 5.x as npm packages (no ``contracts/`` level).
AAVE36_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "shanghai",
    "metadata": {"bytecodeHash": "none"},
}


def _openzeppelin5(package: str) -> str:
    """``node_modules``-relative folder of the OpenZeppelin 5.x ``package`` (``contracts`` or
    ``contracts-upgradeable``) that @bgd-labs/solidity-utils depends on: npm nests it under that
    package when another dependency (Uniswap v3 periphery: OZ 3.4) holds the top-level name."""
    for folder in (f"@bgd-labs/solidity-utils/node_modules/@openzeppelin/{package}", f"@openzeppelin/{package}"):
        meta = NODE_MODULES / folder / "package.json"
        if meta.exists() and str(json.loads(meta.read_text())["version"]).startswith("5."):
            return folder
    raise SolcError(f"OpenZeppelin 5.x @openzeppelin/{package} not installed under {NODE_MODULES}: run ./setup.sh")


def aave36_remappings() -> list[str]:
    """aave-v3-origin's remappings onto the npm packages (its own point at git submodules)."""
    oz, oz_up = _openzeppelin5("contracts"), _openzeppelin5("contracts-upgradeable")
    return [
        f"openzeppelin-contracts/contracts/={oz}/",
        f"openzeppelin-contracts-upgradeable/contracts/={oz_up}/",
        f"@openzeppelin/contracts/={oz}/",  # OZ-upgradeable's own imports
        f"@openzeppelin/contracts-upgradeable/={oz_up}/",
        "solidity-utils/=@bgd-labs/solidity-utils/src/",
    ]


AAVE36_TARGETS: tuple[str, ...] = tuple(
    f"{AAVE36_PACKAGE}/src/contracts/{path}.sol" for path in (
        "protocol/configuration/PoolAddressesProvider",
        "protocol/configuration/ACLManager",
        "instances/PoolInstance",
        "instances/PoolConfiguratorInstance",
        "instances/ATokenInstance",
        "instances/VariableDebtTokenInstance",
        "misc/DefaultReserveInterestRateStrategyV2",
        "misc/AaveOracle",
        "helpers/AaveProtocolDataProvider",
        "mocks/oracle/CLAggregators/MockAggregator",
        "mocks/tokens/MintableERC20",
    )
)
_IMPORT = re.compile(r"""^\s*import\s+(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]""", re.MULTILINE)


def _remap(path: str, remappings: list[str]) -> str:
    best = ("", "")
    for mapping in remappings:
        prefix, target = mapping.split("=", 1)
        if path.startswith(prefix) and len(prefix) > len(best[0]):
            best = (prefix, target)
    return best[1] + path[len(best[0]):] if best[0] else path


def _closure(targets: tuple[str, ...], remappings: list[str]) -> dict[str, str]:
    """Every source unit the targets import, transitively, named as solc names them
    (``node_modules``-relative paths, relative imports normalised, remappings applied)."""
    sources: dict[str, str] = {}
    todo = list(targets)
    while todo:
        unit = todo.pop()
        if unit in sources:
            continue
        path = NODE_MODULES / unit
        if not path.exists():
            raise SolcError(f"source {unit} not found under {NODE_MODULES}: run ./setup.sh")
        text = path.read_text()
        sources[unit] = text
        for imported in _IMPORT.findall(text):
            if imported.startswith("."):
                name = posixpath.normpath(posixpath.join(posixpath.dirname(unit), imported))
            else:
                name = _remap(imported, remappings)
            todo.append(name)
    return sources


def compile_aave36() -> dict[str, CompiledContract]:
    """Aave v3.6.0 (npm ``@aave-dao/aave-v3-origin`` 3.6.0) with the upstream settings.

    Keys are contract names (``PoolInstance``, ``LiquidationLogic``, ``MockAggregator``, …);
    every name among the compiled sources is unique."""
    if not (NODE_MODULES / AAVE36_PACKAGE).exists():
        raise SolcError(f"{AAVE36_PACKAGE} not installed under {NODE_MODULES}: run ./setup.sh")
    remappings = aave36_remappings()
    sources = _closure(AAVE36_TARGETS, remappings)
    compiled = compile_standard(sources, {**AAVE36_SETTINGS, "remappings": remappings}, package=SOLC_0827_PACKAGE)
    by_name: dict[str, CompiledContract] = {}
    for contract in compiled.values():
        if contract.name in by_name and contract.bytecode != by_name[contract.name].bytecode:
            raise SolcError(f"two different contracts named {contract.name} in the Aave v3.6 sources")
        by_name[contract.name] = contract
    return by_name

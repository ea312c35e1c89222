"""Where liqrisk finds the npm packages and keeps its caches — in a checkout and in a wheel.

Two layouts are supported:

- **a source checkout** (``./setup.sh``, editable install): ``node_modules/`` and the cache
  ``.liqrisk-cache/`` sit next to ``pyproject.toml``, so every worktree has its own devnet state;
- **an installed wheel**: nothing is ever written into site-packages. The npm packages come from
  ``$LIQRISK_NODE_MODULES`` or from where ``liqrisk setup`` put them (the user data dir), and
  caches go to the user cache dir (:func:`platformdirs.user_cache_dir`).

``LIQRISK_NODE_MODULES`` and ``LIQRISK_CACHE_DIR`` override both layouts.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
"""The directory holding the ``chain`` package: the checkout root, or site-packages in a wheel."""

NODE_MODULES_ENV = "LIQRISK_NODE_MODULES"
CACHE_DIR_ENV = "LIQRISK_CACHE_DIR"
APP_NAME = "liqrisk"

MIN_NODE_MAJOR = 20
"""anvil 1.7.1's platform packages declare ``"engines": {"node": ">=20"}``."""

NPM_PACKAGES: dict[str, str] = {
    "@aave-dao/aave-v3-origin": "3.6.0",
    "@aave/core-v3": "1.19.3",
    "@foundry-rs/anvil": "1.7.1",
    "@morpho-org/morpho-blue": "1.0.0",
    "@uniswap/v3-core": "1.0.1",
    "@uniswap/v3-periphery": "1.4.4",
    "solc": "0.8.19",
    "solc-0.8.27": "npm:solc@0.8.27",
}
"""The npm packages the devnet needs (must equal ``package.json``'s dependencies; a test checks)."""


def is_checkout() -> bool:
    """True when running from a source checkout (``pyproject.toml`` beside the packages)."""
    return (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / "chain" / "__init__.py").is_file()


def user_npm_prefix() -> Path:
    """Where ``liqrisk setup`` installs the npm packages for an installed wheel."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "npm"


def node_modules_dir() -> Path:
    """The ``node_modules`` folder to use (it may not exist yet: callers say how to get it)."""
    override = os.environ.get(NODE_MODULES_ENV)
    if override:
        return Path(override).expanduser()
    if is_checkout():
        return PACKAGE_ROOT / "node_modules"
    return user_npm_prefix() / "node_modules"


def cache_root() -> Path:
    """Root of liqrisk's caches (solc output, devnet state, RPC cache, account index)."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    if is_checkout():
        return PACKAGE_ROOT / ".liqrisk-cache"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir(APP_NAME, appauthor=False))


# Platform package of anvil, as the npm wrapper resolves it (npm @foundry-rs/anvil 1.7.1,
# const.mjs BINARY_DISTRIBUTION_PACKAGES: darwin x64/arm64, linux x64/arm64, win32 x64).
_ANVIL_OS = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}
_ANVIL_ARCH = {"x86_64": "amd64", "amd64": "amd64", "x64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
_ANVIL_SUPPORTED = {("linux", "amd64"), ("linux", "arm64"), ("darwin", "amd64"), ("darwin", "arm64"),
                    ("win32", "amd64")}


class UnsupportedPlatform(RuntimeError):
    """anvil's npm package has no binary for this OS / CPU."""


def anvil_platform_package(system: str | None = None, machine: str | None = None) -> str:
    """npm package holding the native anvil for this OS/CPU, e.g. ``@foundry-rs/anvil-darwin-arm64``."""
    system = platform.system() if system is None else system
    machine = platform.machine() if machine is None else machine
    os_name, arch = _ANVIL_OS.get(system), _ANVIL_ARCH.get(machine.lower())
    if os_name is None or arch is None or (os_name, arch) not in _ANVIL_SUPPORTED:
        raise UnsupportedPlatform(
            f"anvil's npm package has no binary for {system} {machine} (it ships linux/macOS x86_64 "
            f"and arm64, Windows x86_64); install anvil yourself (https://getfoundry.sh) and set "
            f"LIQRISK_ANVIL to its path")
    return f"@foundry-rs/anvil-{os_name}-{arch}"


def anvil_binary_path(node_modules: Path | None = None, system: str | None = None,
                      machine: str | None = None) -> Path:
    """Path of the native anvil inside ``node_modules`` for this platform (may not exist)."""
    node_modules = node_modules_dir() if node_modules is None else node_modules
    package = anvil_platform_package(system, machine)
    exe = "anvil.exe" if package.endswith("win32-amd64") else "anvil"
    return node_modules.joinpath(*package.split("/"), "bin", exe)


def missing_npm_hint() -> str:
    """How to get the npm packages, for the layout at hand."""
    if is_checkout() and NODE_MODULES_ENV not in os.environ:
        return "run ./setup.sh (it installs the npm packages of package.json)"
    return (f"run `liqrisk setup` (installs the npm packages into {user_npm_prefix()}) or set "
            f"{NODE_MODULES_ENV} to a node_modules folder holding {', '.join(sorted(NPM_PACKAGES))}")


class SetupError(RuntimeError):
    """Node/npm missing or too old, or ``npm install`` failed; the message says what to do."""


def node_version() -> tuple[int, ...]:
    """Version of ``node`` on PATH; :class:`SetupError` if it is missing or older than 20."""
    import shutil
    import subprocess

    node = shutil.which("node")
    if node is None:
        raise SetupError(f"Node.js >= {MIN_NODE_MAJOR} is needed for the devnet's npm packages; `node` is not on PATH "
                         "(https://nodejs.org)")
    try:
        text = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
        version = tuple(int(part) for part in text.strip().lstrip("v").split("."))
    except (OSError, ValueError, subprocess.SubprocessError) as exc:
        raise SetupError(f"cannot run `{node} --version`: {exc}") from None
    if not version or version[0] < MIN_NODE_MAJOR:
        raise SetupError(f"Node.js {text.strip()} found at {node}; anvil 1.7.1 needs Node.js >= {MIN_NODE_MAJOR}")
    return version


def install_npm_packages(prefix: Path) -> Path:
    """``npm install`` :data:`NPM_PACKAGES` into ``prefix``; returns ``prefix / "node_modules"``.

    Writes a private ``package.json`` there (never into the installed package); idempotent.
    """
    import json
    import shutil
    import subprocess

    node_version()
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("npm is needed to install the devnet's packages; `npm` is not on PATH")
    prefix.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "liqrisk-npm", "private": True, "description": "npm packages of the liqrisk devnet",
                "dependencies": NPM_PACKAGES}
    (prefix / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=prefix,
                          capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise SetupError(f"npm install in {prefix} failed (exit {done.returncode}):\n{tail}")
    node_modules = prefix / "node_modules"
    binary = anvil_binary_path(node_modules)
    if not binary.is_file():
        raise SetupError(f"npm install finished but {binary} is missing (npm skipped anvil's platform package?)")
    return node_modules


__all__ = [
    "CACHE_DIR_ENV", "MIN_NODE_MAJOR", "NODE_MODULES_ENV", "NPM_PACKAGES", "PACKAGE_ROOT", "SetupError",
    "UnsupportedPlatform", "anvil_binary_path", "anvil_platform_package", "cache_root", "install_npm_packages",
    "is_checkout", "missing_npm_hint", "node_modules_dir", "node_version", "user_npm_prefix",
]

"""Installs anywhere: the wheel, installed in a fresh venv, runs ``liqrisk demo`` from a foreign
directory with the npm packages given by ``LIQRISK_NODE_MODULES``, finds its scenarios as package
data, keeps its caches under the user cache dir and writes nothing into site-packages.

Also: the anvil binary is resolved per platform from the npm package, ``package.json`` and the
packages ``liqrisk setup`` installs are the same, and the wheel holds every package of the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from chain.locations import (NPM_PACKAGES, UnsupportedPlatform, anvil_binary_path, anvil_platform_package,
                             node_modules_dir)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("system", "machine", "package"), [
    ("Linux", "x86_64", "@foundry-rs/anvil-linux-amd64"),
    ("Linux", "aarch64", "@foundry-rs/anvil-linux-arm64"),
    ("Darwin", "arm64", "@foundry-rs/anvil-darwin-arm64"),
    ("Darwin", "x86_64", "@foundry-rs/anvil-darwin-amd64"),
    ("Windows", "AMD64", "@foundry-rs/anvil-win32-amd64"),
])
def test_anvil_platform_package(system: str, machine: str, package: str) -> None:
    assert anvil_platform_package(system, machine) == package
    exe = anvil_binary_path(Path("nm"), system, machine)
    assert exe.parts[:3] == ("nm", "@foundry-rs", package.split("/")[1])
    assert exe.name == ("anvil.exe" if system == "Windows" else "anvil")


@pytest.mark.parametrize(("system", "machine"), [("Windows", "ARM64"), ("FreeBSD", "amd64"), ("Linux", "riscv64")])
def test_unsupported_platform_is_one_clear_message(system: str, machine: str) -> None:
    with pytest.raises(UnsupportedPlatform, match=f"no binary for {system} {machine}.*LIQRISK_ANVIL"):
        anvil_platform_package(system, machine)


def test_platform_package_of_this_machine_is_the_one_npm_installed() -> None:
    """The package npm resolved for this machine is the one liqrisk looks for."""
    installed = sorted(p.name for p in (node_modules_dir() / "@foundry-rs").glob("anvil-*"))
    assert installed == [anvil_platform_package().split("/")[1]]
    assert anvil_binary_path().is_file()


def test_npm_packages_match_package_json() -> None:
    manifest = json.loads((ROOT / "package.json").read_text())
    assert manifest["dependencies"] == NPM_PACKAGES


def _tracked_tree(dest: Path) -> Path:
    """The checkout's files as a fresh clone would have them (tracked + new, not ignored)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listing):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def _snapshot_files(root: Path) -> dict[str, int]:
    """Files under ``root`` (bytecode caches aside: Python writes those) and their sizes."""
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.slow
def test_wheel_in_fresh_venv_runs_the_demo(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to build the wheel from")
    src = _tracked_tree(tmp_path / "src")
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
                    "-w", str(dist), str(src)], check=True, capture_output=True)
    (wheel,) = dist.glob("liqrisk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # Every package of the checkout ships (pyproject lists them explicitly), with its typing marker.
    packages = sorted({str(p.parent.relative_to(ROOT)).replace(os.sep, "/")
                       for top in ("risk", "chain", "liqrisk", "abis") for p in (ROOT / top).rglob("__init__.py")})
    for package in packages:
        assert f"{package}/__init__.py" in names, f"{package} is missing from the wheel"
    for marker in ("risk/py.typed", "chain/py.typed", "liqrisk/py.typed", "abis/py.typed"):
        assert marker in names
    shipped = sorted(n.removeprefix("liqrisk/scenarios/") for n in names if n.startswith("liqrisk/scenarios/"))
    assert shipped == sorted(p.name for p in (ROOT / "scenarios").glob("*.toml"))
    assert "liqrisk-0.1.0.dist-info/licenses/LICENSE" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    # Dependencies come from pip's cache (setup.sh fetched the same ones) or the index.
    subprocess.run([str(bindir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "--prefer-binary", str(wheel)], check=True, capture_output=True)
    site = Path(subprocess.run([str(bindir / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               capture_output=True, text=True, check=True).stdout.strip())
    before = _snapshot_files(site)

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIQRISK_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_DATA_HOME=str(home / ".local/share"),
               LIQRISK_NODE_MODULES=str(node_modules_dir()))
    # The compiled-contract cache is seeded (as test_cli does) so solc-js does not recompile Morpho Blue.
    from chain.devnet.solc import cache_dir as solc_cache_dir

    user_cache = home / ".cache" / "liqrisk"
    if solc_cache_dir().is_dir():
        shutil.copytree(solc_cache_dir(), user_cache / "solc")

    def liqrisk(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([str(bindir / "liqrisk"), *args], cwd=work, env=env, capture_output=True, text=True,
                              timeout=300)
        if ok:
            assert done.returncode == 0, done.stdout + done.stderr
        return done

    where = subprocess.run([str(bindir / "python"), "-c", "import liqrisk, chain, risk; print(liqrisk.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert Path(where.strip()).is_relative_to(site)
    assert "liqrisk" in liqrisk("--version").stdout

    demo = liqrisk("demo", "--borrowers", "40", "--paths", "40", "--out", "demo", "-q")
    assert demo.stdout == "" and demo.stderr == ""  # -q: the result is the report folder
    (report,) = (work / "demo").glob("*-b*/report.json")
    document = json.loads(report.read_text())
    assert document["source"]["kind"] == "devnet" and document["scenarios"]  # the shipped replay ran
    assert (report.parent / "report.html").is_file()
    # Without the npm packages: one clear message saying how to get them, no traceback.
    env.pop("LIQRISK_NODE_MODULES")
    failed = liqrisk("devnet", "up", ok=False)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert "liqrisk setup" in failed.stderr and "LIQRISK_NODE_MODULES" in failed.stderr

    assert _snapshot_files(site) == before, "liqrisk wrote into site-packages"

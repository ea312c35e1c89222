"""The devnet's plugin hook (:mod:`chain.devnet.plugins`): Sky, Liquity v2 and Euler v2 register
their devnet doubles from their own ``deploy_*.py``, in the order that keeps a seed's addresses, and
``chain/devnet/core.py`` names none of them; and the seam's guard: no shared module of risk/, chain/,
liqrisk/ names a plugin venue (:mod:`tests.plugin_footprint`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chain.devnet import plugins
from chain.devnet.core import DevnetDeployment
from tests.plugin_footprint import PLUGIN_VENUES, code_lines, footprint, python_files, shared_files

ROOT = Path(__file__).resolve().parents[2]


def test_the_plugin_venues_register_from_their_own_files_in_deploy_order():
    found = {p.key: p for p in plugins.devnet_venues()}
    assert {"sky", "liquity", "euler"} <= set(found)
    assert found["sky"].module == "chain.devnet.deploy_maker"
    assert found["liquity"].module == "chain.devnet.deploy_liquity"
    assert found["euler"].module == "chain.devnet.deploy_euler"
    order = [p.key for p in plugins.devnet_venues()]
    # Sky before the Uniswap pools, Liquity then Euler after them: the devnet's historical order
    assert found["sky"].order < plugins.UNISWAP_ORDER <= found["liquity"].order < found["euler"].order
    assert order.index("sky") < order.index("liquity") < order.index("euler")


def test_a_key_taken_by_another_module_or_a_core_field_is_refused():
    sky = next(p for p in plugins.devnet_venues() if p.key == "sky")
    with pytest.raises(ValueError, match="registered twice"):
        plugins.register_devnet_venue(plugins.DevnetVenue("sky", deploy=sky.deploy, from_dict=sky.from_dict,
                                                          module="somewhere.else"))
    with pytest.raises(ValueError, match="core deployment field"):
        plugins.register_devnet_venue(plugins.DevnetVenue("aave", deploy=sky.deploy, from_dict=sky.from_dict,
                                                          module="somewhere.else"))


def test_deployment_reads_plugin_parts_as_attributes():
    dep = DevnetDeployment(rpc_url="http://127.0.0.1:1", chain_id=31337, deployer="0x" + "1" * 40,
                           lender="0x" + "2" * 40, tokens={}, decimals={}, aave=None, morpho=None,  # type: ignore[arg-type]
                           comet_double="0x" + "3" * 40, multicall3="0x" + "4" * 40, deploy_block=1,
                           parts={"sky": "the sky part"})
    assert dep.sky == "the sky part" and dep.euler is None  # registered, not deployed: None
    with pytest.raises(AttributeError, match="no attribute 'no_such_part'"):
        dep.no_such_part  # noqa: B018


def _git_checkout() -> bool:
    return (ROOT / ".git").exists()


@pytest.mark.skipif(not _git_checkout(), reason="needs a git checkout (the footprint is measured with git)")
def test_shared_modules_name_no_plugin_venue():
    """The seam's proof: no code line of a shared module (every Python file of risk/, chain/, liqrisk/
    that is no plugin venue's own) names Sky, Liquity v2, Euler v2, Fluid or Aave V4
    (:mod:`tests.plugin_footprint`, the count the README's "Adding a venue" states)."""
    hits = {name: files for name, files in footprint(None).items() if files}
    assert not hits, "shared modules name a plugin venue (put the code in the venue's own files): " + "; ".join(
        f"{name}: " + ", ".join(f"{path}:{line}" for path, lines in files.items() for line in lines)
        for name, files in hits.items())


@pytest.mark.skipif(not _git_checkout(), reason="needs a git checkout (the footprint is measured with git)")
def test_the_footprint_splits_own_files_from_shared_ones():
    files = python_files(None)
    shared = set(shared_files(PLUGIN_VENUES[0], files))
    for path in ("chain/scan.py", "chain/markets.py", "chain/devnet/core.py", "risk/snapshot.py", "risk/rules.py",
                 "risk/book.py", "liqrisk/report.py", "liqrisk/cli.py", "chain/venues/__init__.py"):
        assert path in files and path in shared, path
    for path in ("chain/sky_vaults.py", "risk/venues/sky_vault.py", "chain/devnet/deploy_maker.py",
                 "chain/liquity_v2.py", "liqrisk/venues/liquity_v2.py", "risk/venues/liquity_v2.py",
                 "chain/euler_v2.py", "risk/fluid_vaults.py", "chain/venues/aave_v4.py"):
        assert path in files and path not in shared, path


@pytest.mark.parametrize("venue, line", [
    ("Sky", "from chain.sky_vaults import SkySource"), ("Sky", "    out += [sky_source(s) for s in sky]"),
    ("Sky", "x = dss.vat(ilk)"), ("Liquity v2", "liquity_branches: tuple = ()"),
    ("Euler v2", "    evc = EulerSource(a).evc"), ("Fluid", "from risk.fluid_vaults import x"),
    ("Aave V4", "ok = rule == 'aave_v4'"), ("Aave V4", "spokes = hub.spokes()"),
])
def test_the_guard_catches_a_venue_in_code_not_in_comments_or_docstrings(venue, line):
    """The check can fail: the venue's names in a code line are caught; the same words in a comment or a
    docstring are not (documentation may name the venues)."""
    pattern = re.compile(next(v for v in PLUGIN_VENUES if v.name == venue).names, re.IGNORECASE)
    src = f'"""Module naming {line.strip()!r} in its docstring."""\n\n# {line.strip()}\n{line.lstrip()}\n'
    code = code_lines(src)
    assert [c for _, c in code if pattern.search(c)] == [line.lstrip()]
    assert not [c for _, c in code_lines(f'"""{line.strip()}"""\n# {line.strip()}\nx = 1\n') if pattern.search(c)]

"""The devnet's plugin hook (:mod:`chain.devnet.plugins`): Sky, Liquity v2 and Euler v2 register
their devnet doubles from their own ``deploy_*.py``, in the order that keeps a seed's addresses, and
``chain/devnet/core.py`` names none of them."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import pytest

from chain.devnet import plugins
from chain.devnet.core import DevnetDeployment

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


def _code(path: Path) -> str:
    """The module's code without comments and docstrings."""
    src = path.read_text()
    drop: set[int] = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for st in node.body:
                if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and isinstance(st.value.value, str):
                    drop.update(range(st.lineno, (st.end_lineno or st.lineno) + 1))
    comments = {t.start[0]: t.start[1] for t in tokenize.generate_tokens(io.StringIO(src).readline)
                if t.type == tokenize.COMMENT}
    return "\n".join(line[:comments.get(n, len(line))] for n, line in enumerate(src.splitlines(), 1) if n not in drop)


ALL = r"euler|liquity|fluid|\bsky|dss"


@pytest.mark.parametrize("path, names", [
    ("chain/devnet/core.py", ALL), ("chain/devnet/markets.py", ALL), ("risk/rules.py", ALL),
    ("chain/scan.py", r"euler|liquity|fluid"),  # Sky keeps scan_snapshot's ``sky=`` shorthand there
    ("risk/snapshot.py", r"euler|fluid|\bsky|dss"),  # Liquity's branch state is still a Snapshot field
])
def test_shared_modules_name_no_plugin_venue(path, names):
    """The seam's proof, kept: no code line of these shared modules names a plugin venue (the two
    exceptions are the ones the module docstrings and the issue note list)."""
    code = _code(ROOT / path)
    hits = [line.strip() for line in code.splitlines() if re.search(names, line, re.IGNORECASE)]
    assert not hits, f"{path} names a plugin venue: {hits}"

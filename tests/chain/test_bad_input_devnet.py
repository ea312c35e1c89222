"""Bad input that needs a chain (issue 13, item 4): ``--block`` past the head, before the
deployment (every read reverts or finds no code), at genesis, and other block oddities, against the
session devnet through ``--source devnet``. One clear message naming ``--block`` or the block,
never a traceback, never a snapshot. Same harness and counts as ``tests/liqrisk/test_bad_input.py``."""

from __future__ import annotations

import json

import pytest

from tests.liqrisk.bad_input import C, check_case


def _state(devnet) -> str:
    return json.dumps({"pid": devnet.process.pid, "port": devnet.process.port, "rpc_url": devnet.rpc_url,
                       "deployment": json.loads(devnet.deployment.to_json())})


@pytest.fixture
def head(devnet) -> int:
    return int(devnet.rpc.request("eth_blockNumber", []), 16)


# (id, --block value as a function of the head, texts the message must contain)
BLOCKS = [
    ("past-head", lambda h: str(h + 1_000), ("block",)),
    ("just-past-head", lambda h: str(h + 1), ("block",)),
    ("far-past-head", lambda h: str(2**40), ("block",)),
    ("hex-past-head", lambda h: hex(h + 50), ("block",)),
    ("genesis", lambda h: "0", ("block",)),
    ("before-deployment", lambda h: "1", ("block",)),
    ("too-big", lambda h: str(2**64), ("--block",)),
    ("negative", lambda h: "-3", ("--block",)),
    ("pending", lambda h: "pending", ("--block",)),
    ("text", lambda h: "head", ("--block",)),
]
COMMANDS = [("scan", ("scan", "--source", "devnet", "--out", "{tmp}/s.json")),
            ("bands", ("bands", "--source", "devnet")),
            ("cascade", ("cascade", "--source", "devnet", "--drawdowns", "0.1")),
            ("report", ("report", "--source", "devnet", "--out", "{tmp}/r", "--paths", "0", "--no-charts"))]
CASES = [(c, b) for c in COMMANDS for b in BLOCKS]


@pytest.mark.parametrize(("command", "block"), CASES, ids=[f"{c[0]}-{b[0]}" for c, b in CASES])
def test_bad_block_on_the_devnet_is_one_clear_error(devnet, head, tmp_path, monkeypatch, command, block):
    name, args = command
    label, value, needles = block
    for var in ("ETH_RPC_URL", "LIQRISK_WEBHOOK_URL", "LIQRISK_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    case = C(f"devnet-block-{name}-{label}", *args, "--block", value(head), "-q", needles=needles,
             files={"cache/devnet/state.json": _state(devnet)})
    check_case(case, tmp_path, "devnet-block", {"LIQRISK_CACHE_DIR": str(tmp_path / "cache")})
    assert not (tmp_path / "s.json").exists(), "no snapshot is written for a bad block"
    assert int(devnet.rpc.request("eth_blockNumber", []), 16) == head

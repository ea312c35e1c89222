"""The market file drives the scan on any network: the session devnet forked by an anvil answering
another chain id (8453, Base's), described by a generated market file, scans through
:func:`chain.scan.scan_network` and ``liqrisk scan --source rpc --markets FILE`` exactly as the
devnet itself does through the shorthand sources; a file whose chain id is not the node's is refused
with the file and the field named (library and CLI)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chain.anvil import start_anvil
from chain.devnet.markets import devnet_market_file, to_toml
from chain.markets import MarketFileError, load_market_file
from chain.scan import devnet_sources, scan_network, scan_snapshot
from chain.transport import HttpTransport
from liqrisk.cli import cli
from risk.snapshot import Snapshot

pytestmark = pytest.mark.devnet

OTHER_CHAIN_ID = 8453


@pytest.fixture(scope="module")
def other_chain(devnet):
    """An anvil forking the session devnet at its current block, with chain id 8453."""
    node = start_anvil(chain_id=OTHER_CHAIN_ID, extra_args=("--fork-url", devnet.rpc_url))
    try:
        yield node
    finally:
        node.stop()


def _file(tmp_path, deployment, name: str, chain_id: int):
    data = devnet_market_file(deployment, network="base-devnet")
    data["networks"]["base-devnet"]["chain_id"] = chain_id
    path = tmp_path / name
    path.write_text(to_toml(data))
    return path


def test_other_chain_id_scans_through_its_market_file(other_chain, devnet, devnet_deployment, tmp_path):
    path = _file(tmp_path, devnet_deployment, "base-devnet.toml", OTHER_CHAIN_ID)
    with HttpTransport(other_chain.rpc_url) as transport:
        assert transport.chain_id == OTHER_CHAIN_ID
        snap = scan_network(transport, load_market_file(path), where=str(path))
    with HttpTransport(devnet.rpc_url) as transport:
        same_block = scan_snapshot(transport, block=snap.block_number, **devnet_sources(devnet_deployment))
    assert snap.chain_id == OTHER_CHAIN_ID and same_block.chain_id == devnet_deployment.chain_id
    assert {m.venue for m in snap.markets} >= {"aave_v30", "morpho_blue", "compound_v3", "sky_vault"}
    assert snap.positions and snap.model_copy(update={"chain_id": 0, "source": ""}) == same_block.model_copy(
        update={"chain_id": 0, "source": ""})


def test_chain_id_mismatch_names_file_and_field(other_chain, devnet_deployment, tmp_path):
    path = _file(tmp_path, devnet_deployment, "wrong-chain.toml", 10)
    market_file = load_market_file(path)
    with HttpTransport(other_chain.rpc_url) as transport:
        with pytest.raises(MarketFileError) as exc:
            scan_network(transport, market_file, where=str(path))
        assert str(path) in str(exc.value) and "chain 8453" in str(exc.value)
        assert "networks.*.chain_id = 8453" in str(exc.value)
        with pytest.raises(MarketFileError, match=r"networks\.base-devnet\.chain_id is 10, but the node answers "
                                                  r"chain 8453"):
            scan_network(transport, market_file, network="base-devnet", where=str(path))


def test_cli_source_rpc_reads_the_users_market_file(other_chain, devnet_deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LIQRISK_MARKETS", raising=False)
    runner = CliRunner()
    good = _file(tmp_path, devnet_deployment, "base-devnet.toml", OTHER_CHAIN_ID)
    out = tmp_path / "snap.json"
    result = runner.invoke(cli, ["scan", "--source", "rpc", "--rpc-url", other_chain.rpc_url, "--markets", str(good),
                                 "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    snap = Snapshot.from_json(out.read_text())
    assert snap.chain_id == OTHER_CHAIN_ID and any(m.venue == "sky_vault" for m in snap.markets)
    bad = _file(tmp_path, devnet_deployment, "wrong-chain.toml", 10)
    result = runner.invoke(cli, ["scan", "--source", "rpc", "--rpc-url", other_chain.rpc_url, "--markets", str(bad),
                                 "--out", str(tmp_path / "no.json"), "-q"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert str(bad) in result.stderr and "chain 8453" in result.stderr
    # the shipped file has no network with chain id 8453's devnet contracts: Base's entry is chosen
    # and its (mainnet) addresses have no code on the fork: one clear error, never a traceback
    result = runner.invoke(cli, ["scan", "--source", "rpc", "--rpc-url", other_chain.rpc_url,
                                 "--out", str(tmp_path / "no.json"), "-q"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: "), result.output


def test_devnet_up_writes_its_market_file(devnet_deployment, tmp_path):
    """The generated file is valid TOML the loader accepts and lists every deployed market."""
    path = _file(tmp_path, devnet_deployment, "devnet.toml", devnet_deployment.chain_id)
    net = load_market_file(path).networks["base-devnet"]
    assert [m.kind for m in net.markets] == ["aave_v3", "aave_v3", "morpho_blue", "compound_v3", "sky_vaults",
                                             "liquity_v2", "euler_v2", "fluid_vault", "aave_v4"]  # the plugin doubles in deployment order
    assert json.loads(net.model_dump_json())["chain_id"] == devnet_deployment.chain_id


def test_scenario_sweep_scans_two_networks_as_dask_tasks(other_chain, devnet, devnet_deployment, tmp_path,
                                                           monkeypatch):
    """One sweep over two networks (the devnet, chain 31337, and its fork answering 8453), each source
    naming its node by environment variable (`rpc_url_env`): with `--workers 2` the two RPC scans are
    tasks of the embedded cluster, and the JSON output equals the run in this process."""
    import liqrisk.scaleout as scaleout

    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LIQRISK_MARKETS", raising=False)
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    monkeypatch.delenv("ETH_RPC_URL", raising=False)
    monkeypatch.setenv("LIQRISK_TEST_DEVNET_URL", devnet.rpc_url)
    monkeypatch.setenv("LIQRISK_TEST_BASE_URL", other_chain.rpc_url)
    data = devnet_market_file(devnet_deployment, network="devnet")
    data["networks"]["base-devnet"] = {**devnet_market_file(devnet_deployment, network="base-devnet")["networks"][
        "base-devnet"], "chain_id": OTHER_CHAIN_ID}
    (tmp_path / "markets.toml").write_text(to_toml(data))
    files = []
    for name, env, node in (("devnet", "LIQRISK_TEST_DEVNET_URL", devnet), ("base", "LIQRISK_TEST_BASE_URL", other_chain)):
        with HttpTransport(node.rpc_url) as transport:
            block = int(transport.request("eth_blockNumber", []), 16)
        path = tmp_path / f"{name}.toml"
        path.write_text(f'name = "{name} grid"\n[source]\nkind = "rpc"\nmarkets = "markets.toml"\n'
                        f'rpc_url_env = "{env}"\nblock = {block}\n[driver]\nasset = "WETH"\n'
                        '[shock]\nkind = "grid"\ndrawdowns = [0.1, 0.3, 0.5]\n')
        files.append(str(path))
    reads: list[tuple[str, int]] = []
    real = scaleout.read_rpc_sources

    def recording(requests, runner):  # the real function, its calls recorded
        reads.append((type(runner).__name__, len(requests)))
        return real(requests, runner)

    monkeypatch.setattr(scaleout, "read_rpc_sources", recording)
    runner = CliRunner()
    here = runner.invoke(cli, ["scenario", "run", *files, "--format", "json", "-q"])
    assert here.exit_code == 0, here.output
    there = runner.invoke(cli, ["scenario", "run", *files, "--format", "json", "-q", "--workers", "2"])
    assert there.exit_code == 0, there.output
    assert reads == [("DaskRunner", 2)]  # in process the sources are read one by one, on the cluster as tasks
    docs = json.loads(here.stdout)["scenarios"]
    assert json.loads(there.stdout)["scenarios"] == docs
    assert [d["chain_id"] for d in docs] == [devnet_deployment.chain_id, OTHER_CHAIN_ID], [d.get("source") for d in docs]
    assert all(d["rows"] for d in docs)
    # A source naming a variable that is not set: one clear error naming the variable.
    monkeypatch.delenv("LIQRISK_TEST_BASE_URL")
    failed = runner.invoke(cli, ["scenario", "run", *files, "--format", "json", "-q", "--workers", "2"])
    assert failed.exit_code == 1 and failed.stderr.startswith("Error: ") and failed.stderr.count("\n") == 1
    assert "$LIQRISK_TEST_BASE_URL" in failed.stderr, failed.stderr

"""The market file: the shipped file is valid and complete, a bad file gives one clear message
naming file and field, and the network is chosen by the chain id the node answers."""

from __future__ import annotations

import tomllib

import pytest

from chain.anvil import start_anvil
from chain.markets import SHIPPED_MARKET_FILE, MarketFileError, load_market_file, parse_market_file
from chain.transport import HttpTransport


def test_shipped_file_lists_the_main_networks_and_markets():
    mf = load_market_file()
    assert {n: v.chain_id for n, v in mf.networks.items()} == {"ethereum": 1, "arbitrum": 42161, "base": 8453,
                                                                 "optimism": 10}
    eth = {m.id: m.kind for m in mf.networks["ethereum"].markets}
    assert eth == {"aave-core": "aave_v3", "aave-prime": "aave_v3", "aave-etherfi": "aave_v3", "spark": "aave_v3",
                   "morpho-blue": "morpho_blue", "comet-usdc": "compound_v3", "sky": "sky_vaults",
                   "liquity-v2": "liquity_v2", "euler-prime": "euler_v2",
                   "fluid-t1": "fluid_vault", "aave-v4": "aave_v4"}
    for name, net in mf.networks.items():
        kinds = {m.kind for m in net.markets}
        assert "aave_v3" in kinds and "compound_v3" in kinds, name
        for m in net.markets:
            assert m.checked, f"{name}/{m.id}: no address-book reference"
    assert "morpho_blue" in {m.kind for m in mf.networks["base"].markets}


def test_scan_sources_carry_ids_names_and_start_blocks():
    net = load_market_file().networks["ethereum"]
    src = net.scan_sources()
    assert [a.market_id for a in src["aave_pools"]] == ["aave-core", "aave-prime", "aave-etherfi", "spark"]
    assert src["morpho"].start_block == 18883124
    assert src["comets"][0].market_id == "comet-usdc"
    assert "sky" not in src  # a plugin venue: passed in the generic sources, no shorthand of its own
    sky = [s for s in src["sources"] if type(s).__name__ == "SkySource"]
    assert [i.name for i in sky[0].ilks][:2] == ["ETH-A", "ETH-B"]
    liquity = [s for s in src["sources"] if type(s).__name__ == "LiquitySource"]  # a plugin venue: generic sources
    assert len(liquity[0].registries) == 3 and liquity[0].bold.startswith("0x6440")
    euler = [s for s in src["sources"] if type(s).__name__ == "EulerSource"]
    assert euler[0].evc == "0x0C9a3dd6b8F28529d72d7f9cE918D493519EE383" and len(euler[0].vaults) == 3


def _data():
    return tomllib.loads(SHIPPED_MARKET_FILE.read_text())


def _error(data) -> str:
    with pytest.raises(MarketFileError) as exc:
        parse_market_file(data, where="my.toml")
    return str(exc.value)


def test_bad_checksum_names_file_and_field():
    data = _data()
    data["networks"]["ethereum"]["markets"][0]["address"] = "0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9E"
    msg = _error(data)
    assert msg.startswith("my.toml: 1 problem")
    assert "networks.ethereum.markets.0.address" in msg and "EIP-55" in msg


def test_unknown_key_unknown_kind_duplicates_and_missing_fields():
    data = _data()
    data["networks"]["base"]["markets"][0]["adress"] = "0x0"
    assert "networks.base.markets.0.adress: unknown key" in _error(data)
    data = _data()
    data["networks"]["base"]["markets"][0]["kind"] = "no_such_venue"
    assert "unknown kind 'no_such_venue'" in _error(data)
    data = _data()
    data["networks"]["base"]["markets"][1]["id"] = "aave-base"
    assert "repeated: ['aave-base']" in _error(data)
    data = _data()
    del data["networks"]["optimism"]["chain_id"]
    assert "networks.optimism.chain_id: required field is missing" in _error(data)
    data = _data()
    data["networks"]["optimism"]["chain_id"] = 1
    assert "same chain_id 1" in _error(data)


def test_missing_and_non_toml_files(tmp_path):
    with pytest.raises(MarketFileError, match="market file not found"):
        load_market_file(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[networks\n")
    with pytest.raises(MarketFileError, match="bad.toml: not valid TOML"):
        load_market_file(bad)


def test_network_is_the_one_the_node_answers():
    """A devnet with Base's chain id picks the Base network; an unlisted chain id is refused."""
    mf = load_market_file()
    for chain_id, expected in ((8453, "base"), (31337, None)):
        node = start_anvil(chain_id=chain_id)
        try:
            with HttpTransport(node.rpc_url) as transport:
                if expected is None:
                    with pytest.raises(MarketFileError, match="chain 31337, which has no network"):
                        mf.network_for_chain(transport.chain_id)
                else:
                    assert mf.network_for_chain(transport.chain_id)[0] == expected
        finally:
            node.stop()

"""A scan survives bad markets (chain.scan, chain.tokens, chain.pricing) — on the devnet.

The devnet here is its own anvil (module fixture): the normal deployment and a small seeded
population, plus chain.devnet.hostile — HOSTILE TEST CONTRACTS of our own and Morpho's genuine
ERC20Mock (no symbol(), no decimals()), listed as Aave reserves, Morpho markets and a second
Comet double, with oracles and an IRM broken after the positions were opened. Every normal
position must still be read exactly; each hostile one read or skipped as the protocol dictates.
"""

from __future__ import annotations

import json

import pytest

from abis import abi_function
from chain.aave_v3 import Read, run_calls
from chain.devnet import Devnet
from chain.devnet.hostile import deploy_hostile
from chain.morpho_blue import snapshot_market_id
from chain.pricing import UsdAnchors
from chain.scan import CometSource, devnet_sources, scan_snapshot
from chain.transport import HttpTransport
from risk.book import PositionBook
from risk.exact import aave_account_data, aave_position_legs, comet_position_is_liquidatable, morpho_is_healthy
from risk.snapshot import Snapshot

pytestmark = pytest.mark.devnet

N_BORROWERS = 24
SEED = 11


@pytest.fixture(scope="module")
def hostile_net():
    net = Devnet().start()
    try:
        net.deploy()
        net.populate(N_BORROWERS, SEED)
        hostile = deploy_hostile(net)
        yield net, hostile
    finally:
        net.stop()


@pytest.fixture(scope="module")
def transport(hostile_net):
    net, _ = hostile_net
    with HttpTransport(net.rpc_url) as http:
        yield http


def _sources(net, hostile):
    sources = devnet_sources(net.deployment)
    sources["comets"] = [*sources["comets"], CometSource(hostile.comet, "hostile-comet", "hostile Comet double"),
                         CometSource(hostile.comet_broken_base, "hostile-comet-base", "hostile Comet, broken base feed")]
    return sources


@pytest.fixture(scope="module")
def snapshot(hostile_net, transport) -> Snapshot:
    net, hostile = hostile_net
    return scan_snapshot(transport, **_sources(net, hostile))


def _accounts(snapshot: Snapshot, market_prefix: str) -> set[str]:
    return {p.account for p in snapshot.positions if p.market.startswith(market_prefix)}


def test_every_normal_position_is_read(hostile_net, snapshot):
    net, _ = hostile_net
    population = net.population
    assert set(population.venues["aave"]) <= _accounts(snapshot, "aave-devnet")
    assert set(population.venues["comet"]) == _accounts(snapshot, "compound-devnet")
    normal_ids = {snapshot_market_id(m.id) for m in net.deployment.morpho.markets.values()}
    morpho_read = {p.account for p in snapshot.positions if p.market in normal_ids}
    assert morpho_read == set(population.venues["morpho"])
    assert not any(s.market in normal_ids or s.market == "compound-devnet" for s in snapshot.skipped)


def test_aave_hostile_reserves(hostile_net, snapshot, transport):
    net, hostile = hostile_net
    market = snapshot.market("aave-devnet")
    by_address = {a.address: a for a in snapshot.assets}
    listed = {r.asset for r in market.reserves}
    for label, expected in hostile.aave_reserves.items():
        token = hostile.tokens[label]
        if expected == "read":
            assert by_address[token].symbol in listed, label
        else:
            assert token not in by_address, label
            assert any(s.asset == token and s.account is None for s in snapshot.skipped), label
    # symbols: bytes32 decoded, missing -> placeholder, markup stripped; decimals from Aave's config
    assert by_address[hostile.tokens["HMKR"]].symbol == "HMKR"
    assert by_address[hostile.tokens["NOSYM"]].symbol == f"TKN-{hostile.tokens['NOSYM'][2:10]}"
    assert by_address[hostile.tokens["ODD"]].symbol == "ODDb"
    nodec = by_address[hostile.tokens["NODEC"]]
    assert (nodec.decimals, nodec.decimals_source) == (18, "venue")
    assert market.reserve("PAUSD").paused and not market.reserve("PAUSD").frozen
    assert market.reserve("FROZN").frozen and not market.reserve("FROZN").paused
    read = _accounts(snapshot, "aave-devnet")
    skipped_accounts = {s.account for s in snapshot.skipped if s.market == "aave-devnet" and s.account}
    for label, who in hostile.aave_borrowers.items():
        if "BROKE" in label or "ZERO" in label:
            assert who not in read and who in skipped_accounts, label
        else:
            assert who in read, label
    # Every Aave position read — hostile reserves included — is exactly what the Pool computes.
    positions = [p for p in snapshot.positions if p.market == market.id]
    onchain = run_calls(transport, snapshot.block_number,
                        [Read(net.deployment.aave.pool, abi_function("AavePool", "getUserAccountData"), (p.account,))
                         for p in positions], what="getUserAccountData")
    decimals = {a.symbol: a.decimals for a in snapshot.assets}
    for position, chain_data in zip(positions, onchain, strict=True):
        _, legs = aave_position_legs(market, position, decimals)
        mine = aave_account_data(legs, rule="avg")
        assert (mine.total_collateral_base, mine.total_debt_base, mine.health_factor_wad) == (
            chain_data[0], chain_data[1], chain_data[5]), position.account
    # ... and the skipped ones really cannot be valued by the Pool (getUserAccountData reverts or prices 0)
    broke = hostile.aave_borrowers["aave:BROKE-coll"]
    (result,) = run_calls(transport, snapshot.block_number,
                          [Read(net.deployment.aave.pool, abi_function("AavePool", "getUserAccountData"), (broke,))],
                          what="getUserAccountData", allow_failure=True)
    assert result is None


def test_morpho_hostile_markets(hostile_net, snapshot):
    _, hostile = hostile_net
    market_ids = {m.id for m in snapshot.markets}
    reasons = {s.market: s.reason for s in snapshot.skipped if s.venue == "morpho_blue"}
    expected_words = {"WETH/NODEC2": "no decimals()", "WETH/USDC-revert": "reverts", "WETH/USDC-zero": "is 0",
                      "WETH/USDC-irm": "IRM", "WETH/USDX": "no USD anchor"}
    for label, (raw_id, expected) in hostile.morpho_markets.items():
        mid = snapshot_market_id(raw_id)
        borrowers = set(hostile.morpho_borrowers[label])
        if expected == "read":
            assert mid in market_ids, label
            assert borrowers <= {p.account for p in snapshot.positions if p.market == mid}, label
        else:
            assert mid not in market_ids and expected_words[label] in reasons[mid], (label, reasons.get(mid))
            assert not borrowers & {p.account for p in snapshot.positions}, label
    # Collateral without decimals: raw units, priced per raw unit from the market's oracle; HF is Morpho's.
    nodec = next(a for a in snapshot.assets if a.address == hostile.tokens["NODECM"])
    assert (nodec.decimals, nodec.decimals_source) == (0, "none")
    assert nodec.price_source.startswith("morpho-oracle:")
    mid = snapshot_market_id(hostile.morpho_markets["NODECM/USDC"][0])
    market = snapshot.market(mid)
    book = PositionBook.from_snapshot(snapshot)
    hf = book.health_factor()
    checked = 0
    for i, p in enumerate(snapshot.positions):
        if p.market != mid:
            continue
        (coll_raw,) = p.collateral.values()
        (debt_raw,) = p.debt.values()
        morpho_hf = coll_raw * market.oracle_price_1e36 / 1e36 * market.lltv_wad / 1e18 / debt_raw
        assert hf[i] == pytest.approx(morpho_hf, rel=1e-12)
        assert morpho_is_healthy(collateral_raw=coll_raw, borrowed_raw=debt_raw,
                                 oracle_price_1e36=market.oracle_price_1e36, lltv_wad=market.lltv_wad)
        checked += 1
    assert checked == 2


def test_comet_hostile_collateral(hostile_net, snapshot):
    _, hostile = hostile_net
    read = _accounts(snapshot, "hostile-comet")
    assert hostile.comet_borrowers["comet:WETH"] in read
    assert hostile.comet_borrowers["comet:CBRK"] not in read
    assert any(s.account == hostile.comet_borrowers["comet:CBRK"] and "BadPrice" in s.reason for s in snapshot.skipped)
    market = snapshot.market("hostile-comet")
    decimals = {a.symbol: a.decimals for a in snapshot.assets}
    for p in snapshot.positions:
        if p.market == market.id:
            assert comet_position_is_liquidatable(market, p, decimals) is False
    # The base token's price reverts: the whole Comet is left out, with its one borrower counted.
    assert "hostile-comet-base" not in {m.id for m in snapshot.markets}
    (entry,) = [s for s in snapshot.skipped if s.market == "hostile-comet-base"]
    assert entry.account is None and "baseTokenPriceFeed" in entry.reason and "(1 position not read)" in entry.reason
    assert hostile.comet_broken_base_borrower not in {p.account for p in snapshot.positions}


def test_peg_anchor_prices_an_unlisted_stablecoin(hostile_net, transport, snapshot):
    net, hostile = hostile_net
    usdx = hostile.tokens["USDX"]
    pegged = scan_snapshot(transport, block=snapshot.block_number, usd_anchors=UsdAnchors(usd_pegs={usdx: 1.0}),
                           **_sources(net, hostile))
    mid = snapshot_market_id(hostile.morpho_markets["WETH/USDX"][0])
    assert mid in {m.id for m in pegged.markets} and mid not in {s.market for s in pegged.skipped}
    asset = next(a for a in pegged.assets if a.address == usdx)
    assert (asset.price_usd, asset.price_source) == (1.0, "peg")
    assert set(hostile.morpho_borrowers["WETH/USDX"]) <= {p.account for p in pegged.positions if p.market == mid}
    assert len(pegged.skipped) == len(snapshot.skipped) - 1


def test_skipped_round_trips_and_old_snapshots_load(snapshot):
    again = Snapshot.from_json(snapshot.to_json())
    assert again == snapshot and again.skipped == snapshot.skipped and len(again.skipped) >= 10
    old = json.loads(snapshot.to_json())
    old.pop("skipped")
    for asset in old["assets"]:
        asset.pop("price_source")
        asset.pop("decimals_source")
    for market in old["markets"]:
        for reserve in market["reserves"]:
            reserve.pop("paused")
            reserve.pop("frozen")
    loaded = Snapshot.model_validate(old)
    assert loaded.skipped == () and loaded.positions == snapshot.positions


def test_counts(snapshot, hostile_net):
    """Positions read vs skipped (numbers for the issue note)."""
    _, hostile = hostile_net
    skipped_positions = [s for s in snapshot.skipped if s.account]
    skipped_markets = [s for s in snapshot.skipped if s.account is None]
    print(f"\nread {len(snapshot.positions)} positions in {len(snapshot.markets)} markets; "
          f"skipped {len(skipped_positions)} positions and {len(skipped_markets)} markets/reserves")
    assert len(skipped_positions) == 4  # BROKE-coll, BROKE-debt, ZERO (Aave), CBRK (Comet)
    assert len(skipped_markets) == 2 + 5 + 1 + 1  # 2 Aave reserves, 5 Morpho markets, 1 Comet collateral, 1 Comet


def test_cli_scan_and_report_show_skipped(snapshot, tmp_path, monkeypatch):
    import jsonschema
    from click.testing import CliRunner

    from liqrisk.cli import cli
    from liqrisk.report import SCHEMA_PATH

    monkeypatch.setenv("LIQRISK_CACHE_DIR", str(tmp_path / "cache"))
    path = snapshot.save(tmp_path / "hostile.json")
    runner = CliRunner()
    scanned = runner.invoke(cli, ["scan", "--source", f"snapshot:{path}", "--out", str(tmp_path / "again.json")],
                            catch_exceptions=False)
    assert scanned.exit_code == 0, scanned.output
    n_positions = sum(1 for k in snapshot.skipped if k.account)
    assert f"Skipped {len(snapshot.skipped) - n_positions} markets/reserves and {n_positions} positions" in scanned.stderr
    for k in snapshot.skipped:
        assert k.reason in scanned.stderr
    reported = runner.invoke(cli, ["report", "--source", f"snapshot:{path}", "--out", str(tmp_path / "reports"),
                                   "--no-charts", "--quiet"], catch_exceptions=False)
    assert reported.exit_code == 0, reported.output
    folder = next(p for p in (tmp_path / "reports").iterdir() if p.is_dir() and p.name != "latest")
    doc = json.loads((folder / "report.json").read_text())
    jsonschema.validate(doc, json.loads(SCHEMA_PATH.read_text()))
    assert [k["reason"] for k in doc["snapshot"]["skipped"]] == [k.reason for k in snapshot.skipped]
    markdown = (folder / "report.md").read_text()
    assert "## Skipped" in markdown and "Left out of the snapshot" in markdown
    assert all(k.reason in markdown for k in snapshot.skipped)
    assert "Skipped</h2>" in (folder / "report.html").read_text()

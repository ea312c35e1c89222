"""Sky/Maker vaults against the devnet's dss TEST DOUBLE (chain/contracts/DssDouble.sol).

No genuine dss is installable from a package registry: these tests run a test double of the dss
read interface and liquidation math (Vat, Spotter, Dog, Clipper, Abacus; sources cited in the
.sol file) on a real anvil, and check the reader and the exact Python math of
``risk.sky_vaults`` against it: urn discovery from frob/fork notes, pinned reads by name, the
unsafe boundary, ``Dog.bark`` amounts and the Clipper's auction price and ``take``.
"""

from __future__ import annotations

import pytest

from chain.blocks import pin_block
from chain.devnet.deploy_maker import ILK_PARAMS, deploy_sky, populate_sky, set_sky_price
from chain.devnet.rpc import Tx, encode_call
from chain.discovery import AccountIndex, LogScanner
from chain.aave_v3 import ReaderError
from chain.sky_vaults import SkyIlk, SkyVaultReader, ilk_bytes32, ilk_name, sky_vat_source
from chain.transport import HttpTransport
from risk import sky_vaults as sv
from tests.chain.double_chain import double_chain

PRICES = {"WETH": 2_000.0, "wstETH": 2_400.0}
N_URNS = 40
SEED = 11


@pytest.fixture(scope="module")
def sky_chain():
    with double_chain({symbol: 18 for symbol in PRICES}, chain_id=8453) as dc:
        rpc, deployer, tokens = dc.rpc, dc.deployer, dc.tokens
        sky = deploy_sky(rpc, deployer, tokens, PRICES)
        population = populate_sky(rpc, deployer, sky, PRICES, N_URNS, SEED)
        yield rpc, deployer, sky, population, tokens


def _reader(transport, sky):
    return SkyVaultReader(transport, vat=sky.vat, spotter=sky.spotter, dog=sky.dog,
                          ilks=[SkyIlk(i.name, i.gem) for i in sky.ilks])


def test_discovery_finds_every_urn_from_frob_and_fork_notes(sky_chain, tmp_path):
    rpc, _, sky, population, _ = sky_chain
    with HttpTransport(rpc.url) as transport:
        pinned = pin_block(transport, "latest")
        with AccountIndex(tmp_path / "a.sqlite") as index:
            source = sky_vat_source(sky.vat, sky.deploy_block)
            LogScanner(index).scan(transport, source, pinned)
            found = index.accounts(transport.chain_id, source, up_to_block=pinned.number)
    by_ilk: dict[str, set[str]] = {}
    for a in found:
        by_ilk.setdefault(ilk_name(a.group), set()).add(a.account)
    assert {k: v for k, v in by_ilk.items()} == {k: set(v) for k, v in population.urns.items()}
    forked_only = {a.account for a in found if a.event == "fork"} - {a.account for a in found if a.event == "frob"}
    assert forked_only, "fork targets that were never frobbed must be found through the fork note"


def test_reader_reads_ilks_and_urns_by_name_at_the_pinned_block(sky_chain):
    rpc, deployer, sky, population, _ = sky_chain
    with HttpTransport(rpc.url) as transport:
        assert transport.chain_id == 8453
        pinned = pin_block(transport, "latest")
        reader = _reader(transport, sky)
        ilks = {i.name: i for i in reader.read_market(pinned)}
        urns = reader.read_positions(pinned, population.urns)
        eth = ilks["ETH-A"]
        assert eth.mat_ray == 145 * 10**25 and eth.chop_wad == 113 * 10**16
        assert eth.rate_ray == 105 * 10**25
        assert eth.spot_ray == sv.spot_ray(2_000 * 10**18, eth.mat_ray)
        assert eth.clipper.kind == "stairstep" and eth.clipper.cut_ray == 99 * 10**25 and eth.clipper.step_s == 90
        assert ilks["WSTETH-A"].clipper.kind == "linear" and ilks["WSTETH-A"].clipper.tau_s == 14_400
        assert abs(eth.price_usd() - 2_000.0) < 1e-9
        assert len(urns) == sum(len(v) for v in population.urns.values())
        # The read is pinned: a price move and a new urn later do not change it.
        set_sky_price(rpc, deployer, sky, "WETH", 1_000.0)
        again = {i.name: i for i in reader.read_market(pinned)}
        assert again["ETH-A"].spot_ray == eth.spot_ray
        latest = {i.name: i for i in reader.read_market(pin_block(transport, "latest"))}
        assert latest["ETH-A"].spot_ray == sv.spot_ray(1_000 * 10**18, eth.mat_ray)
        set_sky_price(rpc, deployer, sky, "WETH", PRICES["WETH"])


def test_reader_rejects_an_address_that_is_not_a_vat(sky_chain):
    rpc, _, sky, _, tokens = sky_chain
    with HttpTransport(rpc.url) as transport:
        reader = SkyVaultReader(transport, vat=tokens["WETH"], spotter=sky.spotter, dog=sky.dog,
                                ilks=[SkyIlk("ETH-A", tokens["WETH"])])
        with pytest.raises(ReaderError, match="not a dss Vat"):
            reader.read_market(pin_block(transport, "latest"))
        with pytest.raises(ReaderError, match="not initialised"):
            SkyVaultReader(transport, vat=sky.vat, spotter=sky.spotter, dog=sky.dog,
                           ilks=[SkyIlk("NOPE-A", tokens["WETH"])]).read_market(pin_block(transport, "latest"))


def _call(rpc, to, signature, args, out_types):
    return rpc.call_decode(to, signature, args, out_types)


def test_unsafe_boundary_and_bark_amounts_equal_the_double(sky_chain):
    """At a price that makes some urns unsafe, exactly the urns risk.sky_vaults calls unsafe can be
    barked, and the double's grab/kick amounts equal :func:`risk.sky_vaults.bark`."""
    rpc, deployer, sky, population, _ = sky_chain
    snap = rpc.request("evm_snapshot", [])
    try:
        set_sky_price(rpc, deployer, sky, "WETH", 1_650.0)
        with HttpTransport(rpc.url) as transport:
            pinned = pin_block(transport, "latest")
            reader = _reader(transport, sky)
            eth = {i.name: i for i in reader.read_market(pinned)}["ETH-A"]
            urns = [u for u in reader.read_positions(pinned, population.urns) if u.ilk == "ETH-A"]
        unsafe = [u for u in urns if sv.urn_unsafe(u.ink_wad, u.art_wad, eth.rate_ray, eth.spot_ray)]
        safe = [u for u in urns if u not in unsafe]
        assert unsafe and safe
        word = ilk_bytes32("ETH-A")
        dirt = 0
        for u in unsafe[:4] + safe[:2]:
            data = encode_call("bark(bytes32,address,address)", word, u.urn, deployer)
            if u in safe:
                with pytest.raises(Exception):
                    rpc.transact(Tx(deployer, sky.dog, data, 1_000_000), what="bark safe")
                continue
            expected = sv.bark(u.ink_wad, u.art_wad, rate_ray=eth.rate_ray, spot_ray_=eth.spot_ray,
                               dust_rad=eth.dust_rad, chop_wad=eth.chop_wad, hole_rad=eth.hole_rad, dirt_rad=dirt,
                               Hole_rad=eth.Hole_rad, Dirt_rad=dirt)
            rpc.transact(Tx(deployer, sky.dog, data, 1_000_000), what="bark")
            dirt += expected.tab_rad
            kicks = _call(rpc, sky.ilk("ETH-A").clip, "kicks()", (), ("uint256",))[0]
            sale = _call(rpc, sky.ilk("ETH-A").clip, "sales(uint256)", (kicks,),
                         ("uint256", "uint256", "uint256", "address", "uint96", "uint256"))
            assert (sale[1], sale[2]) == (expected.tab_rad, expected.dink_wad)
            assert sale[5] == sv.kick_top_ray(1_650 * 10**18, eth.clipper.buf_ray)
            ink_after, art_after = _call(rpc, sky.vat, "urns(bytes32,address)", (word, u.urn), ("uint256", "uint256"))
            assert (ink_after, art_after) == (u.ink_wad - expected.dink_wad, u.art_wad - expected.dart_wad)
        assert _call(rpc, sky.dog, "Dirt()", (), ("uint256",))[0] == dirt
    finally:
        rpc.request("evm_revert", [snap])


@pytest.mark.parametrize("ilk", ["ETH-A", "WSTETH-A"])
def test_auction_price_redo_and_take_equal_the_double(sky_chain, ilk):
    rpc, deployer, sky, population, _ = sky_chain
    gem = ILK_PARAMS[ilk]["gem"]
    snap = rpc.request("evm_snapshot", [])
    try:
        set_sky_price(rpc, deployer, sky, gem, PRICES[gem] * 0.7)
        with HttpTransport(rpc.url) as transport:
            pinned = pin_block(transport, "latest")
            reader = _reader(transport, sky)
            data = {i.name: i for i in reader.read_market(pinned)}[ilk]
            urn = next(u for u in reader.read_positions(pinned, population.urns)
                       if u.ilk == ilk and sv.urn_unsafe(u.ink_wad, u.art_wad, data.rate_ray, data.spot_ray))
        clip = sky.ilk(ilk).clip
        rpc.transact(Tx(deployer, sky.dog, encode_call("bark(bytes32,address,address)", ilk_bytes32(ilk), urn.urn,
                                                        deployer), 1_000_000), what="bark")
        sid = _call(rpc, clip, "kicks()", (), ("uint256",))[0]
        sale = _call(rpc, clip, "sales(uint256)", (sid,), ("uint256", "uint256", "uint256", "address", "uint96", "uint256"))
        tab, lot, tic, top = sale[1], sale[2], sale[4], sale[5]
        curve = data.clipper
        for dt in (0, 89, 90, 1_000, 3_600):
            rpc.request("evm_setNextBlockTimestamp", [tic + dt])
            rpc.request("evm_mine", [])
            needs, price, _, _ = _call(rpc, clip, "getStatus(uint256)", (sid,), ("bool", "uint256", "uint256", "uint256"))
            if curve.kind == "stairstep":
                want = sv.stairstep_price_ray(top, dt, step_s=curve.step_s, cut_ray=curve.cut_ray)
            else:
                want = sv.linear_price_ray(top, dt, tau_s=curve.tau_s)
            assert price == want
            assert needs == sv.needs_redo(want, top, dt, tail_s=curve.tail_s, cusp_ray=curve.cusp_ray)
        # A keeper takes a slice at the current price: owe/slice as risk.sky_vaults.take says.
        keeper = rpc.accounts()[3]
        rpc.transact(Tx(deployer, sky.vat, encode_call("suck(address,address,uint256)", deployer, keeper, tab), 500_000))
        rpc.transact(Tx(keeper, sky.vat, encode_call("hope(address)", clip), 200_000))
        rpc.request("evm_setNextBlockTimestamp", [tic + 3_700])
        rpc.request("evm_mine", [])
        t = tic + 3_701
        rpc.request("evm_setNextBlockTimestamp", [t])
        price = (sv.stairstep_price_ray(top, t - tic, step_s=curve.step_s, cut_ray=curve.cut_ray)
                 if curve.kind == "stairstep" else sv.linear_price_ray(top, t - tic, tau_s=curve.tau_s))
        amt = lot // 3
        owe, slice_ = sv.take(tab, lot, price, amt, data.dust_rad)
        dai_before = _call(rpc, sky.vat, "dai(address)", (keeper,), ("uint256",))[0]
        rpc.transact(Tx(keeper, clip, encode_call("take(uint256,uint256,uint256,address)", sid, amt, price, keeper),
                        1_000_000), what="take")
        dai_after = _call(rpc, sky.vat, "dai(address)", (keeper,), ("uint256",))[0]
        gem_got = _call(rpc, sky.vat, "gem(bytes32,address)", (ilk_bytes32(ilk), keeper), ("uint256",))[0]
        assert (dai_before - dai_after, gem_got) == (owe, slice_)
    finally:
        rpc.request("evm_revert", [snap])


def test_devnet_snapshot_has_sky_vaults_with_the_vat_boundary(devnet_revert, devnet_deployment):
    """The demo devnet deploys the dss double too: scan_devnet reads its ilks as ``sky_vault``
    markets, every urn with debt is a position, and after a price drop a position has HF < 1 in the
    book exactly when the Vat calls its urn unsafe; a cascade then liquidates Sky vaults."""
    import numpy as np

    from chain.scan import scan_devnet
    from risk.book import VENUE_CODE, PositionBook
    from risk.cascade import cascade_grid

    dep = devnet_deployment
    assert dep.sky is not None
    devnet_revert.set_price_usd("WETH", 1_550)
    with HttpTransport(devnet_revert.rpc_url) as transport:
        snap = scan_devnet(dep, transport=transport)
        pinned = snap.block_number
        reader = _reader(transport, dep.sky)
        ilks = {i.name: i for i in reader.read_market(pinned)}
        urns = {u.urn: u for u in reader.read_positions(pinned, devnet_revert.sky_population.urns)}
    sky_markets = [m for m in snap.markets if m.venue == "sky_vault"]
    assert {m.id for m in sky_markets} == {"sky:ETH-A", "sky:WSTETH-A"}
    positions = [p for p in snap.positions if p.market.startswith("sky:")]
    assert {p.account for p in positions} == set(urns)
    book = PositionBook.from_snapshot(snap)
    hf = book.health_factor()
    checked = 0
    for i, p in enumerate(snap.positions):
        if not p.market.startswith("sky:"):
            continue
        u = urns[p.account]
        ilk = ilks[u.ilk]
        unsafe = sv.urn_unsafe(u.ink_wad, u.art_wad, ilk.rate_ray, ilk.spot_ray)
        if abs(hf[i] - 1.0) > 1e-9:  # float rounding aside, the book agrees with the Vat
            assert (hf[i] < 1.0) == unsafe, p.account
            checked += 1
    assert checked == len(positions)
    assert any(hf[i] < 1 for i, p in enumerate(snap.positions) if p.market == "sky:ETH-A")
    table = cascade_grid(book, driver="WETH", betas={"wstETH": 1.0}, drawdowns=np.array([0.0, 0.3]))
    sky_rows = book.venue == VENUE_CODE["sky_vault"]
    assert sky_rows.any() and table.positions_hit[1] >= table.positions_hit[0] > 0
    # The Dog's limits are in the snapshot as read, and bind in a deep drawdown of the devnet: with
    # them the cascade liquidates less Sky debt than with the limits switched off (uint256 max).
    for m in sky_markets:
        ilk = ilks[m.id.removeprefix("sky:")]
        assert m.rule_params == {"dust_rad": ilk.dust_rad, "hole_rad": ilk.hole_rad, "dirt_rad": ilk.dirt_rad,
                                 "Hole_rad": ilk.Hole_rad, "Dirt_rad": ilk.Dirt_rad}
    data = snap.model_dump()
    for m in data["markets"]:
        if m["venue"] == "sky_vault":
            m["rule_params"].update(hole_rad=2**256 - 1, Hole_rad=2**256 - 1)
    free_book = PositionBook.from_snapshot(type(snap).model_validate(data))
    deep = np.array([0.6])
    sky_cols = [k for k, r in enumerate(table.market_rules) if r == "sky_vault"]
    limited = cascade_grid(book, driver="WETH", betas={"wstETH": 1.0}, drawdowns=deep)
    free = cascade_grid(free_book, driver="WETH", betas={"wstETH": 1.0}, drawdowns=deep)
    assert (limited.liquidated_debt_by_market_usd[0, sky_cols].sum()
            < free.liquidated_debt_by_market_usd[0, sky_cols].sum())


def test_dog_limits_read_back_exactly_and_bind_on_the_devnet(sky_chain):
    """The Dog's ``hole``/``dirt`` per ilk and ``Hole``/``Dirt`` (dss dog.sol @3f30552a, the double's
    DogDouble) are read at the pinned block and stored as the Sky market's rule parameters exactly:
    after barks started auctions, ``dirt`` is the sum of their tabs; the devnet's WSTETH-A ``hole``
    binds (a partial bark, then ``Dog/liquidation-limit-hit``) as :func:`risk.sky_vaults.bark` says,
    and the snapshot (JSON round trip) hands the remaining room to the engine's budget."""
    from chain.devnet.deploy_maker import GLOBAL_HOLE_DAI
    from chain.sky_vaults import ilk_market
    from risk.book import PositionBook
    from risk.budgets import BudgetLayout
    from risk.snapshot import Asset, Snapshot

    rpc, deployer, sky, population, tokens = sky_chain
    ilk = "WSTETH-A"
    snap = rpc.request("evm_snapshot", [])
    try:
        with HttpTransport(rpc.url) as transport:
            before = {i.name: i for i in _reader(transport, sky).read_market(pin_block(transport, "latest"))}
        data = before[ilk]
        assert data.hole_rad == ILK_PARAMS[ilk]["hole"] * sv.RAD and data.dirt_rad == 0
        assert data.Hole_rad == GLOBAL_HOLE_DAI * sv.RAD and data.Dirt_rad == 0
        set_sky_price(rpc, deployer, sky, "wstETH", PRICES["wstETH"] * 0.6)
        with HttpTransport(rpc.url) as transport:
            pinned = pin_block(transport, "latest")
            reader = _reader(transport, sky)
            data = {i.name: i for i in reader.read_market(pinned)}[ilk]
            urns = [u for u in reader.read_positions(pinned, population.urns)
                    if u.ilk == ilk and sv.urn_unsafe(u.ink_wad, u.art_wad, data.rate_ray, data.spot_ray)]
        urns.sort(key=lambda u: -u.art_wad)
        dirt, outcomes = 0, []
        for u in urns:
            call = encode_call("bark(bytes32,address,address)", ilk_bytes32(ilk), u.urn, deployer)
            try:
                expected = sv.bark(u.ink_wad, u.art_wad, rate_ray=data.rate_ray, spot_ray_=data.spot_ray,
                                   dust_rad=data.dust_rad, chop_wad=data.chop_wad, hole_rad=data.hole_rad,
                                   dirt_rad=dirt, Hole_rad=data.Hole_rad, Dirt_rad=dirt)
            except sv.DssRevert as exc:
                with pytest.raises(Exception):
                    rpc.transact(Tx(deployer, sky.dog, call, 1_000_000), what="bark past the limit")
                outcomes.append(exc.reason)
                continue
            rpc.transact(Tx(deployer, sky.dog, call, 1_000_000), what="bark")
            dirt += expected.tab_rad
            outcomes.append("partial" if expected.dart_wad < u.art_wad else "whole")
        refused = set(outcomes) - {"whole", "partial"}
        # once the hole is used up to a sliver, every further bark is refused (the sliver is dusty)
        assert "partial" in outcomes and refused, outcomes
        assert refused <= {"Dog/liquidation-limit-hit", "Dog/dusty-auction-from-partial-liquidation"}, outcomes
        with HttpTransport(rpc.url) as transport:
            pinned = pin_block(transport, "latest")
            after = {i.name: i for i in _reader(transport, sky).read_market(pinned)}
        assert after[ilk].dirt_rad == dirt and after[ilk].Dirt_rad == dirt and after["ETH-A"].dirt_rad == 0
        assert after[ilk].hole_rad == ILK_PARAMS[ilk]["hole"] * sv.RAD
        # within a dust-sized overshoot at most (a dusty remainder is taken whole), the hole is used up
        assert dirt >= after[ilk].hole_rad - after[ilk].dust_rad * 2
        symbols = {tokens["WETH"]: "WETH", tokens["wstETH"]: "wstETH", sky.dai: "DAI"}
        market = ilk_market(after[ilk], symbols, dai=sky.dai, vat=sky.vat, name="Sky")
        assert market.rule_params == {"dust_rad": after[ilk].dust_rad, "hole_rad": after[ilk].hole_rad,
                                      "dirt_rad": dirt, "Hole_rad": GLOBAL_HOLE_DAI * sv.RAD, "Dirt_rad": dirt}
        assets = tuple(Asset(symbol=s, address=a, decimals=18, price_usd=1.0) for a, s in symbols.items())
        snapshot = Snapshot.from_json(Snapshot(chain_id=8453, block_number=pinned.number, block_timestamp=0,
                                               assets=assets, markets=(market,), positions=()).to_json())
        assert snapshot.markets[0].rule_params == market.rule_params
    finally:
        rpc.request("evm_revert", [snap])
    layout = BudgetLayout.of(PositionBook.from_snapshot(snapshot))
    assert layout.n_cells == 0  # no position: nothing to budget

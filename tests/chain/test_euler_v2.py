"""Euler v2 against the devnet's EVC/EVK TEST DOUBLE (chain/contracts/EulerDouble.sol).

No genuine Euler Vault Kit or Ethereum Vault Connector is installable from a package registry: these
tests run a test double of their read interface and liquidation math (EVC, EVK controller vault,
collateral vaults, EulerRouter-like oracle; sources cited in the .sol file) on a real anvil, and
check the reader and the exact Python math of ``risk.euler_v2`` against it: discovery from the EVC's
ControllerStatus events, pinned reads by name, the ramped liquidation LTV, ``accountLiquidity`` and
``checkLiquidation`` equal to the exact math, and ``liquidate`` (discount capped, debt
socialisation when the collateral runs out) equal to it to the wei after an oracle shock.
"""

from __future__ import annotations

import pytest

from chain.aave_v3 import ReaderError
from chain.blocks import pin_block
from chain.devnet.deploy_euler import VAULT_PARAMS, deploy_euler, populate_euler, set_euler_price
from chain.devnet.rpc import Tx, encode_call
from chain.discovery import AccountIndex
from chain.euler_v2 import EulerV2Reader, discover_accounts
from chain.transport import HttpTransport
from risk import euler_v2 as ev
from tests.chain.double_chain import double_chain

PRICES = {"WETH": 2_000.0, "WBTC": 60_000.0, "USDC": 1.0, "wstETH": 2_400.0}
DECIMALS = {"WETH": 18, "WBTC": 8, "USDC": 6, "wstETH": 18}
N_ACCOUNTS = 48
SEED = 5
GENESIS = 1_750_000_000


@pytest.fixture(scope="module")
def euler_chain():
    with double_chain(DECIMALS, chain_id=8453, genesis_timestamp=GENESIS) as dc:
        rpc, deployer, tokens = dc.rpc, dc.deployer, dc.tokens
        euler = deploy_euler(rpc, deployer, tokens, DECIMALS, PRICES)
        population = populate_euler(rpc, deployer, euler, PRICES, DECIMALS, N_ACCOUNTS, SEED)
        yield rpc, deployer, euler, population, tokens


def _reader(transport, euler):
    return EulerV2Reader(transport, evc=euler.evc, vaults=[v.address for v in euler.vaults])


def _all_accounts(euler, population):
    return {euler.vault(name).address: list(accts) for name, accts in population.accounts.items()}


def _read(transport, euler, population, block="latest"):
    pinned = pin_block(transport, block)
    reader = _reader(transport, euler)
    vaults = reader.read_vaults(pinned)
    rows = reader.read_accounts(pinned, vaults, _all_accounts(euler, population))
    return pinned, {v.vault: v for v in vaults}, rows


def _exact_liquidity(vault, row):
    values = [c.value for c in row.collaterals]
    ltvs = [vault.collateral(c.vault).liquidation_ltv_1e4 for c in row.collaterals]
    liability = ev.owed_to_assets_up(row.debt_owed_exact)
    liability_value = liability * vault.token_quotes[vault.asset] // 10 ** vault.decimals[vault.asset]
    return ev.collateral_adjusted_value(values, ltvs), liability_value


def test_discovery_finds_every_borrower_from_controller_status_events(euler_chain, tmp_path):
    rpc, _, euler, population, _ = euler_chain
    with HttpTransport(rpc.url) as transport:
        pinned = pin_block(transport, "latest")
        with AccountIndex(tmp_path / "a.sqlite") as index:
            found = discover_accounts(transport, index, euler.evc, [v.address for v in euler.vaults], pinned,
                                      euler.deploy_block)
    assert {k: set(v) for k, v in found.items()} == {k: set(v) for k, v in _all_accounts(euler, population).items()}


def test_reader_reads_vaults_and_accounts_by_name_equal_to_the_double_getters(euler_chain):
    """Every account: the exact accountLiquidity from the read rows (quotes, ramped LTVs, owed)
    equals the double's accountLiquidity(account, true) and the reader's own read of it; the rows
    carry 1-3 enabled collaterals; the ramping WBTC LTV is between its start and target."""
    rpc, _, euler, population, tokens = euler_chain
    with HttpTransport(rpc.url) as transport:
        pinned, vaults, rows = _read(transport, euler, population)
    usdc = vaults[euler.vault("eUSDC").address]
    assert usdc.max_liquidation_discount_1e4 == 1_500 and usdc.unit_of_account.endswith("0348")
    wbtc = usdc.collateral(euler.escrows["WBTC"])
    assert wbtc.ltv.initial_liquidation_ltv_1e4 == 8_500 and wbtc.ltv.liquidation_ltv_1e4 == 7_200
    assert 7_200 < wbtc.liquidation_ltv_1e4 <= 8_500
    assert wbtc.liquidation_ltv_1e4 == ev.liquidation_ltv_1e4(wbtc.ltv, pinned.timestamp)
    assert len(rows) == N_ACCOUNTS
    assert {len(r.collaterals) for r in rows} == {1, 2, 3}
    for r in rows:
        v = vaults[r.vault]
        exact = _exact_liquidity(v, r)
        assert r.liquidity == exact
        on_chain = rpc.call_decode(r.vault, "accountLiquidity(address,bool)", (r.account, True), ("uint256", "uint256"),
                                   block=pinned.number)
        assert tuple(on_chain) == exact
        assert exact[0] > exact[1], "every seeded account is healthy at the start prices"
    assert any(r.liquidity[0] < r.liquidity[1] * 1.1 for r in rows), "some accounts sit near the boundary"


def test_ramp_lowers_the_liquidation_ltv_over_time_as_getltv_says(euler_chain):
    rpc, _, euler, population, _ = euler_chain
    snap = rpc.request("evm_snapshot", [])
    try:
        with HttpTransport(rpc.url) as transport:
            before, vaults, _ = _read(transport, euler, population)
            cfg = vaults[euler.vault("eUSDC").address].collateral(euler.escrows["WBTC"]).ltv
            for t in (cfg.target_timestamp - cfg.ramp_duration_s // 2, cfg.target_timestamp - 1, cfg.target_timestamp + 5):
                rpc.request("evm_setNextBlockTimestamp", [t])
                rpc.request("evm_mine", [])
                pinned, vs, _ = _read(transport, euler, population)
                got = vs[euler.vault("eUSDC").address].collateral(euler.escrows["WBTC"]).liquidation_ltv_1e4
                assert got == ev.liquidation_ltv_1e4(cfg, t)
            assert got == 7_200
            # The first read is pinned: reading its block again gives its LTV, not today's.
            _, again, _ = _read(transport, euler, population, before.number)
            assert again[euler.vault("eUSDC").address].collateral(euler.escrows["WBTC"]).liquidation_ltv_1e4 == \
                ev.liquidation_ltv_1e4(cfg, before.timestamp)
    finally:
        rpc.request("evm_revert", [snap])


def test_reader_rejects_an_address_that_is_not_a_vault(euler_chain):
    rpc, _, euler, _, tokens = euler_chain
    with HttpTransport(rpc.url) as transport:
        with pytest.raises(ReaderError, match="not an EVK vault"):
            EulerV2Reader(transport, evc=euler.evc, vaults=[tokens["USDC"]]).read_vaults(pin_block(transport, "latest"))


def _quote(rpc, oracle, unit, amount, base):
    return rpc.call_decode(oracle, "getQuote(uint256,address,address)", (amount, base, unit), ("uint256",))[0]


def test_check_liquidation_and_liquidate_equal_the_exact_math_after_an_oracle_shock(euler_chain):
    """WETH -35% and WBTC -30%: for every account, checkLiquidation equals max_liquidation from the
    read rows; accounts in violation are liquidated on the double call by call (keepers' order: the
    most valuable collateral first) and after every call the violator's owed, collateral balances and
    the liquidator's gain equal risk.euler_v2 to the wei, incl. debt socialisation."""
    rpc, deployer, euler, population, tokens = euler_chain
    liquidator = rpc.accounts()[2]
    snap = rpc.request("evm_snapshot", [])
    try:
        set_euler_price(rpc, deployer, euler, tokens["WETH"], 18, 1_300)
        set_euler_price(rpc, deployer, euler, tokens["WBTC"], 8, 42_000)
        with HttpTransport(rpc.url) as transport:
            pinned, vaults, rows = _read(transport, euler, population)
        violating = [r for r in rows if not r.liquidity[0] > r.liquidity[1]]
        assert len(violating) >= 5 and len(violating) < len(rows)
        socialised = 0
        discounts = set()
        for r in rows:
            v = vaults[r.vault]
            adjusted, liability_value = _exact_liquidity(v, r)
            for c in r.collaterals:
                m = ev.max_liquidation(collateral_adjusted_value_=adjusted, liability_value=liability_value,
                                       liability_assets=ev.owed_to_assets_up(r.debt_owed_exact),
                                       max_liquidation_discount_1e4=v.max_liquidation_discount_1e4,
                                       collateral_balance=c.balance, collateral_value=c.value)
                got = rpc.call_decode(r.vault, "checkLiquidation(address,address,address)", (liquidator, r.account, c.vault),
                                      ("uint256", "uint256"), block=pinned.number)
                assert tuple(got) == (m.repay_assets, m.yield_balance)
                if m.discount_factor_wad:
                    discounts.add(m.discount_factor_wad)
        assert 10**18 - 1_500 * 10**14 in discounts, "some account hits the max discount cap"
        assert any(d > 10**18 - 1_500 * 10**14 for d in discounts), "some discount is 1 - health below the cap"
        # The ramping LTV moves with time: every call is computed at the timestamp of the block it
        # is mined in (set explicitly), from the state the previous calls left.
        t_next = rpc.request("eth_getBlockByNumber", ["latest", False])["timestamp"]
        t_next = int(t_next, 16) + 12
        multi_call_accounts = 0
        for r in violating:
            v = vaults[r.vault]
            order = [c.vault for c in r.collaterals]
            balances = [c.balance for c in r.collaterals]
            owed = r.debt_owed_exact
            n_calls = 0
            for _ in range(8):
                calls, balances_after, owed_after = ev.liquidate_account(
                    balances=balances, ltvs_1e4=[ev.liquidation_ltv_1e4(v.collateral(c).ltv, t_next) for c in order],
                    owed=owed, max_liquidation_discount_1e4=v.max_liquidation_discount_1e4,
                    quote_collateral=lambda i, b, order=order, v=v: _quote(rpc, v.oracle, v.unit_of_account, b, order[i]),
                    quote_liability=lambda a, v=v: _quote(rpc, v.oracle, v.unit_of_account, a, v.asset),
                    config_flags=v.config_flags, max_calls=1)
                if not calls:
                    break
                (call,) = calls
                coll = order[call.collateral]
                before_liq = rpc.call_decode(coll, "balanceOf(address)", (liquidator,), ("uint256",))[0]
                rpc.request("evm_setNextBlockTimestamp", [t_next])
                rpc.transact(Tx(liquidator, r.vault, encode_call("liquidate(address,address,uint256,uint256)", r.account,
                                                                 coll, call.repay_assets, call.yield_balance), 1_500_000),
                             what="liquidate")
                t_next += 12
                n_calls += 1
                got = [rpc.call_decode(c, "balanceOf(address)", (r.account,), ("uint256",))[0] for c in order]
                assert got == balances_after
                assert rpc.call_decode(r.vault, "debtOfExact(address)", (r.account,), ("uint256",))[0] == owed_after
                gained = rpc.call_decode(coll, "balanceOf(address)", (liquidator,), ("uint256",))[0] - before_liq
                assert gained == call.yield_balance
                socialised += call.socialized_assets
                balances, owed = balances_after, owed_after
            assert n_calls >= 1
            multi_call_accounts += n_calls > 1
            rpc.request("evm_setNextBlockTimestamp", [t_next])
            rpc.request("evm_mine", [])
            t_next += 12
            after = rpc.call_decode(r.vault, "accountLiquidity(address,bool)", (r.account, True), ("uint256", "uint256"))
            assert after[0] > after[1] or after[1] == 0, "the exact math stops exactly when the double does"
        assert multi_call_accounts > 0, "some account needs several calls (collateral by collateral)"
        assert socialised > 0, "near-insolvent accounts leave debt to socialise"
    finally:
        rpc.request("evm_revert", [snap])


def test_vault_params_are_what_the_double_was_given(euler_chain):
    rpc, _, euler, _, _ = euler_chain
    for name, p in VAULT_PARAMS.items():
        v = euler.vault(name).address
        assert rpc.call_decode(v, "maxLiquidationDiscount()", (), ("uint16",))[0] == round(p["max_discount"] * 1e4)
        listed = rpc.call_decode(v, "LTVList()", (), ("address[]",))[0]
        assert {a.lower() for a in listed} == {euler.escrows[s].lower() for s in p["ltvs"]}


def test_devnet_snapshot_has_euler_vaults_with_the_double_boundary(devnet_revert, devnet_deployment):
    """The demo devnet deploys the Euler double too: scan_devnet reads its controller vaults as
    ``euler_v2`` markets, every borrower is a position, and after a price drop a position has
    health < 1 in the book exactly when the double's accountLiquidity says violation; a cascade then
    liquidates Euler accounts."""
    import numpy as np

    from chain.scan import scan_devnet
    from risk.book import VENUE_CODE, PositionBook
    from risk.cascade import cascade_grid

    dep = devnet_deployment
    assert dep.euler is not None and devnet_revert.euler_population is not None
    devnet_revert.set_price_usd("WETH", 1_450)
    with HttpTransport(devnet_revert.rpc_url) as transport:
        snap = scan_devnet(dep, transport=transport)
        pinned = pin_block(transport, snap.block_number)
        reader = _reader(transport, dep.euler)
        vaults = reader.read_vaults(pinned)
        rows = {(r.vault, r.account): r for r in reader.read_accounts(
            pinned, vaults, _all_accounts(dep.euler, devnet_revert.euler_population))}
    markets = [m for m in snap.markets if m.venue == "euler_v2"]
    assert {m.address for m in markets} == {v.address for v in dep.euler.vaults}
    positions = {(p.market, p.account) for p in snap.positions if p.market.startswith("euler:")}
    assert positions == {(f"euler:{v}", a) for v, a in rows}
    book = PositionBook.from_snapshot(snap)
    hf = book.health_factor()
    checked = violating = 0
    for i, p in enumerate(snap.positions):
        if not p.market.startswith("euler:"):
            continue
        r = rows[(p.market.removeprefix("euler:"), p.account)]
        adjusted, liability = r.liquidity
        if abs(hf[i] - 1.0) > 1e-9:
            assert (hf[i] < 1.0) == (not adjusted > liability), p.account
            checked += 1
        violating += not adjusted > liability
    assert checked == len(positions) and violating > 0
    table = cascade_grid(book, driver="WETH", betas={"wstETH": 1.0, "WBTC": 0.8}, drawdowns=np.array([0.0, 0.3]))
    euler_rows = book.venue == VENUE_CODE["euler_v2"]
    assert euler_rows.any() and table.positions_hit[1] >= table.positions_hit[0] > 0

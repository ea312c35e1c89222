"""The float engine's health factor on the genuine Aave v3.0.2 Pool (floored average LT).

v3.0.2 (npm ``@aave/core-v3`` 1.19.3, ``contracts/protocol/libraries/logic/GenericLogic.sol``
``calculateUserAccountData``) floors the value-weighted average liquidation threshold to whole
bps before the health factor. The float book (``PositionBook.from_snapshot``: the v3.0 market
gets ``floored_avg_lt``) must give every borrower the HF ``getUserAccountData`` returns — the
WETH+WBTC borrowers too, where the unfloored sum does not — and the same liquidatable set, at the
start prices and after a WETH drop that leaves some liquidatable.
"""

from __future__ import annotations

import numpy as np
import pytest

from abis import abi_function
from chain.aave_v3 import Read, run_calls
from chain.scan import scan_devnet
from chain.transport import HttpTransport
from risk.book import PositionBook, mixes_liquidation_thresholds
from risk.liquidation import liquidatable

pytestmark = pytest.mark.devnet


def _compare(devnet, deployment) -> tuple[int, int, int]:
    """(borrowers checked, liquidatable, mixed-LT borrowers the floor moves by > 1e-7)."""
    with HttpTransport(devnet.rpc_url) as transport:
        snapshot = scan_devnet(deployment, transport=transport)
        market = snapshot.market("aave-devnet")
        assert market.protocol_version == "aave-v3.0"
        book = PositionBook.from_snapshot(snapshot)
        rows = [i for i, p in enumerate(snapshot.positions) if p.market == market.id]
        onchain = run_calls(
            transport, snapshot.block_number,
            [Read(deployment.aave.pool, abi_function("AavePool", "getUserAccountData"), (snapshot.positions[i].account,))
             for i in rows],
            what="getUserAccountData",
        )
    sub = book.select(np.array(rows))
    assert sub.floored_avg_lt.all()
    chain_hf = np.array([data[5] for data in onchain], dtype=np.float64) / 1e18
    float_hf = sub.health_factor()
    unfloored = PositionBook(sub.symbols, sub.prices_usd, sub.collateral, sub.debt, sub.liq_threshold, sub.liq_bonus,
                             sub.protocol_fee, sub.venue, sub.market).health_factor()
    owing = np.isfinite(float_hf)
    np.testing.assert_allclose(float_hf[owing], chain_hf[owing], rtol=1e-9)
    flags = liquidatable(sub.collateral, sub.debt, sub.liq_threshold, sub.prices_usd, sub.floored_avg_lt)
    np.testing.assert_array_equal(flags, owing & (chain_hf < 1.0))
    mixed = mixes_liquidation_thresholds(sub.collateral, sub.liq_threshold) & owing
    moved = int((np.abs(unfloored[mixed] / chain_hf[mixed] - 1.0) > 1e-7).sum())
    return len(rows), int(flags.sum()), moved


def test_float_health_factor_is_get_user_account_data(devnet, devnet_deployment):
    checked, liquidatable_now, moved = _compare(devnet, devnet_deployment)
    assert checked > 0 and liquidatable_now == 0
    assert moved > 0  # the floor matters on this population: without it the HF would be off


def test_float_liquidatable_set_after_a_drop(devnet_revert, devnet_deployment):
    devnet_revert.set_price_usd("WETH", 1_820)
    devnet_revert.mine(50)
    checked, liquidatable_now, _ = _compare(devnet_revert, devnet_deployment)
    assert checked > 0 and liquidatable_now > 0

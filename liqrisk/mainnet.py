"""Ethereum mainnet venues scanned by ``--source rpc``: addresses and deployment blocks.

Kept in one place so that a shipped market file can replace it.
"""

from __future__ import annotations

from typing import Any

MAINNET_CHAIN_ID = 1


def mainnet_sources() -> dict[str, Any]:
    """Ethereum mainnet venues scanned by ``--source rpc`` (addresses and deployment blocks from
    the project's protocol reference: Aave V3 Core, Prime and EtherFi, SparkLend, Morpho Blue,
    Compound V3 cUSDCv3). Prime's and EtherFi's deployment blocks are not in the reference: their
    scans start at Core's (earlier is safe, only slower on the first run). cWETHv3 is left out: its
    feeds are ETH-denominated, not USD."""
    from chain.markets import load_market_file
    from chain.scan import AaveSource, CometSource, MorphoSource

    return {
        "aave_pools": [
            AaveSource("0x2f39d218133AFaB8F2B819B1066c7E434Ad94E9e", "aave-core", "Aave V3 Core", 16291127),
            AaveSource("0xcfBf336fe147D643B9Cb705648500e101504B16d", "aave-prime", "Aave V3 Prime", 16291127),
            AaveSource("0xeBa440B438Ad808101d1c451C1C5322c90BEFCdA", "aave-etherfi", "Aave V3 EtherFi", 16291127),
            AaveSource("0x02C3eA4e34C0cBd694D2adFa2c690EECbC1793eE", "spark", "SparkLend", 16776401),
        ],
        "morpho": MorphoSource("0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb", start_block=18883124),
        "comets": [CometSource("0xc3d688B66703497DAA19211EEdff47f25384cdc3", "comet-usdc", "Compound V3 USDC", 15331586)],
        # Uniswap v3 pools for the on-chain liquidity model, from the shipped market file.
        "uniswap_pools": [p.address for p in load_market_file().networks["ethereum"].uniswap_v3_pools],
    }


__all__ = ["MAINNET_CHAIN_ID", "mainnet_sources"]

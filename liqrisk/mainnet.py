"""Ethereum mainnet venues scanned by ``--source rpc``: now derived from the shipped market file.

The addresses and deployment blocks live in ``chain/data/markets.toml`` (network ``ethereum``:
Aave V3 Core, Prime, EtherFi, SparkLend, Morpho Blue, Compound V3 USDC, Sky vaults, Uniswap v3
pools), each checked against the protocol's address book (the file's ``checked`` fields).
"""

from __future__ import annotations

from typing import Any

MAINNET_CHAIN_ID = 1


def mainnet_sources() -> dict[str, Any]:
    """``chain.scan.scan_snapshot`` keyword arguments for every market of the shipped file's
    ``ethereum`` network (``sources`` in file order, ``uniswap_pools``)."""
    from chain.markets import load_market_file

    _, net = load_market_file().network_for_chain(MAINNET_CHAIN_ID)
    return net.scan_kwargs()


__all__ = ["MAINNET_CHAIN_ID", "mainnet_sources"]

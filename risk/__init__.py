"""liqrisk's pure numeric engine: no I/O, no web3.

Typical use (see README): Snapshot -> PositionBook -> bands -> cascade table -> Monte Carlo.
"""

from risk.bands import Band, BandReport, LiquidationMap, liquidation_bands, liquidation_map
from risk.book import PositionBook
from risk.cascade import CascadeTable, cascade_grid
from risk.liquidation_prices import (
    DriverThresholds,
    LiquidationPrices,
    Side,
    driver_thresholds,
    liquidation_prices,
    liquidation_prices_for,
)
from risk.liquidity import (
    ConstantDepth,
    ImpactTable,
    LiquidityModel,
    NoImpact,
    SquareRootImpact,
    default_constant_depth,
    default_square_root,
)
from risk.sample import sample_snapshot, synthetic_book
from risk.snapshot import Asset, EModeCategory, Market, Position, Reserve, Snapshot

__all__ = [
    "Asset", "Band", "BandReport", "CascadeTable", "ConstantDepth", "DriverThresholds", "EModeCategory",
    "ImpactTable", "LiquidationMap", "LiquidationPrices", "LiquidityModel", "Market", "NoImpact", "Position",
    "PositionBook", "Reserve", "Side", "Snapshot", "SquareRootImpact", "cascade_grid", "default_constant_depth",
    "default_square_root", "driver_thresholds", "liquidation_bands", "liquidation_map", "liquidation_prices",
    "liquidation_prices_for", "sample_snapshot", "synthetic_book",
]

"""Compound V3 (Comet) reader: assets, prices and borrower positions at one block.

Reads ``baseToken`` / ``baseTokenPriceFeed`` / ``baseScale``, ``numAssets`` + ``getAssetInfo(i)``,
prices via ``getPrice(priceFeed)`` (8 decimals, in the market's numeraire: USD for cUSDCv3, ETH
for cWETHv3), and per account ``userBasic`` (principal < 0 = borrower), ``borrowBalanceOf``
(accrued to the block) and ``userCollateral`` for every asset (safer than trusting the
``assetsIn`` bit layout, which differs with the extended asset list).

Snapshot mapping (Market venue ``compound_v3``, ``price_unit`` 1e8):
- collateral reserve: ``ltv_wad`` = borrowCollateralFactor, ``liquidation_threshold_wad`` =
  liquidateCollateralFactor, ``liquidation_bonus_wad`` = ``floor(1e36 / liquidationFactor)``:
  ``absorb`` credits the account ``liquidationFactor`` × the collateral's value, i.e. the
  protocol takes ``1/liquidationFactor`` of collateral value per unit of debt cleared — the
  Aave-style "collateral per debt repaid" reading of the bonus (documented approximation:
  Comet's storefront discount for the eventual buyer is not in it);
- base reserve: not collateral, bonus ``WAD``;
- ``Position.debt`` = ``borrowBalanceOf`` (accrued to the block timestamp). Comet's own
  ``isLiquidatable`` view uses the *stored* indices (last accrual) — on a real Comet the two can
  differ by the interest since the last accrual; ``CometMarketData`` keeps both indices.

Works against the devnet's ``CometDouble`` (no ``totalsBasic``: its indices are the public
constants ``baseSupplyIndex`` / ``baseBorrowIndex``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from abis import abi_function, named_outputs
from chain.aave_v3 import Read, ReaderError, checksum, require_contract, run_calls
from chain.blocks import PinnedBlock
from chain.transport import Transport
from risk.snapshot import WAD, Market, Position, Reserve

log = logging.getLogger(__name__)

PRICE_UNIT = 10**8
BASE_INDEX_SCALE = 10**15


def _fn(name: str):
    return abi_function("Comet", name)


@dataclass(frozen=True, slots=True)
class CometAssetInfo:
    offset: int
    asset: str
    price_feed: str
    scale: int
    borrow_collateral_factor_wad: int
    liquidate_collateral_factor_wad: int
    liquidation_factor_wad: int
    supply_cap_raw: int
    price: int | None  # getPrice(priceFeed), 8 decimals; None when it reverts (Comet's BadPrice on answer <= 0)


@dataclass(frozen=True, slots=True)
class CometMarketData:
    comet: str
    base_token: str
    base_price_feed: str
    base_scale: int
    base_price: int | None  # None when getPrice(baseTokenPriceFeed) reverts: Comet cannot value any account
    base_supply_index: int  # stored (last accrual), BASE_INDEX_SCALE = 1e15
    base_borrow_index: int
    assets: tuple[CometAssetInfo, ...]

    def to_market(self, symbols: Mapping[str, str], *, market_id: str, name: str) -> Market:
        reserves = [
            Reserve(
                asset=symbols[a.asset],
                ltv_wad=a.borrow_collateral_factor_wad,
                liquidation_threshold_wad=a.liquidate_collateral_factor_wad,
                liquidation_bonus_wad=WAD * WAD // a.liquidation_factor_wad if a.liquidation_factor_wad else WAD,
                oracle_price=a.price,
                can_be_collateral=a.liquidate_collateral_factor_wad > 0,
                can_be_borrowed=False,
            )
            for a in self.assets
        ]
        reserves.append(
            Reserve(asset=symbols[self.base_token], ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=WAD,
                    oracle_price=self.base_price, can_be_collateral=False, can_be_borrowed=True)
        )
        return Market(id=market_id, venue="compound_v3", name=name, address=self.comet, protocol_version="compound-v3",
                      price_unit=PRICE_UNIT, reserves=tuple(reserves))


@dataclass(frozen=True, slots=True)
class CometPositionData:
    account: str
    principal: int  # signed, base units at index scale
    borrow_balance_raw: int  # borrowBalanceOf at the block
    collateral: Mapping[str, int] = field(default_factory=dict)  # asset address -> raw

    def to_position(self, symbols: Mapping[str, str], *, market_id: str, base_token: str) -> Position:
        debt = {symbols[base_token]: self.borrow_balance_raw} if self.borrow_balance_raw else {}
        return Position(market=market_id, account=self.account,
                        collateral={symbols[a]: v for a, v in self.collateral.items()}, debt=debt)


class CometReader:
    """Read one Comet (or the devnet's CometDouble)."""

    def __init__(self, transport: Transport, comet_address: str, *, market_id: str | None = None,
                 name: str | None = None) -> None:
        self.transport = transport
        self.address = checksum(comet_address, "Compound V3 Comet")
        self.market_id = market_id or f"compound-v3:{self.address.lower()}"
        self.name = name or "Compound V3"

    def read_market(self, block: PinnedBlock | int) -> CometMarketData:
        comet = require_contract(self.transport, self.address, block, "a Compound V3 Comet")
        first = run_calls(
            self.transport, block,
            [Read(comet, _fn(n)) for n in ("baseToken", "baseTokenPriceFeed", "baseScale", "numAssets", "totalsBasic",
                                           "baseSupplyIndex", "baseBorrowIndex")],
            what=f"Comet {comet}", allow_failure=True,
        )
        base_token, base_feed, base_scale, num_assets, totals, supply_index, borrow_index = first
        if base_token is None or base_feed is None or base_scale is None or num_assets is None:
            raise ReaderError(f"{comet} is a contract but not a Compound V3 Comet (baseToken/numAssets failed)")
        if totals is not None:
            basic = named_outputs("Comet", "totalsBasic", totals)
            supply_idx, borrow_idx = int(basic["baseSupplyIndex"]), int(basic["baseBorrowIndex"])
        elif supply_index is not None and borrow_index is not None:
            supply_idx, borrow_idx = int(supply_index[0]), int(borrow_index[0])
        else:
            raise ReaderError(f"Comet {comet}: neither totalsBasic() nor baseSupplyIndex()/baseBorrowIndex() answered")
        n = int(num_assets[0])
        infos = run_calls(self.transport, block, [Read(comet, _fn("getAssetInfo"), (i,)) for i in range(n)],
                          what=f"Comet {comet} assets")
        assets_raw = [named_outputs("Comet", "getAssetInfo", info) for info in infos]  # type: ignore[arg-type]
        feeds = [checksum(base_feed[0], "baseTokenPriceFeed")] + [checksum(a["priceFeed"], "priceFeed") for a in assets_raw]
        # A feed that reverts or answers <= 0 makes getPrice revert (Comet.sol: `if (price <= 0) revert
        # BadPrice()`, compound-finance/comet@17a6e7ac contracts/Comet.sol): kept as None, the scan skips
        # what depends on it (chain.scan).
        prices = run_calls(self.transport, block, [Read(comet, _fn("getPrice"), (f,)) for f in feeds],
                           what=f"Comet {comet} prices", allow_failure=True)
        assets = tuple(
            CometAssetInfo(
                offset=int(a["offset"]), asset=checksum(a["asset"], "asset"), price_feed=checksum(a["priceFeed"], "priceFeed"),
                scale=int(a["scale"]), borrow_collateral_factor_wad=int(a["borrowCollateralFactor"]),
                liquidate_collateral_factor_wad=int(a["liquidateCollateralFactor"]),
                liquidation_factor_wad=int(a["liquidationFactor"]), supply_cap_raw=int(a["supplyCap"]),
                price=None if p is None else int(p[0]),
            )
            for a, p in zip(assets_raw, prices[1:], strict=True)
        )
        return CometMarketData(comet, checksum(base_token[0], "baseToken"), feeds[0], int(base_scale[0]),
                               None if prices[0] is None else int(prices[0][0]), supply_idx, borrow_idx, assets)

    def read_positions(self, block: PinnedBlock | int, accounts: Iterable[str], market: CometMarketData, *,
                       include_suppliers: bool = False) -> list[CometPositionData]:
        """Borrowers (``principal < 0``) among ``accounts`` (all with ``include_suppliers``)."""
        accounts = sorted({checksum(a, "account") for a in accounts})
        if not accounts:
            return []
        comet = market.comet
        per_account = 2 + len(market.assets)
        reads: list[Read] = []
        for account in accounts:
            reads.append(Read(comet, _fn("userBasic"), (account,)))
            reads.append(Read(comet, _fn("borrowBalanceOf"), (account,)))
            reads += [Read(comet, _fn("userCollateral"), (account, a.asset)) for a in market.assets]
        decoded = run_calls(self.transport, block, reads, what=f"Comet {comet} positions")
        out = []
        for k, account in enumerate(accounts):
            row = decoded[k * per_account:(k + 1) * per_account]
            principal = int(named_outputs("Comet", "userBasic", row[0])["principal"])  # type: ignore[arg-type]
            if principal >= 0 and not include_suppliers:
                continue
            borrow = int(row[1][0])  # type: ignore[index]
            collateral = {a.asset: int(r[0]) for a, r in zip(market.assets, row[2:], strict=True) if int(r[0])}  # type: ignore[index]
            out.append(CometPositionData(account, principal, borrow, collateral))
        return out

    def read(self, block: PinnedBlock | int, accounts: Iterable[str], symbols: Mapping[str, str]) -> tuple[Market, list[Position]]:
        market = self.read_market(block)
        positions = self.read_positions(block, accounts, market)
        return (market.to_market(symbols, market_id=self.market_id, name=self.name),
                [p.to_position(symbols, market_id=self.market_id, base_token=market.base_token) for p in positions])


__all__ = ["CometAssetInfo", "CometMarketData", "CometPositionData", "CometReader", "PRICE_UNIT"]

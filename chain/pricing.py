"""USD prices of a scan's tokens, and Morpho markets priced by their own oracles.

Two different questions, kept apart:

1. **What decides a liquidation** is each venue's own oracle, and the Snapshot keeps those
   answers as integers (Aave ``Reserve.oracle_price``, Comet ``Reserve.oracle_price``, Morpho
   ``Market.oracle_price_1e36``). For Morpho that is the market's ``IOracle.price()``: collateral
   in loan-token units, scaled by 1e36. The float engine reproduces it through the market's
   *oracle basis* (``risk.book.morpho_oracle_basis``), so USD prices below never change a
   Morpho health factor, only how it is reported in USD.
2. **USD for reports** (``Asset.price_usd``) comes from *anchors*, in this order, first found wins:

   a. an Aave oracle with USD base currency (``BASE_CURRENCY == address(0)``): ``price / unit``;
   b. a configured Chainlink-style USD feed for the token (:class:`UsdAnchors.chainlink_feeds`:
      ``latestRoundData().answer / 10**decimals()``, answer > 0);
   c. a Comet's ``getPrice`` (8 decimals) in the Comet's numeraire, turned into USD through its
      base token's USD price — read as USD when the base token has none (true for USD-numeraire
      Comets such as cUSDCv3, not for cWETHv3);
   d. a stated USD peg (:class:`UsdAnchors.usd_pegs`), meant for USD stablecoins and configured
      by address (never by symbol: anyone can deploy a token called USDC).

   A Morpho market's **loan token** needs an anchor: without one the market is skipped with
   that reason. Its **collateral** token, when no anchor prices it, is priced from the market's
   own oracle: ``price_1e36 / 1e36 × 10**(dc - dl) × P_loan`` (per whole token), taken from the
   market that lends the most USD against it. A collateral without ``decimals()`` is priced per
   raw unit (``price_1e36 / 1e36 × P_loan / 10**dl``): Morpho's math never needs its decimals.

A Morpho oracle is never used as an anchor for another market's loan token: oracles of
permissionless markets are whatever their creator deployed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from eth_abi import decode

from chain.aave_v3 import AaveMarketData, block_number, checksum
from chain.blocks import PinnedBlock
from chain.compound_v3 import PRICE_UNIT as COMET_PRICE_UNIT
from chain.compound_v3 import CometMarketData
from chain.morpho_blue import MorphoMarketData
from chain.multicall import Call, multicall
from chain.transport import Transport

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ORACLE_PRICE_SCALE = 10**36
LATEST_ROUND_DATA_SELECTOR = bytes.fromhex("feaf968c")  # latestRoundData()
DECIMALS_SELECTOR = bytes.fromhex("313ce567")  # decimals()


@dataclass(frozen=True, slots=True)
class UsdAnchors:
    """Configured USD anchors for tokens no scanned Aave pool prices (addresses, any case).

    ``chainlink_feeds``: token -> Chainlink-style aggregator answering USD (``latestRoundData``,
    ``decimals``). ``usd_pegs``: token -> stated USD price (e.g. 1.0 for a USD stablecoin).
    """

    chainlink_feeds: Mapping[str, str] = field(default_factory=dict)
    usd_pegs: Mapping[str, float] = field(default_factory=dict)

    def normalized(self) -> "UsdAnchors":
        feeds = {checksum(t, "chainlink_feeds token"): checksum(f, "chainlink feed") for t, f in self.chainlink_feeds.items()}
        pegs: dict[str, float] = {}
        for token, usd in self.usd_pegs.items():
            value = float(usd)
            if not math.isfinite(value) or value <= 0:
                raise ValueError(f"usd_pegs[{token}]: a USD peg must be a positive number (got {usd!r})")
            pegs[checksum(token, "usd_pegs token")] = value
        return UsdAnchors(feeds, pegs)


@dataclass(frozen=True, slots=True)
class UsdPrice:
    """USD per whole token (per raw unit when the token has no decimals), and where it came from."""

    usd: float
    source: str


@dataclass
class UsdPricing:
    """Result of :func:`price_tokens`.

    ``prices``: token -> UsdPrice (anchors and Morpho-derived collateral prices).
    ``morpho_skipped``: Morpho market id (0x-hex) -> reason it cannot be priced in USD.
    ``feed_problems``: token -> why its configured feed gave no price (informational).
    """

    prices: dict[str, UsdPrice] = field(default_factory=dict)
    morpho_skipped: dict[str, str] = field(default_factory=dict)
    feed_problems: dict[str, str] = field(default_factory=dict)

    def usd(self, token: str) -> float | None:
        found = self.prices.get(token)
        return found.usd if found is not None else None


def read_chainlink_feeds(transport: Transport, block: PinnedBlock | int,
                         feeds: Mapping[str, str]) -> tuple[dict[str, float], dict[str, str]]:
    """USD per token from ``{token: feed}`` at ``block`` (one multicall): ``answer / 10**decimals``.

    A feed that reverts, answers <= 0 or has no ``decimals()`` gives no price (reason returned).
    Staleness (``updatedAt``) is not judged here: the feed's answer at the block is what a
    protocol reading it would use.
    """
    items = sorted(feeds.items())
    if not items:
        return {}, {}
    calls = [Call(f, LATEST_ROUND_DATA_SELECTOR) for _, f in items] + [Call(f, DECIMALS_SELECTOR) for _, f in items]
    results = multicall(transport, calls, block_number(block))
    prices: dict[str, float] = {}
    problems: dict[str, str] = {}
    n = len(items)
    for k, (token, feed) in enumerate(items):
        round_data, dec = results[k], results[n + k]
        if not round_data.success or len(round_data.data) < 160:
            problems[token] = f"Chainlink feed {feed}: latestRoundData() failed"
            continue
        if not dec.success or len(dec.data) < 32 or int.from_bytes(dec.data[:32], "big") > 36:
            problems[token] = f"Chainlink feed {feed}: decimals() failed"
            continue
        _, answer, _, _, _ = decode(["uint80", "int256", "uint256", "uint256", "uint80"], bytes(round_data.data[:160]))
        if answer <= 0:
            problems[token] = f"Chainlink feed {feed}: answer {answer} is not a price"
            continue
        prices[token] = answer / 10 ** int.from_bytes(dec.data[:32], "big")
    return prices, problems


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0


def price_tokens(
    transport: Transport,
    block: PinnedBlock | int,
    *,
    aave: Sequence[tuple[str, AaveMarketData]] = (),
    comets: Sequence[CometMarketData] = (),
    morpho: Sequence[MorphoMarketData] = (),
    decimals: Mapping[str, int | None],
    anchors: UsdAnchors | None = None,
) -> UsdPricing:
    """USD prices of the venues' tokens by the anchors of the module docstring, then Morpho
    collateral from the markets' own oracles.

    ``aave``: ``(market_id, AaveMarketData)`` per pool. ``decimals``: token -> decimals (None =
    unknown). Morpho markets whose oracle answer is missing or zero are not priced here (the
    scan skips them for that reason first).
    """
    anchors = (anchors or UsdAnchors()).normalized()
    out = UsdPricing()
    prices = out.prices
    # a. Aave USD oracles.
    for market_id, market in aave:
        if market.base_currency != ZERO_ADDRESS:
            continue  # not USD: its answers are not USD prices
        for r in market.reserves:
            if r.price_base and r.price_base > 0 and r.asset not in prices:
                prices[r.asset] = UsdPrice(r.price_base / market.base_currency_unit, f"aave:{market_id}")
    # b. Configured Chainlink feeds (read only for tokens still without a price).
    feeds = {t: f for t, f in anchors.chainlink_feeds.items() if t not in prices}
    feed_prices, out.feed_problems = read_chainlink_feeds(transport, block, feeds)
    for token, usd in feed_prices.items():
        prices.setdefault(token, UsdPrice(usd, f"chainlink:{anchors.chainlink_feeds[token]}"))
    # c. Comets.
    for comet in comets:
        base = prices.get(comet.base_token)
        if base is not None and comet.base_price and comet.base_price > 0:
            numeraire_usd = base.usd / (comet.base_price / COMET_PRICE_UNIT)
        else:
            numeraire_usd = 1.0  # USD-numeraire Comet: getPrice is USD
            if comet.base_price and comet.base_price > 0 and comet.base_token not in prices:
                prices[comet.base_token] = UsdPrice(comet.base_price / COMET_PRICE_UNIT, f"comet:{comet.comet}")
        for a in comet.assets:
            if a.asset not in prices and a.price and a.price > 0:
                prices[a.asset] = UsdPrice(a.price / COMET_PRICE_UNIT * numeraire_usd, f"comet:{comet.comet}")
    # d. Stated pegs.
    for token, usd in anchors.usd_pegs.items():
        prices.setdefault(token, UsdPrice(usd, "peg"))
    anchored = dict(prices)
    # Morpho: loan token anchored, collateral from the market's oracle when not anchored.
    candidates: dict[str, list[tuple[float, str, float]]] = {}  # collateral -> (borrowed USD, market id, USD)
    for m in sorted(morpho, key=lambda m: m.id):
        price = m.oracle_price_1e36
        if not price:
            continue
        loan = anchored.get(m.loan_token)
        dl, dc = decimals.get(m.loan_token), decimals.get(m.collateral_token)
        if dl is None:
            out.morpho_skipped[m.id] = (f"loan token {m.loan_token} has no decimals(): its amounts cannot be "
                                        f"valued in USD")
            continue
        if loan is None:
            out.morpho_skipped[m.id] = (f"no USD anchor for loan token {m.loan_token} (no scanned Aave pool "
                                        f"prices it, no configured Chainlink feed, no stated USD peg)")
            continue
        if m.collateral_token in anchored:
            continue
        # loan raw units per collateral whole token (per raw unit without collateral decimals)
        loan_raw_per_collateral = price / ORACLE_PRICE_SCALE * 10.0 ** (dc if dc is not None else 0)
        usd = loan_raw_per_collateral * loan.usd / 10.0 ** dl
        if not _positive(usd):
            out.morpho_skipped[m.id] = (f"oracle {m.oracle} answer {price} gives collateral a USD price of "
                                        f"{usd!r}, outside float64")
            continue
        borrowed_usd = m.state.total_borrow_assets / 10.0 ** dl * loan.usd
        candidates.setdefault(m.collateral_token, []).append((borrowed_usd, m.id, usd))
    for token, options in candidates.items():
        _, market_id, usd = max(options, key=lambda o: (o[0], o[1]))
        prices[token] = UsdPrice(usd, f"morpho-oracle:{market_id}")
    return out


__all__ = ["UsdAnchors", "UsdPrice", "UsdPricing", "price_tokens", "read_chainlink_feeds"]

"""The Snapshot: every lending position of interest at one block, as the chain readers saw it.

This is the contract between ``chain/`` (which writes it) and ``risk/`` (which reads it). It
keeps the protocols' own integers (raw token units, oracle answers, WAD fractions) so that
exact boundary checks can use the protocol's integer math; :mod:`risk.book` is the one
boundary that turns it into float64 columns for the vectorized engine.

Units
-----
- token amounts: raw integer units of the token (``amount / 10**decimals`` tokens);
- ``*_wad``: fractions scaled by 1e18 (Aave bps are converted exactly: ``bps * 1e14``);
- ``Reserve.oracle_price``: the venue's own oracle answer in ``Market.price_unit`` units
  (Aave: base currency with ``BASE_CURRENCY_UNIT`` = 1e8 USD; Compound V3: 8 decimals);
- ``Market.oracle_price_1e36`` (Morpho Blue): price of one collateral unit in loan units
  scaled by 1e36, as ``IOracle.price()`` answers;
- ``Asset.price_usd``: the reference USD price the engine starts from (float), per whole token
  (per raw unit when ``Asset.decimals_source == "none"``: the token has no ``decimals()``).

What a scan could not read is listed in ``Snapshot.skipped`` (:class:`Skipped`): venue, market,
account (when one position was left out) and the reason. Every market and position not listed
there was read; a snapshot without the field (written before it existed) loads with none.

A venue plugin's own state (Liquity v2's branches, a venue's global limits) is in
``Snapshot.venue_state``: payloads keyed and validated by the models the plugins declare
(:mod:`risk.venue_state`); this module names no venue.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from risk.rules import RULE_CODE, RULE_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from risk.uniswap_v3 import PoolState

WAD = 10**18
BPS_TO_WAD = 10**14

def _registered_rule(name: str) -> str:
    if name not in RULE_CODE:
        raise ValueError(f"unknown liquidation rule {name!r}; registered: {', '.join(RULE_NAMES)}")
    return name


Venue = Annotated[str, AfterValidator(_registered_rule)]
"""Liquidation rule of a market: a name registered in :mod:`risk.rules` (an unknown one is refused).

Built in:

- ``aave_v30``: Aave v3.0-v3.2 and Spark: close factor per debt reserve, 50% while HF > 0.95,
  100% at or below; no dust rule; bad debt stays on the book.
- ``aave_v33``: Aave v3.3+: 50% of the *total* debt only when HF > 0.95 and both reserves are
  worth >= $2,000, else the whole reserve debt; $1,000 dust rule; deficit when collateral runs out.
- ``morpho_blue``: no close factor; LIF = min(1.15, 1/(1 - 0.3 (1 - LLTV))); bad debt socialised.
- ``compound_v3``: ``absorb`` takes all collateral and clears all debt; shortfall is bad debt.

Registered by plugins (``risk/venues/``), e.g.:

- ``sky_vault``: Sky/Maker (dss): ``Dog.bark`` takes the urn, a ``Clipper`` Dutch auction sells the
  collateral; bad debt = debt - proceeds (:mod:`risk.sky_vaults`).
- ``liquity_v2``: Liquity v2 (BOLD) troves, one Market per collateral branch: the whole trove closes
  below MCR, the Stability Pool offsets it (penalty 5%) with 0.5% gas compensation, the surplus
  returns to the owner; redistribution, shutdown and redemptions per branch in :mod:`risk.liquity_v2`.
- ``euler_v2``: Euler v2 (EVK vault through the EVC): discount = 1 - health, capped at the vault's
  ``maxLiquidationDiscount``; the whole debt in one call; debt socialised when collateral runs out
  (:mod:`risk.euler_v2`; ``liq_bonus`` = 1 / (1 - maxLiquidationDiscount)).
- ``fluid_vault``: Fluid vault T1: above the liquidation threshold liquidated down to it with the
  vault's penalty, above the liquidation max limit absorbed whole (:mod:`risk.fluid_vaults`; the
  book's ``protocol_fee`` column carries the max limit). No reader yet.
"""

VENUES: tuple[str, ...] = RULE_NAMES
"""Registered rule names in code order (the book's ``venue`` codes index this)."""


class _Frozen(BaseModel):
    # allow_inf_nan=False: a NaN or infinite price is refused, never carried into the engine.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Asset(_Frozen):
    symbol: str = Field(min_length=1)
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    decimals: int = Field(ge=0, le=36)
    price_usd: float = Field(gt=0, description="reference USD price at the snapshot block")
    price_source: str = Field(default="", description="where price_usd comes from, e.g. 'aave:aave-core', "
                              "'chainlink:0x…', 'comet:0x…', 'peg', 'morpho-oracle:0x<market id>'")
    decimals_source: Literal["token", "venue", "none"] = Field(
        default="token",
        description="where ``decimals`` comes from: the token's decimals(); the venue's own record "
        "(Aave reserve config, Comet scale) because decimals() did not answer; or none — the token has "
        "no decimals() and is only held as Morpho collateral, so amounts and price_usd are per raw unit "
        "(decimals 0)",
    )


class Reserve(_Frozen):
    """Risk parameters of one asset in one market (eMode not applied)."""

    asset: str = Field(description="Asset.symbol")
    ltv_wad: int = Field(ge=0, le=WAD)
    liquidation_threshold_wad: int = Field(ge=0, le=WAD)
    liquidation_bonus_wad: int = Field(
        ge=0, description="collateral seized per unit of debt repaid, incl. principal (1.05e18 = 5%)"
    )
    protocol_fee_wad: int = Field(default=0, ge=0, le=WAD, description="share of the bonus part kept by the protocol")
    oracle_price: int | None = Field(default=None, ge=0, description="venue oracle answer in Market.price_unit")
    can_be_collateral: bool = True
    can_be_borrowed: bool = True
    paused: bool = Field(default=False, description="Aave: reserve paused — it still counts in the health factor, "
                         "but liquidationCall reverts (ReservePaused) for it as collateral or debt while paused")
    frozen: bool = Field(default=False, description="Aave: reserve frozen — no new supply/borrow; counts in the "
                         "health factor and liquidations proceed")


class EModeCategory(_Frozen):
    id: int = Field(ge=1, le=255)
    label: str = ""
    ltv_wad: int = Field(ge=0, le=WAD)
    liquidation_threshold_wad: int = Field(ge=0, le=WAD)
    liquidation_bonus_wad: int = Field(ge=0)
    collateral_assets: tuple[str, ...] = Field(description="symbols whose collateral uses this category's LT/bonus")


class Market(_Frozen):
    id: str = Field(min_length=1, description="unique in the snapshot, e.g. 'aave-core' or 'morpho:0xc54d…'")
    venue: Venue
    name: str
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="pool / Morpho / Comet contract")
    protocol_version: str = Field(default="", description="e.g. 'aave-v3.0', 'aave-v3.6', 'morpho-blue-1.0'")
    price_unit: int | None = Field(default=None, description="scale of Reserve.oracle_price (Aave BASE_CURRENCY_UNIT)")
    reserves: tuple[Reserve, ...]
    emode_categories: tuple[EModeCategory, ...] = ()
    # Morpho Blue only: one collateral, one loan asset per market.
    oracle_price_1e36: int | None = None
    lltv_wad: int | None = None
    rule_params: dict[str, int] = Field(
        default_factory=dict, description="the rule's per-market parameters (risk.rules.LiquidationRule.market_params), "
        "integers in the unit their name ends with, e.g. a target_health_factor_wad")

    @model_validator(mode="after")
    def _rule_params_match_the_rule(self) -> "Market":
        from risk.rules import rule

        declared = [name for name, _, _ in rule(self.venue).market_params]
        unknown = sorted(set(self.rule_params) - set(declared))
        missing = [name for name in declared if name not in self.rule_params]
        if unknown or missing:
            raise ValueError(f"market {self.id!r} (rule {self.venue!r}) rule_params: "
                             + "; ".join(([f"unknown {', '.join(unknown)}"] if unknown else [])
                                         + ([f"missing {', '.join(missing)}"] if missing else []))
                             + f" (the rule declares: {', '.join(declared) or 'none'})")
        if any(v < 0 for v in self.rule_params.values()):
            raise ValueError(f"market {self.id!r} rule_params must be >= 0")
        return self

    def reserve(self, symbol: str) -> Reserve:
        for reserve in self.reserves:
            if reserve.asset == symbol:
                return reserve
        raise KeyError(f"market {self.id!r} has no reserve {symbol!r}")


class Position(_Frozen):
    market: str = Field(description="Market.id")
    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    emode: int = Field(default=0, ge=0, le=255)
    collateral: dict[str, int] = Field(default_factory=dict, description="symbol -> raw token units enabled as collateral")
    debt: dict[str, int] = Field(default_factory=dict, description="symbol -> raw token units owed (interest accrued to the block)")

    @field_validator("collateral", "debt")
    @classmethod
    def _non_negative(cls, amounts: dict[str, int]) -> dict[str, int]:
        for symbol, amount in amounts.items():
            if amount < 0:
                raise ValueError(f"negative amount {amount} for {symbol}")
        return amounts


class Skipped(_Frozen):
    """Something a scan could not read, and why (the rest of the snapshot is complete without it)."""

    venue: str = Field(min_length=1, description="'aave_v3', 'morpho_blue' or 'compound_v3'")
    market: str = Field(min_length=1, description="the Market.id it would have had (or the venue's address)")
    account: str | None = Field(default=None, description="set when one position was left out, not the market")
    asset: str | None = Field(default=None, description="the token address at fault, when one is")
    reason: str = Field(min_length=1)


class UniswapV3Pool(_Frozen):
    """One Uniswap v3 pool at the snapshot block, as a swap reads it: ``slot0``, the in-range
    ``liquidity``, fee and spacing, and every initialized tick (from ``tickBitmap``) with its
    ``liquidityNet``. Token amounts through it are raw units; ``token0`` sorts below ``token1``
    by address, as in the pool. :meth:`state` gives the :class:`risk.uniswap_v3.PoolState`."""

    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    token0: str = Field(min_length=1, description="symbol")
    token1: str = Field(min_length=1, description="symbol")
    token0_address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    token1_address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    decimals0: int = Field(ge=0, le=36)
    decimals1: int = Field(ge=0, le=36)
    fee_pips: int = Field(ge=0, lt=1_000_000, description="500 = 0.05%")
    tick_spacing: int = Field(ge=1)
    sqrt_price_x96: int = Field(gt=0)
    tick: int
    liquidity: int = Field(ge=0)
    ticks: tuple[int, ...] = Field(default=(), description="initialized ticks, ascending")
    liquidity_net: tuple[int, ...] = Field(default=(), description="liquidityNet per initialized tick")

    @model_validator(mode="after")
    def _ticks_match(self) -> "UniswapV3Pool":
        if len(self.ticks) != len(self.liquidity_net):
            raise ValueError(f"pool {self.address}: ticks and liquidity_net differ in length")
        if any(b <= a for a, b in zip(self.ticks, self.ticks[1:])):
            raise ValueError(f"pool {self.address}: ticks must be strictly ascending")
        return self

    @property
    def name(self) -> str:
        return f"{self.token0}/{self.token1} {self.fee_pips / 1e4:g}%"

    def state(self) -> "PoolState":
        from risk.uniswap_v3 import PoolState

        return PoolState(self.sqrt_price_x96, self.tick, self.liquidity, self.fee_pips, self.tick_spacing,
                         self.ticks, self.liquidity_net)


class Snapshot(_Frozen):
    chain_id: int = Field(ge=1)
    block_number: int = Field(ge=0)
    block_timestamp: int = Field(ge=0, description="unix seconds of the pinned block")
    source: str = Field(default="", description="where it came from (RPC URLs are masked)")
    synthetic: bool = Field(default=False, description="True for generated sample data, never chain data")
    assets: tuple[Asset, ...]
    markets: tuple[Market, ...]
    positions: tuple[Position, ...]
    skipped: tuple[Skipped, ...] = Field(default=(), description="markets and positions the scan left out, with reasons")
    pools: tuple[UniswapV3Pool, ...] = Field(
        default=(), description="DEX pools read at the same block (liquidity the on-chain model uses)")
    venue_state: dict[str, Any] = Field(
        default_factory=dict, description="venue plugins' own state by key (risk.venue_state), each payload "
        "validated by the model its plugin declares, e.g. a venue's per-branch pool state")

    @field_validator("venue_state", mode="before")
    @classmethod
    def _venue_state_payloads(cls, raw: Any, info: ValidationInfo) -> dict[str, Any]:
        from risk.venue_state import validate_venue_state

        return dict(validate_venue_state(raw, from_json=info.mode == "json"))

    @model_validator(mode="after")
    def _references_resolve(self) -> "Snapshot":
        symbols = [a.symbol for a in self.assets]
        if len(set(symbols)) != len(symbols):
            raise ValueError("asset symbols must be unique")
        known = set(symbols)
        market_ids = [m.id for m in self.markets]
        if len(set(market_ids)) != len(market_ids):
            raise ValueError("market ids must be unique")
        for market in self.markets:
            for reserve in market.reserves:
                if reserve.asset not in known:
                    raise ValueError(f"market {market.id!r} names unknown asset {reserve.asset!r}")
        markets = {m.id: m for m in self.markets}
        seen: set[tuple[str, str]] = set()
        for position in self.positions:
            key = (position.market, position.account.lower())
            if key in seen:  # counted twice it would double the liquidations
                raise ValueError(f"position {position.account} in {position.market!r} appears more than once")
            seen.add(key)
            found = markets.get(position.market)
            if found is None:
                raise ValueError(f"position {position.account} names unknown market {position.market!r}")
            listed = {r.asset for r in found.reserves}
            for symbol in (*position.collateral, *position.debt):
                if symbol not in listed:
                    raise ValueError(f"position {position.account} in {found.id!r} holds unlisted asset {symbol!r}")
        return self

    def asset(self, symbol: str) -> Asset:
        for asset in self.assets:
            if asset.symbol == symbol:
                return asset
        raise KeyError(symbol)

    def market(self, market_id: str) -> Market:
        for market in self.markets:
            if market.id == market_id:
                return market
        raise KeyError(market_id)

    def to_json(self, *, indent: int | None = None) -> str:
        return self.model_dump_json(indent=indent)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Snapshot":
        # strict: a file is typed JSON, so "2000" where a price belongs is an error, not a number
        from risk.venue_state import convert_legacy_json

        return cls.model_validate_json(convert_legacy_json(text), strict=True)

    def save(self, path: str | Path) -> Path:
        """Write atomically (temp file + rename) so a killed run never leaves half a file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Snapshot":
        path = Path(path)
        try:
            return cls.from_json(path.read_bytes())
        except FileNotFoundError:
            raise FileNotFoundError(f"snapshot file not found: {path}") from None

    def to_frame(self) -> dict[str, Any]:
        """Holdings in long form, one row per (position, asset, collateral|debt) with a non-zero
        amount: ``position`` (index in ``positions``), ``account``, ``market``, ``venue``,
        ``emode``, ``symbol``, ``kind``, ``amount_raw`` (decimal string: raw units can exceed
        int64), ``amount`` (tokens) and ``value_usd`` (at ``Asset.price_usd``)."""
        import numpy as np

        from risk.frames import check_columns

        assets = {a.symbol: a for a in self.assets}
        venues = {m.id: m.venue for m in self.markets}
        rows: dict[str, list[Any]] = {k: [] for k in ("position", "account", "market", "venue", "emode", "symbol",
                                                      "kind", "amount_raw", "amount", "value_usd")}
        for i, p in enumerate(self.positions):
            for kind, holdings in (("collateral", p.collateral), ("debt", p.debt)):
                for symbol, raw in holdings.items():
                    if raw == 0:
                        continue
                    asset = assets[symbol]
                    tokens = raw / 10**asset.decimals
                    for key, value in (("position", i), ("account", p.account), ("market", p.market),
                                       ("venue", venues[p.market]), ("emode", p.emode), ("symbol", symbol),
                                       ("kind", kind), ("amount_raw", str(raw)), ("amount", tokens),
                                       ("value_usd", tokens * asset.price_usd)):
                        rows[key].append(value)
        dtypes = {"position": np.int64, "emode": np.int64, "amount": np.float64, "value_usd": np.float64}
        return check_columns({k: np.array(v, dtype=dtypes.get(k, np.str_)) for k, v in rows.items()})

    def to_pandas(self) -> Any:
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())


def morpho_lif_wad(lltv_wad: int) -> int:
    """Morpho Blue's liquidation incentive factor, exactly as ``Morpho.liquidate`` computes it.

    ``min(MAX_LIF, WAD * WAD / (WAD - CURSOR * (WAD - lltv) / WAD))`` with floor divisions
    (``wMulDown`` / ``wDivDown``), CURSOR = 0.3e18 and MAX_LIF = 1.15e18.
    """
    cursor_wad = 3 * 10**17
    max_lif_wad = 115 * 10**16
    denominator = WAD - (cursor_wad * (WAD - lltv_wad)) // WAD
    return min(max_lif_wad, (WAD * WAD) // denominator)


__all__ = [
    "Asset",
    "EModeCategory",
    "Market",
    "Position",
    "Reserve",
    "Skipped",
    "Snapshot",
    "UniswapV3Pool",
    "Venue",
    "VENUES",
    "WAD",
    "morpho_lif_wad",
]

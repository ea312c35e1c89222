"""Columnar position book: the float64 view of a Snapshot the vectorized engine works on.

Axis order everywhere: ``(n_positions, n_assets)``. Amounts are in *tokens* (not raw units),
prices in USD per token, fractions as plain floats (0.83 = 83%). This module is the one
boundary where the Snapshot's protocol integers become floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from risk.exact import aave_hf_rule
from risk.rules import rule
from risk.snapshot import WAD, VENUES, Market, Snapshot

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

Float64Array1D = NDArray[np.float64]
Float64Array2D = NDArray[np.float64]
Int8Array1D = NDArray[np.int8]
Int32Array1D = NDArray[np.int32]

VENUE_CODE: dict[str, int] = {venue: code for code, venue in enumerate(VENUES)}
"""Integer code of each venue rule in ``PositionBook.venue``."""


def _frozen(array: NDArray[Any]) -> NDArray[Any]:
    array.setflags(write=False)
    return array


BPS = 1e4
"""Basis points per unit: Aave's liquidation thresholds are whole bps."""

AVG_LT_SNAP_BPS = 1e-9
"""Float slack when flooring the average LT: ``1e4 * sum(v*LT) / sum(v)`` is computed with a
few ulps of error (ulp(1e4) ~ 2e-12), so an average that is a whole number of bps in exact
arithmetic may come out a hair below it; the slack keeps it on its integer. It moves where the
floored average steps by at most 1e-9 bps, far below a price grid of 1e-8 USD on any
realistic position."""


def counted_collateral_usd(
    collateral: Float64Array2D, liq_threshold: Float64Array2D, prices_usd: Float64Array1D | Float64Array2D
) -> Float64Array1D:
    """``sum(coll * p)`` over the assets that count as collateral (LT > 0), shape (n_rows,), USD."""
    value = collateral * np.broadcast_to(prices_usd, collateral.shape)
    counted: Float64Array1D = np.where(liq_threshold > 0, value, 0.0).sum(axis=1)
    return counted


def mixes_liquidation_thresholds(
    collateral: Float64Array2D, liq_threshold: Float64Array2D
) -> NDArray[np.bool_]:
    """Rows whose counted collateral (amount > 0, LT > 0) carries two or more *different* LTs,
    shape (n_rows,).

    Only those have an average LT that the floor can move: with one counted collateral, or
    several sharing one LT ``L``, the protocol's integer average ``floor(sum(V_i * L) / sum(V_i))``
    is exactly ``L``. Treating them as unfloored also keeps the float path off the floor's
    knife edge: an average that is exactly a whole bp in exact arithmetic, computed in floats
    with cancellation (a driver near -100%), could come out below it by more than any snap.
    LTs closer than half a bp are the same bp (Aave stores whole bps).
    """
    counted = (liq_threshold > 0) & (collateral > 0)
    highest = np.where(counted, liq_threshold, -np.inf).max(axis=1, initial=-np.inf)
    lowest = np.where(counted, liq_threshold, np.inf).min(axis=1, initial=np.inf)
    mixed: NDArray[np.bool_] = np.isfinite(highest) & (highest - lowest > 0.5 / BPS)
    return mixed


def risk_weighted_usd(
    collateral: Float64Array2D,
    liq_threshold: Float64Array2D,
    prices_usd: Float64Array1D | Float64Array2D,
    floored_avg_lt: NDArray[np.bool_] | None = None,
) -> Float64Array1D:
    """The numerator of the health factor as the protocol computes it, shape (n_rows,), USD.

    ``HF = risk_weighted_usd / debt_usd``. Plain rule (Morpho Blue, Compound V3, Aave v3.5+):
    ``sum(coll * LT * p)``. Rows with ``floored_avg_lt`` (Aave v3.0-v3.4): the value-weighted
    average LT is floored to whole bps first, ``T * floor(1e4 * sum(coll*LT*p) / T) / 1e4``
    with ``T = sum(coll * p)`` over the counted collateral —
    ``GenericLogic.calculateUserAccountData``, npm @aave/core-v3 1.19.3 (v3.0.2)
    ``contracts/protocol/libraries/logic/GenericLogic.sol`` lines 167-176
    (``avgLiquidationThreshold / totalCollateralInBaseCurrency``, then ``percentMul``).
    v3.5+ divides the un-averaged sum by the debt instead (aave-dao/aave-v3-origin
    ``src/contracts/protocol/libraries/logic/GenericLogic.sol`` at 00cec2283ba71bbb2330c637b8dc5b019e00adcc:
    ``avgLiquidationThreshold.wadDiv(totalDebtInBaseCurrency) / 100_00``), float-equal to the
    plain rule. A row with one counted collateral, or several sharing one LT, has an average equal
    to that LT: no floor (:func:`mixes_liquidation_thresholds`).

    ``prices_usd`` has shape (n_assets,) or (n_rows, n_assets).
    """
    prices = np.broadcast_to(prices_usd, collateral.shape)
    weighted: Float64Array1D = np.einsum("ij,ij->i", collateral * liq_threshold, prices)
    if floored_avg_lt is None:
        return weighted
    rows = np.flatnonzero(floored_avg_lt & mixes_liquidation_thresholds(collateral, liq_threshold))
    if rows.size == 0:
        return weighted
    total = counted_collateral_usd(collateral[rows], liq_threshold[rows], prices[rows])
    ok = total > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        avg_bps = np.floor(weighted[rows] / np.where(ok, total, 1.0) * BPS + AVG_LT_SNAP_BPS)
    out: Float64Array1D = weighted.copy()
    out[rows] = np.where(ok, total * avg_bps / BPS, weighted[rows])
    return out


def floors_average_lt(market: Market) -> bool:
    """Whether a market's health factor floors the average LT to bps (Aave v3.0-v3.4).

    From ``Market.protocol_version`` (``risk.exact.aave_hf_rule``). Which lines floor, as read in
    each line's ``GenericLogic.calculateUserAccountData``:

    - v3.0.2: floors — npm ``@aave/core-v3`` 1.19.3 ``contracts/protocol/libraries/logic/GenericLogic.sol``
      (``totalCollateralInBaseCurrency.percentMul(avgLiquidationThreshold)``, the average
      divided down first).
    - v3.1-v3.3: floors — aave-dao/aave-v3-origin @83b245abda2b69306408f2be5891581d82b359a2
      ``src/core/contracts/protocol/libraries/logic/GenericLogic.sol`` and aave/aave-v3-origin
      @738422471976101f11a90c48920493641c83aee5 ``src/contracts/.../GenericLogic.sol`` (the
      virtual-accounting/GHO branch of v3.1-v3.3): same ``percentMul`` of the floored average.
    - v3.4: taken to floor — no v3.4 ``GenericLogic.sol`` is in the reference index; the v3.4
      changelog (aave-dao/aave-v3-origin @3804d347 ``docs/3.4/Aave-v3.4-features.md``) lists no
      health-factor change, and the sum form arrives with v3.5's TokenMath rounding (inferred).
    - v3.5, v3.6: the un-averaged sum — aave-dao/aave-v3-origin @6512922b3b237c844a5aea016d20b4202b7476cb
      and @00cec2283ba71bbb2330c637b8dc5b019e00adcc ``src/contracts/protocol/libraries/logic/GenericLogic.sol``
      and npm ``@aave-dao/aave-v3-origin`` 3.6.0 (``avgLiquidationThreshold.wadDiv(totalDebt) / 100_00``
      before the division by the collateral; v3.5 docs ``docs/3.5/Aave-v3.5-features.md``:
      collateral value rounded down, debt up).
    - v3.7: the sum — ``docs/3.7/Aave-v3.7-changelog.md`` @4fbd7442: GenericLogic only gains a
      comment.

    An Aave market whose version
    does not parse (hand-written or synthetic snapshots) gets the floored rule: it is what every
    Aave line before v3.5 does, and it gives the lower of the two health factors (never a later
    liquidation than the chain's). Morpho Blue and Compound V3 have no average.
    """
    if market.venue not in ("aave_v30", "aave_v33"):
        return False
    try:
        return aave_hf_rule(market.protocol_version) == "avg"
    except ValueError:
        return True


@dataclass(frozen=True, eq=False)
class PositionBook:
    """Every position as columns.

    Attributes
    ----------
    symbols : tuple of str, length n_assets
    prices_usd : ndarray, shape (n_assets,), USD per token at the snapshot block
    collateral : ndarray, shape (n_positions, n_assets), tokens enabled as collateral
    debt : ndarray, shape (n_positions, n_assets), tokens owed
    liq_threshold : ndarray, shape (n_positions, n_assets), effective liquidation threshold
        (fraction; eMode applied; 0 where the asset is not collateral for that position)
    liq_bonus : ndarray, shape (n_positions, n_assets), collateral seized per unit of debt
        repaid, principal included (1.05 = 5% bonus)
    protocol_fee : ndarray, shape (n_positions, n_assets), share of the bonus part the
        protocol keeps (Aave's liquidation protocol fee)
    venue : ndarray of int8, shape (n_positions,), codes of :data:`VENUE_CODE`
    market : ndarray of int32, shape (n_positions,), index into ``market_ids``
    market_ids : tuple of str
    accounts : tuple of str, length n_positions (may be empty for synthetic books)
    floored_avg_lt : ndarray of bool, shape (n_positions,), the health-factor rule: True where
        the venue floors the value-weighted average LT to whole bps (Aave v3.0-v3.4), False for
        the plain ``sum(coll*LT*p) / debt`` (Morpho, Comet, Aave v3.5+); see
        :func:`risk_weighted_usd`. Defaults to all False.
    """

    symbols: tuple[str, ...]
    prices_usd: Float64Array1D
    collateral: Float64Array2D
    debt: Float64Array2D
    liq_threshold: Float64Array2D
    liq_bonus: Float64Array2D
    protocol_fee: Float64Array2D
    venue: Int8Array1D
    market: Int32Array1D
    market_ids: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    block_number: int | None = None
    floored_avg_lt: NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=bool))
    rule_params: Float64Array2D | None = None
    """Per-position market parameters of its rule (:attr:`risk.rules.LiquidationRule.market_params`),
    shape (n_positions, risk.rules.MARKET_PARAM_WIDTH), floats (1.05 = 1.05); ``None``: the rules'
    defaults (a book built without a snapshot)."""
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        n, a = self.collateral.shape
        if len(self.symbols) != a or self.prices_usd.shape != (a,):
            raise ValueError(f"symbols/prices must have length n_assets={a}")
        for name in ("debt", "liq_threshold", "liq_bonus", "protocol_fee"):
            if getattr(self, name).shape != (n, a):
                raise ValueError(f"{name} must have shape {(n, a)}, got {getattr(self, name).shape}")
        if self.venue.shape != (n,) or self.market.shape != (n,):
            raise ValueError("venue and market must have shape (n_positions,)")
        if self.accounts and len(self.accounts) != n:
            raise ValueError("accounts must be empty or have one entry per position")
        if np.any(self.prices_usd <= 0) or not np.all(np.isfinite(self.prices_usd)):
            raise ValueError("prices_usd must be finite and > 0")
        # Not given (or given as None): every row under the plain rule.
        given = self.floored_avg_lt is not None and np.size(self.floored_avg_lt) > 0
        floored = np.asarray(self.floored_avg_lt, dtype=bool) if given else np.zeros(n, dtype=bool)
        if floored.shape != (n,):
            raise ValueError("floored_avg_lt must have shape (n_positions,)")
        object.__setattr__(self, "floored_avg_lt", floored)
        if self.rule_params is None:
            from risk.rules import MARKET_PARAM_WIDTH, RULES, default_market_params

            # (an unknown code is refused where rows are liquidated, not here)
            defaults = {int(code): default_market_params(int(code)) for code in np.unique(self.venue)
                        if 0 <= code < len(RULES)} if MARKET_PARAM_WIDTH else {}
            params = np.zeros((n, MARKET_PARAM_WIDTH))
            for code, values in defaults.items():
                params[self.venue == code] = values
            object.__setattr__(self, "rule_params", params)
        elif self.rule_params.shape[0] != n:
            raise ValueError(f"rule_params must have {n} rows, got shape {self.rule_params.shape}")
        for name in ("prices_usd", "collateral", "debt", "liq_threshold", "liq_bonus", "protocol_fee", "venue", "market",
                     "floored_avg_lt", "rule_params"):
            _frozen(getattr(self, name))

    # -- shape ---------------------------------------------------------------------------
    @property
    def n_positions(self) -> int:
        return int(self.collateral.shape[0])

    @property
    def n_assets(self) -> int:
        return int(self.collateral.shape[1])

    def asset_index(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise KeyError(f"unknown asset {symbol!r}; the book has {', '.join(self.symbols)}") from None

    def asset_vector(self, values: Mapping[str, float], default: float = 0.0) -> Float64Array1D:
        """A per-asset vector in book order from a ``{symbol: value}`` mapping."""
        unknown = set(values) - set(self.symbols)
        if unknown:
            raise KeyError(f"unknown asset(s) {sorted(unknown)}; the book has {', '.join(self.symbols)}")
        return np.array([float(values.get(s, default)) for s in self.symbols])

    # -- derived columns -------------------------------------------------------------------
    @property
    def weighted_collateral(self) -> Float64Array2D:
        """``collateral * liq_threshold``, shape (n_positions, n_assets), tokens."""
        if "weighted_collateral" not in self._cache:
            self._cache["weighted_collateral"] = _frozen(self.collateral * self.liq_threshold)
        weighted: Float64Array2D = self._cache["weighted_collateral"]
        return weighted

    def risk_weighted_usd(self, prices_usd: Float64Array1D | None = None) -> Float64Array1D:
        """HF numerator per position as its venue computes it (:func:`risk_weighted_usd`), USD."""
        prices = self.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
        return risk_weighted_usd(self.collateral, self.liq_threshold, prices, self.floored_avg_lt)

    def health_factor(self, prices_usd: Float64Array1D | None = None) -> Float64Array1D:
        """HF per position, shape (n_positions,), as the venue computes it (Aave v3.0-v3.4: average
        LT floored to bps, see :func:`risk_weighted_usd`); inf without debt."""
        prices = self.prices_usd if prices_usd is None else np.asarray(prices_usd, dtype=np.float64)
        weighted = self.risk_weighted_usd(prices)
        debt_usd = self.debt @ prices
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(debt_usd > 0, weighted / np.where(debt_usd > 0, debt_usd, 1.0), np.inf)

    def collateral_usd(self, prices_usd: Float64Array1D | None = None) -> Float64Array1D:
        prices = self.prices_usd if prices_usd is None else prices_usd
        return self.collateral @ prices

    def debt_usd(self, prices_usd: Float64Array1D | None = None) -> Float64Array1D:
        prices = self.prices_usd if prices_usd is None else prices_usd
        return self.debt @ prices

    def with_prices(self, prices_usd: Mapping[str, float] | Float64Array1D) -> "PositionBook":
        """The same positions valued at other prices (e.g. a what-if spot)."""
        if isinstance(prices_usd, Mapping):
            vector = self.prices_usd.copy()
            for symbol, price in prices_usd.items():
                vector[self.asset_index(symbol)] = price
        else:
            vector = np.array(prices_usd, dtype=np.float64)
        return PositionBook(
            self.symbols, vector, self.collateral, self.debt, self.liq_threshold, self.liq_bonus,
            self.protocol_fee, self.venue, self.market, self.market_ids, self.accounts, self.block_number,
            self.floored_avg_lt, self.rule_params,
        )

    def select(self, rows: NDArray[np.bool_] | NDArray[np.intp]) -> "PositionBook":
        """A sub-book of some positions (boolean mask or indices)."""
        rows = np.asarray(rows)  # type: ignore[assignment]  # a list of indices is accepted too
        accounts = tuple(np.asarray(self.accounts, dtype=object)[rows]) if self.accounts else ()
        return PositionBook(
            self.symbols, self.prices_usd.copy(), self.collateral[rows], self.debt[rows],
            self.liq_threshold[rows], self.liq_bonus[rows], self.protocol_fee[rows],
            self.venue[rows], self.market[rows], self.market_ids, accounts, self.block_number,
            self.floored_avg_lt[rows], None if self.rule_params is None else self.rule_params[rows],
        )

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_snapshot(cls, snapshot: Snapshot) -> "PositionBook":
        """Convert protocol integers to float columns (the one unit boundary).

        eMode is applied here: a collateral asset listed in the position's eMode category uses
        the category's liquidation threshold and bonus, every other asset its reserve's.
        """
        symbols = tuple(a.symbol for a in snapshot.assets)
        column = {s: i for i, s in enumerate(symbols)}
        scale = np.array([10.0 ** a.decimals for a in snapshot.assets])
        n, a = len(snapshot.positions), len(symbols)
        collateral = np.zeros((n, a))
        debt = np.zeros((n, a))
        liq_threshold = np.zeros((n, a))
        liq_bonus = np.ones((n, a))
        protocol_fee = np.zeros((n, a))
        venue = np.zeros(n, dtype=np.int8)
        market_index = np.zeros(n, dtype=np.int32)
        market_ids = tuple(m.id for m in snapshot.markets)
        markets = {m.id: m for m in snapshot.markets}
        floors = {m.id: floors_average_lt(m) for m in snapshot.markets}
        floored_avg_lt = np.zeros(n, dtype=bool)
        # Per (market, eMode) parameter rows, built once.
        param_rows: dict[tuple[str, int], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

        def params(market_id: str, emode: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            key = (market_id, emode)
            if key not in param_rows:
                market = markets[market_id]
                lt, bonus, fee = np.zeros(a), np.ones(a), np.zeros(a)
                category = next((c for c in market.emode_categories if c.id == emode), None) if emode else None
                for reserve in market.reserves:
                    j = column[reserve.asset]
                    if not reserve.can_be_collateral:
                        continue
                    lt_wad, bonus_wad = reserve.liquidation_threshold_wad, reserve.liquidation_bonus_wad
                    if category is not None and reserve.asset in category.collateral_assets:
                        lt_wad, bonus_wad = category.liquidation_threshold_wad, category.liquidation_bonus_wad
                    lt[j] = lt_wad / WAD
                    bonus[j] = max(bonus_wad / WAD, 1.0)
                    fee[j] = reserve.protocol_fee_wad / WAD
                _apply_morpho_oracle_basis(snapshot, market, column, lt, bonus)
                param_rows[key] = (lt, bonus, fee)
            return param_rows[key]

        market_position = {m: i for i, m in enumerate(market_ids)}
        for i, position in enumerate(snapshot.positions):
            for symbol, amount in position.collateral.items():
                collateral[i, column[symbol]] = amount
            for symbol, amount in position.debt.items():
                debt[i, column[symbol]] = amount
            lt, bonus, fee = params(position.market, position.emode)
            liq_threshold[i] = lt
            liq_bonus[i] = bonus
            protocol_fee[i] = fee
            venue[i] = VENUE_CODE[markets[position.market].venue]
            market_index[i] = market_position[position.market]
            floored_avg_lt[i] = floors[position.market]
        collateral /= scale
        debt /= scale
        from risk.rules import MARKET_PARAM_WIDTH, market_param_scale

        market_params = np.zeros((len(market_ids), MARKET_PARAM_WIDTH))
        for m, market_id in enumerate(market_ids):
            declared = rule(markets[market_id].venue).market_params
            for k, (name, _, _) in enumerate(declared):
                market_params[m, k] = markets[market_id].rule_params[name] / market_param_scale(name)
        # Collateral that cannot back debt (LT 0, or not enabled) is not seizable either.
        liq_threshold[collateral == 0] = 0.0
        return cls(
            symbols=symbols,
            prices_usd=np.array([a.price_usd for a in snapshot.assets]),
            collateral=collateral,
            debt=debt,
            liq_threshold=liq_threshold,
            liq_bonus=liq_bonus,
            protocol_fee=protocol_fee,
            venue=venue,
            market=market_index,
            market_ids=market_ids,
            accounts=tuple(p.account for p in snapshot.positions),
            block_number=snapshot.block_number,
            floored_avg_lt=floored_avg_lt,
            rule_params=market_params[market_index],
        )

    # -- tables ----------------------------------------------------------------------------
    def to_frame(self) -> dict[str, np.ndarray]:
        """One row per position: ``account``, ``market_id``, ``venue``, ``collateral_usd``,
        ``debt_usd``, ``health_factor`` (at the book's prices), then ``collateral_<SYM>`` and
        ``debt_<SYM>`` in tokens for every asset."""
        from risk.frames import check_columns

        n = self.n_positions
        frame: dict[str, np.ndarray] = {
            "account": np.array(self.accounts, dtype=np.str_) if self.accounts else np.full(n, "", dtype=np.str_),
            "market_id": (np.array(self.market_ids, dtype=np.str_)[self.market] if self.market_ids
                          else np.full(n, "", dtype=np.str_)),
            "venue": np.array(VENUES, dtype=np.str_)[self.venue],
            "collateral_usd": self.collateral_usd(),
            "debt_usd": self.debt_usd(),
            "health_factor": self.health_factor(),
        }
        for j, symbol in enumerate(self.symbols):
            frame[f"collateral_{symbol}"] = self.collateral[:, j]
        for j, symbol in enumerate(self.symbols):
            frame[f"debt_{symbol}"] = self.debt[:, j]
        return check_columns(frame)

    def to_pandas(self) -> "pd.DataFrame":
        """:meth:`to_frame` as a ``pandas.DataFrame`` (needs the ``liqrisk[frames]`` extra)."""
        from risk.frames import to_pandas

        return to_pandas(self.to_frame())


def morpho_oracle_basis(snapshot: Snapshot, market: Market) -> float:
    """A Morpho market's oracle basis ``b = oracle / (P_coll_usd / P_loan_usd)``; 1.0 otherwise.

    ``oracle`` is the market's own answer in loan tokens per collateral token
    (``oracle_price_1e36 / 1e36 × 10**(dc - dl)``), the P's are the snapshot's USD prices. Morpho
    decides health with its oracle, not with USD prices: scaling the collateral's LT by ``b`` and
    its bonus by ``1/b`` makes the book's HF (``coll × P_c × LLTV·b / (debt × P_l)`` = ``coll ×
    oracle × LLTV / debt``) and seized tokens (``repaid × P_l × LIF/b / P_c`` = ``repaid × LIF /
    oracle``) Morpho's own at the snapshot. Under a scenario the oracle then moves with the USD
    ratio of its two legs: an ETH/USD move that moves both legs of wstETH/WETH leaves it alone, a
    depeg of the collateral leg moves it.
    """
    if market.venue != "morpho_blue" or not market.oracle_price_1e36:
        return 1.0
    collateral = next(r.asset for r in market.reserves if r.can_be_collateral)
    loan = next(r.asset for r in market.reserves if not r.can_be_collateral)
    coll_asset, loan_asset = snapshot.asset(collateral), snapshot.asset(loan)
    loan_per_collateral = market.oracle_price_1e36 / 1e36 * 10.0 ** (coll_asset.decimals - loan_asset.decimals)
    return loan_per_collateral / (coll_asset.price_usd / loan_asset.price_usd)


def _apply_morpho_oracle_basis(snapshot: Snapshot, market: Market, column: Mapping[str, int], lt: np.ndarray,
                               bonus: np.ndarray) -> None:
    basis = morpho_oracle_basis(snapshot, market)
    if basis != 1.0:
        j = column[next(r.asset for r in market.reserves if r.can_be_collateral)]
        lt[j] *= basis
        bonus[j] /= basis


def as_asset_vector(book: PositionBook, values: Mapping[str, float] | Sequence[float] | np.ndarray, *, default: float = 0.0) -> Float64Array1D:
    """Accept ``{symbol: value}`` or an array in book order; return shape (n_assets,)."""
    if isinstance(values, Mapping):
        return book.asset_vector(values, default)
    vector = np.asarray(values, dtype=np.float64)
    if vector.shape != (book.n_assets,):
        raise ValueError(f"expected {book.n_assets} values in book order {book.symbols}, got shape {vector.shape}")
    return vector

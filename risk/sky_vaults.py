"""Sky (Maker) vaults: the dss liquidation rule and the Clipper Dutch auction, exact and vectorized.

Two numeric layers, as for the other venues:

- the protocol's own integer math (``*_wad``, ``*_ray``, ``*_rad`` integers), copied from the dss
  sources and tested equal to the devnet's dss test double (``chain/contracts/DssDouble.sol``):
  ``makerdao/dss`` ``src/dog.sol`` (bark; read at commit 01c3a887b66fc8b61d61d003ade5d6094bde32dd,
  partial-liquidation branch — dusty remainder taken whole, dusty part reverts — as at commit
  3f30552a586264b32ebdb5bac94ba67020282e53, ``bark(ilk, urn, kpr)``), ``src/clip.sol`` (kick/status/take;
  commit 0057e942c94fa31d336a3c07539268ee16ddd913), ``src/abaci.sol`` (LinearDecrease,
  StairstepExponentialDecrease), ``src/spot.sol`` (poke) and ``src/vat.sol`` (the safety check);
- a float kernel over book rows (:func:`liquidate_vault_rows`), cross-checked against the plain
  loop in ``tests/risk/sky_reference.py``.

The rule (dss Liquidation 2.0):

- an urn is unsafe when ``ink * spot < art * rate`` with ``spot = price / par / mat``: in book terms
  ``HF = collateral * price * (1 / mat) / debt < 1``, so the liquidation threshold is ``1 / mat``;
- ``Dog.bark`` takes the whole urn (or what ``Hole - Dirt`` / ``hole - dirt`` allow: :class:`BarkRoom`
  in the float kernel, :func:`bark` in integers) and starts a ``Clipper`` auction with
  ``tab = debt * chop`` DAI to raise and ``lot = ink`` to sell;
- the auction starts at ``top = price * buf`` and falls along the ``Abacus`` curve; a keeper takes
  when the auction price is at or below what the collateral fetches in the market net of the
  keeper's own selling cost (the liquidity model's impact of the lot), unless the curve first falls
  below ``cusp * top`` or runs past ``tail`` seconds (the auction then needs ``redo``);
- the DAI raised goes to the Vow. Since the Vow books only ``art * rate`` as debt (``sin``), bad
  debt is ``max(0, debt - proceeds)`` — the penalty is collected only when proceeds exceed the debt
  (unlike the Aave-style ``debt - collateral / bonus``). Unsold collateral goes back to the owner.

Lockstake (LSE) ilks, e.g. ``LSEV2-SKY-A``: the urns are ordinary Vat urns (read and discovered
through the same Vat, ``frob`` notes), priced by the Spotter, barked by the same ``Dog``, so this
rule applies to them. What differs (makerdao/lockstake src/LockstakeClipper.sol @975f2ee0 ``kick``
/ ``take``, src/LockstakeEngine.sol @2138b2ac ``onKick``/``onTake``/``onRemove``): the auction runs in a
``LockstakeClipper`` (same ``buf``/``tail``/``cusp``/``calc`` getters, read the same way) whose
``kick`` calls ``engine.onKick`` (the urn's SKY is undelegated and unstaked, its lsSKY burnt) and
whose ``take`` hands the buyer SKY (``engine.onTake``): the collateral sold is SKY, the snapshot's
gem for the ilk. Unsold collateral goes back into the urn as ``ink`` (``onRemove``: ``vat.grab``),
less an exit-fee burn ``min(sold * fee / (WAD - fee), left)`` (``LockstakeEngine.onRemove``, the
same ``fee`` that ``free`` charges). Not modelled, because it changes nothing the liquidation math
counts: the burn comes out of ``left`` (what the auction did *not* sell, after it raised ``tab``), so
the collateral sold to the market, the DAI repaid and the bad debt are the same with or without it;
only the owner's refund (``returned_tokens``, which no engine total uses) is smaller, and the burnt
SKY is destroyed, never sold (and ``fee`` is 0 for LSEV2-SKY-A in the spell tests that set it up).

The ``Dog``'s limits: ``hole``/``dirt`` per ilk and ``Hole``/``Dirt`` are the Sky market's rule
parameters, and the engines carry ``hole - dirt`` and ``Hole - Dirt`` as consumable budgets
(``risk/venues/sky_vault.py``, :mod:`risk.budgets`): every bark draws its ``tab`` from both
through the rounds of a cascade grid point and the steps of a Monte Carlo path; nothing is given
back within the horizon (``Clipper.take`` -> ``Dog.digs`` as auctions settle is not modelled).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:  # pragma: no cover
    from risk.budgets import RowBudget

WAD = 10**18
RAY = 10**27
RAD = 10**45
BLN = 10**9

_DUST_USD = 1e-6


class DssRevert(ValueError):
    """The call would revert on chain; ``reason`` is dss's revert string."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------- exact math


def spot_ray(price_wad: int, mat_ray: int, par_ray: int = RAY) -> int:
    """``Spotter.poke``: ``rdiv(rdiv(val * 1e9, par), mat)`` (dss spot.sol)."""
    return ((price_wad * BLN * RAY) // par_ray) * RAY // mat_ray


def urn_unsafe(ink_wad: int, art_wad: int, rate_ray: int, spot: int) -> bool:
    """``Dog.bark``'s precondition: ``spot > 0 && ink * spot < art * rate``."""
    return spot > 0 and ink_wad * spot < art_wad * rate_ray


@dataclass(frozen=True, slots=True)
class Bark:
    """What ``Dog.bark`` takes from an urn: ``dink`` [wad], ``dart`` [wad], ``due`` = dart*rate [rad],
    ``tab`` = due*chop/WAD [rad] (the DAI the auction must raise)."""

    dink_wad: int
    dart_wad: int
    due_rad: int
    tab_rad: int


def bark(
    ink_wad: int, art_wad: int, *, rate_ray: int, spot_ray_: int, dust_rad: int, chop_wad: int,
    hole_rad: int, dirt_rad: int = 0, Hole_rad: int, Dirt_rad: int = 0,  # noqa: N803 - dss names
) -> Bark:
    """``Dog.bark`` (dss dog.sol), with its arithmetic and revert reasons."""
    if not urn_unsafe(ink_wad, art_wad, rate_ray, spot_ray_):
        raise DssRevert("Dog/not-unsafe")
    if not (Hole_rad > Dirt_rad and hole_rad > dirt_rad):
        raise DssRevert("Dog/liquidation-limit-hit")
    room = min(Hole_rad - Dirt_rad, hole_rad - dirt_rad)
    dart = min(art_wad, room * WAD // rate_ray // chop_wad)
    if art_wad > dart:
        if (art_wad - dart) * rate_ray < dust_rad:
            dart = art_wad  # avoid leaving a dusty vault
        elif dart * rate_ray < dust_rad:
            raise DssRevert("Dog/dusty-auction-from-partial-liquidation")
    dink = ink_wad * dart // art_wad
    if dink == 0:
        raise DssRevert("Dog/null-auction")
    due = dart * rate_ray
    return Bark(dink, dart, due, due * chop_wad // WAD)


def kick_top_ray(price_wad: int, buf_ray: int, par_ray: int = RAY) -> int:
    """``Clipper.kick``: ``top = rmul(rdiv(val * 1e9, par), buf)``."""
    return (price_wad * BLN * RAY // par_ray) * buf_ray // RAY


def rpow(x: int, n: int, base: int) -> int:
    """dss ``rpow`` (abaci.sol, "optimized version from dss PR #78"): rounding to nearest each step."""
    if n == 0:
        return base
    if x == 0:
        return 0
    z = base if n % 2 == 0 else x
    half = base // 2
    n //= 2
    while n:
        x = (x * x + half) // base
        if n % 2:
            z = (z * x + half) // base
        n //= 2
    return z


def stairstep_price_ray(top_ray: int, dur_s: int, *, step_s: int, cut_ray: int) -> int:
    """``StairstepExponentialDecrease.price``: ``rmul(top, rpow(cut, dur / step, RAY))``."""
    return top_ray * rpow(cut_ray, dur_s // step_s, RAY) // RAY


def linear_price_ray(top_ray: int, dur_s: int, *, tau_s: int) -> int:
    """``LinearDecrease.price``: ``rmul(top, (tau - dur) * RAY / tau)``, 0 once ``dur >= tau``."""
    if dur_s >= tau_s:
        return 0
    return top_ray * ((tau_s - dur_s) * RAY // tau_s) // RAY


def needs_redo(price_ray: int, top_ray: int, dur_s: int, *, tail_s: int, cusp_ray: int) -> bool:
    """``Clipper.status``: ``done = dur > tail || rdiv(price, top) < cusp``."""
    return dur_s > tail_s or price_ray * RAY // top_ray < cusp_ray


def take(tab_rad: int, lot_wad: int, price_ray: int, amt_wad: int, dust_rad: int) -> tuple[int, int]:
    """``Clipper.take``: ``(owe [rad], slice [wad])`` bought at ``price``, with the dust rule."""
    slice_ = min(lot_wad, amt_wad)
    owe = slice_ * price_ray
    if owe > tab_rad:
        owe = tab_rad
        slice_ = owe // price_ray
    elif owe < tab_rad and slice_ < lot_wad and tab_rad - owe < dust_rad:
        if tab_rad <= dust_rad:
            raise DssRevert("Clipper/no-partial-purchase")
        owe = tab_rad - dust_rad
        slice_ = owe // price_ray
    return owe, slice_


# ------------------------------------------------------------------------------- float model


@dataclass(frozen=True, slots=True)
class ClipperCurve:
    """A Clipper's auction parameters as floats (``buf``, ``cusp`` fractions; seconds).

    ``kind`` "stairstep" uses ``cut`` (per-``step`` multiplier); "linear" uses ``tau``.
    """

    buf: float
    tail_s: float
    cusp: float
    kind: str = "stairstep"
    cut: float = 0.99
    step_s: float = 90.0
    tau_s: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("stairstep", "linear"):
            raise ValueError(f"unknown Abacus kind {self.kind!r} (stairstep or linear)")
        if self.buf <= 0 or not 0 <= self.cusp < 1 or self.tail_s <= 0:
            raise ValueError("Clipper curve needs buf > 0, 0 <= cusp < 1, tail > 0")
        if self.kind == "stairstep" and not (0 < self.cut < 1 and self.step_s > 0):
            raise ValueError("stairstep curve needs 0 < cut < 1 and step > 0")
        if self.kind == "linear" and self.tau_s <= 0:
            raise ValueError("linear curve needs tau > 0")

    def clearing(self, reservation: NDArray[np.float64] | float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """First auction price at or below ``reservation`` (both as fractions of the kick price
        ``val``), and when it is reached (seconds). NaN price where the auction needs a redo first
        (curve below ``cusp * top`` or past ``tail``): with unchanged prices the redo restarts the
        same curve, so such an auction does not clear (its lot stays unsold)."""
        r = np.asarray(reservation, dtype=np.float64)
        top = self.buf
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "stairstep":
                k = np.where(r >= top, 0.0, np.ceil(np.log(np.maximum(r, 1e-300) / top) / math.log(self.cut) - 1e-12))
                k = np.maximum(k, 0.0)
                price = top * self.cut**k
                when = k * self.step_s
            else:
                frac = np.clip(r / top, 0.0, 1.0)
                when = np.ceil((1.0 - frac) * self.tau_s - 1e-9)
                price = top * (self.tau_s - when) / self.tau_s
        stalled = (when > self.tail_s) | (price / top < self.cusp) | ~(r > 0)
        return np.where(stalled, np.nan, price), np.where(stalled, np.nan, when)


def sale_price_ratio(curve: ClipperCurve, keeper_cost: NDArray[np.float64] | float = 0.0) -> NDArray[np.float64]:
    """Auction clearing price as a fraction of the oracle price, for keepers that need
    ``keeper_cost`` (fraction: the liquidity model's impact of selling the lot) below market."""
    price, _ = curve.clearing(1.0 - np.asarray(keeper_cost, dtype=np.float64))
    return price


# ------------------------------------------------------------------- liquidation limits (hole/Hole)


@dataclass(frozen=True, slots=True)
class BarkRoom:
    """``Dog`` liquidation limits as USD room per kernel call (one liquidation round).

    ``Dog.bark`` (makerdao/dss src/dog.sol @3f30552a586264b32ebdb5bac94ba67020282e53) caps the
    auction it starts: ``room = min(Hole - Dirt, ilk.hole - ilk.dirt)``, ``dart = min(art, room /
    rate / chop)``; it reverts ``Dog/liquidation-limit-hit`` when either room is gone, takes the
    whole urn when what a partial bark would leave is below ``dust`` and reverts
    ``Dog/dusty-auction-from-partial-liquidation`` when the part itself is below ``dust``; every
    bark adds its ``tab`` to ``Dirt`` and ``ilk.dirt`` (freed by ``Clipper.take`` through
    ``Dog.digs`` as auctions finish). In the float model one kernel call is one round in which the
    auctions started cannot free room, so the ``tab`` started per ilk and in total is capped by
    these rooms; an unsafe urn left without room stays as it is (not ``hit``) for a later round.

    ``group``: per row, the index of its ilk in ``ilk_room_usd`` / ``dust_usd`` (``-1``: no ilk
    limit). ``ilk_room_usd``: ``(hole - dirt) * par`` in USD per ilk; ``total_room_usd``: ``(Hole -
    Dirt) * par``; ``dust_usd``: the ilk's ``dust`` in USD. Urns are barked in row order (keepers'
    order is not fixed by the protocol: a modelling choice).
    """

    group: NDArray[np.int64]
    ilk_room_usd: NDArray[np.float64]
    total_room_usd: float = math.inf
    dust_usd: NDArray[np.float64] | None = None


def _bark_fractions(owed_usd: NDArray[np.float64], chop: NDArray[np.float64], rows_group: NDArray[np.int64],
                    room: BarkRoom) -> NDArray[np.float64]:
    """Per hit row (in order), the fraction of its debt ``Dog.bark`` takes under ``room`` (0: not barked)."""
    n_ilks = len(room.ilk_room_usd)
    cells_room = np.append(np.array(room.ilk_room_usd, dtype=np.float64), float(room.total_room_usd))
    groups = np.asarray(rows_group, dtype=np.int64)
    cells = np.stack([np.where(groups >= 0, groups, -1), np.full(groups.size, n_ilks)], axis=1)
    dust_ilk = np.zeros(n_ilks) if room.dust_usd is None else np.asarray(room.dust_usd, dtype=np.float64)
    dust = np.where(groups >= 0, dust_ilk[np.maximum(groups, 0)] if n_ilks else 0.0, 0.0)
    return bark_fractions(owed_usd, chop, dust, cells, cells_room, np.arange(groups.size))


def bark_fractions(owed: NDArray[np.float64], chop: NDArray[np.float64], dust: NDArray[np.float64],
                   cells: NDArray[np.int64], room: NDArray[np.float64], order: NDArray[np.int64]) -> NDArray[np.float64]:
    """The fraction of each unsafe urn's debt ``Dog.bark`` takes, urns barked in ``order`` (indices
    into the rows), drawing from the ``room`` cells in place.

    ``owed``, ``dust`` and ``room`` in one unit (DAI of the Vat, or USD at par); ``cells`` shape
    (n_rows, k): the cells of ``room`` each row draws from (``-1``: none); the room a bark sees is
    the smallest of its cells (dss ``min(Hole - Dirt, hole - dirt)``, makerdao/dss src/dog.sol
    @3f30552a586264b32ebdb5bac94ba67020282e53 ``bark``), and its ``tab = barked * chop`` is drawn
    from every one of them (``Dirt += tab; ilk.dirt += tab``). 0 where bark reverts
    (``Dog/liquidation-limit-hit``, ``Dog/dusty-auction-from-partial-liquidation``)."""
    fractions = np.zeros(len(owed))
    for k in np.asarray(order, dtype=np.int64).tolist():
        mine = [int(c) for c in cells[k] if c >= 0]
        available = min((float(room[c]) for c in mine), default=math.inf)
        if not available > 0:
            continue  # Dog/liquidation-limit-hit
        o, c = float(owed[k]), float(chop[k])
        barked = min(o, available / c)
        if barked < o:
            d = float(dust[k])
            if o - barked < d:
                barked = o  # avoid leaving a dusty vault (may exceed the room, as in dss)
            elif barked < d:
                continue  # Dog/dusty-auction-from-partial-liquidation
        fractions[k] = barked / o if o > 0 else 0.0
        tab = barked * c
        for cell in mine:
            room[cell] -= tab
    return fractions


@dataclass(frozen=True, eq=False)
class VaultOutcome:
    """Per row: ``sold_tokens`` (collateral the auction sold, goes to market), ``penalty_tokens``
    (the part of it paying ``chop``, kept by the Vow), ``repaid_tokens`` (debt covered),
    ``bad_debt_usd``, ``returned_tokens`` (unsold collateral given back to the owner) and ``hit``.
    Token arrays have shape (n_rows, n_assets)."""

    sold_tokens: NDArray[np.float64]
    penalty_tokens: NDArray[np.float64]
    repaid_tokens: NDArray[np.float64]
    returned_tokens: NDArray[np.float64]
    bad_debt_usd: NDArray[np.float64]
    hit: NDArray[np.bool_]


def liquidate_vault_rows(
    collateral: NDArray[np.float64],
    debt: NDArray[np.float64],
    liq_threshold: NDArray[np.float64],
    chop: NDArray[np.float64],
    prices_usd: NDArray[np.float64],
    sale_ratio: NDArray[np.float64],
    room: BarkRoom | None = None,
    *,
    budget: RowBudget | None = None,
    dust_dai: NDArray[np.float64] | None = None,
) -> VaultOutcome:
    """Bark every unsafe urn at ``prices_usd`` and settle its Clipper auction; in place.

    ``collateral``/``debt`` shape (n_rows, n_assets), tokens (updated: a barked urn is emptied);
    ``liq_threshold`` = 1/mat and ``chop`` (1.13 = 13% penalty) shape (n_rows, n_assets);
    ``prices_usd`` (n_assets,) or (n_rows, n_assets); ``sale_ratio`` shape (n_rows,): the auction's
    clearing price as a fraction of the collateral's price (NaN: the auction stalls, nothing sold
    and the whole debt is uncovered in the horizon). ``room``: the ``Dog``'s ``hole``/``Hole``
    limits (:class:`BarkRoom`); without it every unsafe urn is barked whole. With it an urn gets a
    partial bark (``dink = ink * dart / art``; the rest stays in the urn) or none, as
    :func:`bark` decides in integers.

    ``budget`` (instead of ``room``): the engine's consumable budgets (:class:`risk.budgets.RowBudget`,
    cells ``[ilk room, Dog room]`` per row, in DAI of the Vat, drawn from in place) and ``dust_dai``
    per row: the urns' DAI owed is their debt tokens (a vault owes only DAI, 1:1 to the Vat's rad),
    so the limits bind in the protocol's unit whatever DAI's USD price. Urns are barked largest debt
    first (ties: ``budget.priority``, the book order): keepers are paid ``tip + chip * tab``, so the
    biggest auctions are started first; which keeper order holds on chain the protocol does not fix.
    """
    n_rows, n_assets = collateral.shape
    p = np.broadcast_to(np.asarray(prices_usd, dtype=np.float64), collateral.shape)
    sold = np.zeros((n_rows, n_assets))
    penalty = np.zeros((n_rows, n_assets))
    repaid = np.zeros((n_rows, n_assets))
    returned = np.zeros((n_rows, n_assets))
    bad = np.zeros(n_rows)
    coll_usd = np.where(liq_threshold > 0, collateral * p, 0.0)
    debt_usd = debt * p
    owed = debt_usd.sum(axis=1)
    hit = (owed > _DUST_USD) & ((coll_usd * liq_threshold).sum(axis=1) < owed)
    rows = np.flatnonzero(hit)
    if rows.size == 0:
        return VaultOutcome(sold, penalty, repaid, returned, bad, hit)
    c = np.argmax(coll_usd[rows], axis=1)
    if room is None and budget is None:
        whole = np.ones(rows.size, dtype=bool)
        fraction = np.ones(rows.size)
    else:
        if budget is not None:
            owed_dai = debt[rows].sum(axis=1)
            order = np.lexsort((budget.priority[rows], -owed_dai))
            dust = np.zeros(rows.size) if dust_dai is None else np.asarray(dust_dai, dtype=np.float64)[rows]
            fraction = bark_fractions(owed_dai, chop[rows, c], dust, budget.cells[rows], budget.room, order)
        else:
            assert room is not None
            fraction = _bark_fractions(owed[rows], chop[rows, c], np.asarray(room.group)[rows], room)
        barked = fraction > 0
        hit[rows[~barked]] = False  # unsafe, but no room this round: left as it is
        rows, c, fraction = rows[barked], c[barked], fraction[barked]
        whole = fraction >= 1.0
        if rows.size == 0:
            return VaultOutcome(sold, penalty, repaid, returned, bad, hit)
    ratio = np.asarray(sale_ratio, dtype=np.float64)[rows]
    p_c = p[rows, c]
    lot = np.where(whole, collateral[rows, c], collateral[rows, c] * fraction)
    owed_barked = np.where(whole, owed[rows], owed[rows] * fraction)
    tab_usd = owed_barked * chop[rows, c]
    clears = np.isfinite(ratio) & (ratio > 0)
    sale_usd = np.where(clears, p_c * np.where(clears, ratio, 1.0), np.inf)
    sold_tokens = np.where(clears, np.minimum(lot, tab_usd / sale_usd), 0.0)
    proceeds = sold_tokens * np.where(clears, sale_usd, 0.0)
    covered = np.minimum(proceeds, owed_barked)
    share = np.where(owed[rows] > 0, covered / owed[rows], 0.0)  # of the urn's whole debt
    bad[rows] = owed_barked - covered
    sold[rows, c] = sold_tokens
    penalty[rows, c] = np.where(clears, (proceeds - covered) / sale_usd, 0.0)
    repaid[rows] = debt[rows] * share[:, None]
    returned[rows, c] = lot - sold_tokens
    collateral[rows, c] = np.where(whole, 0.0, collateral[rows, c] - lot)
    debt[rows] = np.where(whole[:, None], 0.0, debt[rows] * (1.0 - fraction)[:, None])
    return VaultOutcome(sold, penalty, repaid, returned, bad, hit)


__all__ = [
    "BLN", "Bark", "BarkRoom", "ClipperCurve", "DssRevert", "RAD", "RAY", "VaultOutcome", "WAD", "bark", "kick_top_ray",
    "linear_price_ray", "liquidate_vault_rows", "needs_redo", "rpow", "sale_price_ratio", "spot_ray",
    "stairstep_price_ray", "take", "urn_unsafe",
]


# ------------------------------------------------------------------------- book-column encoding


def encode_bonus_fee(chop: float, sale_ratio: float) -> tuple[float, float]:
    """The book columns of a vault: ``liq_bonus`` = collateral sold per unit of debt at the oracle
    price (``chop / sale_ratio``) and ``protocol_fee`` = the penalty's share of that bonus part
    (``(chop - 1) / (chop / sale_ratio - 1)``: the Vow keeps the penalty, the keeper the auction
    discount). Exactly invertible by :func:`decode_bonus_fee`."""
    bonus = chop / sale_ratio
    fee = (chop - 1.0) / (bonus - 1.0) if bonus > 1.0 else 0.0
    return bonus, fee


def decode_bonus_fee(bonus: NDArray[np.float64], fee: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(chop, sale_ratio)`` from the book's ``liq_bonus`` and ``protocol_fee`` columns."""
    chop = 1.0 + fee * (bonus - 1.0)
    return chop, chop / bonus


def liquidate_vault_rows_from_book(
    collateral: NDArray[np.float64], debt: NDArray[np.float64], liq_threshold: NDArray[np.float64],
    liq_bonus: NDArray[np.float64], protocol_fee: NDArray[np.float64], prices_usd: NDArray[np.float64],
    *, rule_params: NDArray[np.float64] | None = None, budget: RowBudget | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """The registry's kernel for ``sky_vault`` rows, in the shared kernel's terms: returns
    ``(seized, fee, repaid tokens, bad_debt_usd, hit)``; seized = collateral the auction sold (the
    penalty part counted as protocol fee), updates ``collateral``/``debt`` in place. ``rule_params``:
    the ilk's :data:`SKY_PARAMS` per row (``dust`` used); ``budget``: the ``hole``/``Hole`` room
    (:func:`liquidate_vault_rows`)."""
    n_rows = collateral.shape[0]
    chop, ratio_cols = decode_bonus_fee(liq_bonus, protocol_fee)
    p = np.broadcast_to(np.asarray(prices_usd, dtype=np.float64), collateral.shape)
    coll_usd = np.where(liq_threshold > 0, collateral * p, 0.0)
    c = np.argmax(coll_usd, axis=1)
    ratio = ratio_cols[np.arange(n_rows), c]
    dust = None if rule_params is None else np.asarray(rule_params, dtype=np.float64)[:, SKY_PARAMS.index("dust_rad")]
    out = liquidate_vault_rows(collateral, debt, liq_threshold, chop, prices_usd, ratio, budget=budget, dust_dai=dust)
    return out.sold_tokens, out.penalty_tokens, out.repaid_tokens, out.bad_debt_usd, out.hit


SKY_PARAMS: tuple[str, ...] = ("dust_rad", "hole_rad", "dirt_rad", "Hole_rad", "Dirt_rad")
"""The Sky rule's market parameters, in the kernel's column order (``risk/venues/sky_vault.py``
declares them; ``tests/risk/test_sky_budget.py`` checks the two agree)."""

__all__ += ["SKY_PARAMS", "bark_fractions", "decode_bonus_fee", "encode_bonus_fee", "liquidate_vault_rows_from_book"]

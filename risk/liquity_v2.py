"""Liquity v2 (BOLD): per-branch trove liquidation, redistribution, shutdown and redemptions.

Three numeric layers, as for the other venues:

- the protocol's own integer math (``*_wad`` = 1e18 fixed point, amounts in wei), copied from the
  liquity/bold sources read with the project's search tools and tested equal to the devnet's
  test double (``chain/contracts/LiquityV2Double.sol``) to the wei:

  * ``contracts/src/TroveManager.sol`` (liquity/bold @00aa9df025c8677e6f9a24695185dacf3483f0d0):
    ``batchLiquidateTroves`` / ``_batchLiquidateTroves`` / ``_liquidate``,
    ``_getCollGasCompensation``, ``_getOffsetAndRedistributionVals``, ``_getCollPenaltyAndSurplus``,
    ``_redistributeDebtAndColl`` (error feedback), ``_computeNewStake``,
    ``_updateSystemSnapshots_excludeCollRemainder``, ``_getLatestTroveData``, ``_getInterestPeriod``,
    ``redeemCollateral`` / ``_redeemCollateralFromTrove`` (zombie troves below ``MIN_DEBT``);
  * ``contracts/src/Dependencies/Constants.sol`` (@043b7464ed1dabdd6168b1fea08700e0f19401d7):
    MCR/CCR/SCR per branch (WETH 110/150/110%, wstETH and rETH 120/160/120%), SP penalty 5%,
    redistribution penalty 10% (WETH) / 20% (SETH), coll gas compensation 0.5% capped at 2 coll
    tokens, ``ETH_GAS_COMPENSATION`` 0.0375 WETH, ``MIN_DEBT`` 2,000 BOLD, ``MIN_BOLD_IN_SP`` 1 BOLD;
  * ``contracts/src/Dependencies/LiquityMath.sol`` (@32649c6d98abd5798f047b050ba0c78693d35cb7):
    ``_computeCR``; ``LiquityBase._calcInterest``: ``weightedDebt * period / ONE_YEAR / 1e18``;
  * ``BorrowerOperations.shutdown``: reverts ``TCRNotBelowSCR`` unless ``TCR < SCR``;
    ``CollateralRegistry.redeemCollateral``: a redemption is split over branches by their unbacked
    portion (branch debt - SP deposits).

- a float kernel over book rows for the engine's registry (:func:`liquidate_trove_rows_from_book`):
  the Stability Pool offset of each liquidated trove (penalty 5%, gas compensation, surplus back to
  the owner), cross-checked against the plain loop in ``tests/risk/liquity_reference.py``;

- a float branch model (:func:`liquidate_branch`): SP offset first, in the order of the batch, the
  rest redistributed to the other active troves by stake, round after round while redistribution
  pushes further troves below MCR; the branch's TCR afterwards and whether it is below SCR (the
  branch can be shut down). Cross-checked against the exact :func:`batch_liquidate` (1e-9) and a
  plain loop.

Modelling choices (not fixed by the protocol) are named where made: the engine's registry kernel
assumes the SP covers every liquidated trove (the report's Liquity section shows SP depth,
redistribution and shutdown per drawdown with the branch model); collateral sent to the SP and the
gas compensation count as sold to the market (depositors and liquidators sell it); the owner's
surplus (collateral above debt x (1 + penalty)) is returned, not sold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

DECIMAL_PRECISION = 10**18
WAD = DECIMAL_PRECISION
ONE_YEAR_S = 365 * 24 * 3600
COLL_GAS_COMPENSATION_DIVISOR = 200
COLL_GAS_COMPENSATION_CAP_WEI = 2 * 10**18
ETH_GAS_COMPENSATION_WEI = 375 * 10**14
MIN_BOLD_IN_SP_WEI = 10**18
MIN_DEBT_WEI = 2_000 * 10**18
MAX_UINT256 = 2**256 - 1

STATUS_NON_EXISTENT, STATUS_ACTIVE, STATUS_CLOSED_BY_OWNER, STATUS_CLOSED_BY_LIQUIDATION, STATUS_ZOMBIE = range(5)
"""``ITroveManager.Status`` (nonExistent, active, closedByOwner, closedByLiquidation, zombie)."""

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class BranchParams:
    """A collateral branch's constants (AddressesRegistry: MCR, CCR, SCR, penalties), WAD."""

    mcr_wad: int
    ccr_wad: int
    scr_wad: int
    penalty_sp_wad: int
    penalty_redistribution_wad: int


WETH_BRANCH = BranchParams(110 * 10**16, 150 * 10**16, 110 * 10**16, 5 * 10**16, 10 * 10**16)
SETH_BRANCH = BranchParams(120 * 10**16, 160 * 10**16, 120 * 10**16, 5 * 10**16, 20 * 10**16)
"""Constants.sol: WETH and staked-ETH (wstETH, rETH) branches."""
BRANCH_PARAMS_BY_SYMBOL: dict[str, BranchParams] = {"WETH": WETH_BRANCH, "wstETH": SETH_BRANCH, "rETH": SETH_BRANCH}


class LiquityRevert(ValueError):
    """The call would revert on chain; ``reason`` is the custom error's name."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------------------------- exact math


def compute_cr(coll_wei: int, debt_wei: int, price_wad: int) -> int:
    """``LiquityMath._computeCR``: ``coll * price / debt``; ``2**256 - 1`` without debt."""
    return coll_wei * price_wad // debt_wei if debt_wei > 0 else MAX_UINT256


def coll_gas_compensation(entire_coll_wei: int) -> int:
    """``TroveManager._getCollGasCompensation``: ``min(coll / 200, 2 ether)``."""
    return min(entire_coll_wei // COLL_GAS_COMPENSATION_DIVISOR, COLL_GAS_COMPENSATION_CAP_WEI)


def calc_interest(weighted_debt: int, period_s: int) -> int:
    """``LiquityBase._calcInterest``: ``weightedDebt * period / ONE_YEAR / DECIMAL_PRECISION``."""
    return weighted_debt * period_s // ONE_YEAR_S // DECIMAL_PRECISION


def interest_period(last_debt_update_time: int, now: int, shutdown_time: int = 0) -> int:
    """``TroveManager._getInterestPeriod``: up to now, or up to the shutdown time, or 0."""
    if shutdown_time == 0:
        return now - last_debt_update_time
    if last_debt_update_time < shutdown_time:
        return shutdown_time - last_debt_update_time
    return 0


def coll_penalty_and_surplus(coll_to_liquidate: int, debt_to_liquidate: int, penalty_wad: int,
                             price_wad: int) -> tuple[int, int]:
    """``_getCollPenaltyAndSurplus``: seized = min(coll, debt * (1 + penalty) / price), the rest surplus."""
    max_seized = debt_to_liquidate * (DECIMAL_PRECISION + penalty_wad) // price_wad
    if coll_to_liquidate > max_seized:
        return max_seized, coll_to_liquidate - max_seized
    return coll_to_liquidate, 0


@dataclass(frozen=True, slots=True)
class LiquidationValues:
    """``TroveManager.LiquidationValues`` of one trove (wei)."""

    coll_gas_compensation: int
    debt_to_offset: int
    coll_to_send_to_sp: int
    debt_to_redistribute: int
    coll_to_redistribute: int
    coll_surplus: int


def offset_and_redistribution(entire_debt: int, coll_to_liquidate: int, bold_in_sp_for_offsets: int,
                              price_wad: int, params: BranchParams) -> tuple[int, int, int, int, int]:
    """``_getOffsetAndRedistributionVals``: (debtToOffset, collToSendToSP, debtToRedistribute,
    collToRedistribute, collSurplus); the offset's surplus can be eaten by the redistribution penalty."""
    debt_to_offset = coll_sp_portion = coll_to_sp = coll_surplus = coll_to_redistribute = 0
    if bold_in_sp_for_offsets > 0:
        debt_to_offset = min(entire_debt, bold_in_sp_for_offsets)
        coll_sp_portion = coll_to_liquidate * debt_to_offset // entire_debt
        coll_to_sp, coll_surplus = coll_penalty_and_surplus(coll_sp_portion, debt_to_offset, params.penalty_sp_wad,
                                                            price_wad)
    debt_to_redistribute = entire_debt - debt_to_offset
    if debt_to_redistribute > 0:
        coll_redistribution_portion = coll_to_liquidate - coll_sp_portion
        if coll_redistribution_portion > 0:
            coll_to_redistribute, coll_surplus = coll_penalty_and_surplus(
                coll_redistribution_portion + coll_surplus, debt_to_redistribute,
                params.penalty_redistribution_wad, price_wad)
    return debt_to_offset, coll_to_sp, debt_to_redistribute, coll_to_redistribute, coll_surplus


def liquidate_trove(entire_debt: int, entire_coll: int, bold_in_sp_for_offsets: int, price_wad: int,
                    params: BranchParams) -> LiquidationValues:
    """``_liquidate``'s amounts for one trove (gas compensation first, then offset/redistribution)."""
    gas = coll_gas_compensation(entire_coll)
    vals = offset_and_redistribution(entire_debt, entire_coll - gas, bold_in_sp_for_offsets, price_wad, params)
    return LiquidationValues(gas, *vals)


@dataclass(frozen=True, slots=True)
class Trove:
    """A trove's stored state (``TroveManager.Troves`` + ``rewardSnapshots``), wei / WAD / seconds."""

    trove_id: int
    debt: int  # recorded debt
    coll: int
    stake: int
    status: int
    last_debt_update_time: int
    annual_interest_rate_wad: int
    snapshot_coll: int = 0  # rewardSnapshots[id].coll (L_coll when last touched)
    snapshot_debt: int = 0  # rewardSnapshots[id].boldDebt


@dataclass(frozen=True, slots=True)
class LatestTrove:
    """``TroveManager.getLatestTroveData`` (non-batched troves)."""

    entire_debt: int
    entire_coll: int
    redist_bold_debt_gain: int
    redist_coll_gain: int
    accrued_interest: int
    recorded_debt: int
    annual_interest_rate_wad: int
    weighted_recorded_debt: int


@dataclass(frozen=True, slots=True)
class BranchState:
    """The TroveManager / pool state the liquidation and redemption math reads and writes.

    ``troves`` in ``TroveIds`` array order; ``active_coll``/``default_coll``: ActivePool and
    DefaultPool collateral balances; ``sp_deposits``: ``StabilityPool.getTotalBoldDeposits``.
    """

    troves: tuple[Trove, ...]
    l_coll: int
    l_bold_debt: int
    last_coll_error: int
    last_debt_error: int
    total_stakes: int
    total_stakes_snapshot: int
    total_collateral_snapshot: int
    active_coll: int
    default_coll: int
    sp_deposits: int
    shutdown_time: int = 0

    def trove(self, trove_id: int) -> Trove:
        for t in self.troves:
            if t.trove_id == trove_id:
                return t
        raise KeyError(f"no trove {trove_id} in the branch")


def latest_trove(state: BranchState, t: Trove, now: int) -> LatestTrove:
    """``_getLatestTroveData``: pending redistribution gains by stake, interest since the last update."""
    redist_debt = t.stake * (state.l_bold_debt - t.snapshot_debt) // DECIMAL_PRECISION
    redist_coll = t.stake * (state.l_coll - t.snapshot_coll) // DECIMAL_PRECISION
    weighted = t.debt * t.annual_interest_rate_wad
    accrued = calc_interest(weighted, interest_period(t.last_debt_update_time, now, state.shutdown_time))
    return LatestTrove(t.debt + redist_debt + accrued, t.coll + redist_coll, redist_debt, redist_coll, accrued,
                       t.debt, t.annual_interest_rate_wad, weighted)


def current_icr(state: BranchState, t: Trove, price_wad: int, now: int) -> int:
    """``getCurrentICR``."""
    lt = latest_trove(state, t, now)
    return compute_cr(lt.entire_coll, lt.entire_debt, price_wad)


@dataclass(frozen=True, slots=True)
class BatchLiquidation:
    """What one ``batchLiquidateTroves`` call did: per liquidated trove its values, the totals,
    and the branch state after (redistribution applied to ``L_coll`` / ``L_boldDebt``)."""

    liquidated: tuple[tuple[int, LiquidationValues], ...]
    debt_to_offset: int
    coll_to_send_to_sp: int
    debt_to_redistribute: int
    coll_to_redistribute: int
    coll_surplus: int
    coll_gas_compensation: int
    eth_gas_compensation: int
    state: BranchState


def batch_liquidate(state: BranchState, trove_ids: Sequence[int], price_wad: int, now: int,
                    params: BranchParams) -> BatchLiquidation:
    """``TroveManager.batchLiquidateTroves(ids)`` at ``price`` and block time ``now``.

    Active or zombie troves with ICR < MCR are liquidated in the given order; the SP keeps
    ``min(1 BOLD, deposits)``; redistribution with the error feedback; stakes/collateral snapshots
    updated excluding the collateral gas compensation. Raises ``LiquityRevert`` like the contract
    (``EmptyData``, ``NothingToLiquidate``).
    """
    if not trove_ids:
        raise LiquityRevert("EmptyData")
    by_id = {t.trove_id: t for t in state.troves}
    bold_in_sp = state.sp_deposits - min(MIN_BOLD_IN_SP_WEI, state.sp_deposits)
    remaining = bold_in_sp
    done: list[tuple[int, LiquidationValues]] = []
    tot = [0, 0, 0, 0, 0, 0]
    closed: set[int] = set()
    for tid in trove_ids:
        t = by_id.get(tid)
        if t is None or t.status not in (STATUS_ACTIVE, STATUS_ZOMBIE) or tid in closed:
            continue
        lt = latest_trove(state, t, now)
        if compute_cr(lt.entire_coll, lt.entire_debt, price_wad) >= params.mcr_wad:
            continue
        vals = liquidate_trove(lt.entire_debt, lt.entire_coll, remaining, price_wad, params)
        remaining -= vals.debt_to_offset
        done.append((tid, vals))
        closed.add(tid)
        for k, v in enumerate((vals.debt_to_offset, vals.coll_to_send_to_sp, vals.debt_to_redistribute,
                               vals.coll_to_redistribute, vals.coll_surplus, vals.coll_gas_compensation)):
            tot[k] += v
    if not done:
        raise LiquityRevert("NothingToLiquidate")
    debt_off, coll_sp, debt_red, coll_red, surplus, gas = tot
    # _closeTrove removes the stakes; _movePendingTroveRewardsToActivePool moves each liquidated
    # trove's pending redistribution collateral from the DefaultPool to the ActivePool. After the
    # loop the ActivePool sends the SP its collateral (offset), the DefaultPool the redistributed
    # collateral, the CollSurplusPool the surplus; the snapshot is taken excluding the gas
    # compensation, which is sent to the liquidator last.
    total_stakes = state.total_stakes - sum(by_id[tid].stake for tid, _ in done)
    moved_coll = sum(latest_trove(state, by_id[tid], now).redist_coll_gain for tid, _ in done)
    active_coll = state.active_coll + moved_coll - coll_sp - coll_red - surplus
    default_coll = state.default_coll - moved_coll
    l_coll, l_debt = state.l_coll, state.l_bold_debt
    coll_err, debt_err = state.last_coll_error, state.last_debt_error
    if debt_red > 0:
        if total_stakes == 0:  # the contract's division by zero (every trove liquidated)
            raise LiquityRevert("division by zero: no trove left to redistribute to")
        coll_num = coll_red * DECIMAL_PRECISION + coll_err
        debt_num = debt_red * DECIMAL_PRECISION + debt_err
        coll_per = coll_num // total_stakes
        debt_per = debt_num // total_stakes
        coll_err = coll_num - coll_per * total_stakes
        debt_err = debt_num - debt_per * total_stakes
        l_coll += coll_per
        l_debt += debt_per
        default_coll += coll_red
    total_collateral_snapshot = active_coll - gas + default_coll
    active_final = active_coll - gas
    kept = tuple(t for t in state.troves if t.trove_id not in closed)
    new_state = replace(state, troves=kept, l_coll=l_coll, l_bold_debt=l_debt, last_coll_error=coll_err,
                        last_debt_error=debt_err, total_stakes=total_stakes, total_stakes_snapshot=total_stakes,
                        total_collateral_snapshot=total_collateral_snapshot, active_coll=active_final,
                        default_coll=default_coll, sp_deposits=state.sp_deposits - debt_off)
    return BatchLiquidation(tuple(done), debt_off, coll_sp, debt_red, coll_red, surplus, gas,
                            ETH_GAS_COMPENSATION_WEI * len(done), new_state)


def compute_new_stake(state: BranchState, coll: int) -> int:
    """``_computeNewStake``: ``coll`` before the first liquidation, else scaled by the snapshots."""
    if state.total_collateral_snapshot == 0:
        return coll
    return coll * state.total_stakes_snapshot // state.total_collateral_snapshot


def tcr(branch_coll_wei: int, branch_debt_wei: int, price_wad: int) -> int:
    """``LiquityBase._getTCR`` from ``getEntireBranchColl`` / ``getEntireBranchDebt``."""
    return compute_cr(branch_coll_wei, branch_debt_wei, price_wad)


def can_shut_down(branch_coll_wei: int, branch_debt_wei: int, price_wad: int, params: BranchParams) -> bool:
    """``BorrowerOperations.shutdown`` succeeds (no ``TCRNotBelowSCR``) iff ``TCR < SCR``."""
    return tcr(branch_coll_wei, branch_debt_wei, price_wad) < params.scr_wad


@dataclass(frozen=True, slots=True)
class RedemptionStep:
    trove_id: int
    bold_lot: int
    coll_lot: int
    coll_fee: int
    new_debt: int
    zombie: bool


def redeem(state: BranchState, sorted_ids_lowest_first: Sequence[int], bold_amount: int, price_wad: int,
           redemption_rate_wad: int, now: int, max_iterations: int = 0) -> tuple[RedemptionStep, ...]:
    """``TroveManager.redeemCollateral`` over the SortedTroves list from its tail (lowest interest
    rate first; no pending zombie trove): troves with ICR < 100% are skipped; each gives
    ``min(remaining, entireDebt)``; the collateral fee stays in the trove; a trove left below
    ``MIN_DEBT`` becomes a zombie (leaves the sorted list)."""
    by_id = {t.trove_id: t for t in state.troves}
    remaining = bold_amount
    iterations = max_iterations or len(sorted_ids_lowest_first)
    steps = []
    for tid in sorted_ids_lowest_first:
        if remaining == 0 or iterations == 0:
            break
        iterations -= 1
        t = by_id[tid]
        lt = latest_trove(state, t, now)
        if compute_cr(lt.entire_coll, lt.entire_debt, price_wad) < DECIMAL_PRECISION:
            continue
        lot = min(remaining, lt.entire_debt)
        corresponding = lot * DECIMAL_PRECISION // price_wad
        fee = corresponding * redemption_rate_wad // DECIMAL_PRECISION
        new_debt = lt.entire_debt - lot
        steps.append(RedemptionStep(tid, lot, corresponding - fee, fee, new_debt, new_debt < MIN_DEBT_WEI))
        remaining -= lot
    return tuple(steps)


def redemption_split(bold_amount: int, unbacked_portions: Sequence[int]) -> list[int]:
    """``CollateralRegistry.redeemCollateral``: each branch redeems ``amount * unbacked_i / total``
    (all branches pro rata to debt when none is unbacked)."""
    total = sum(unbacked_portions)
    if total == 0:
        return [0 for _ in unbacked_portions]
    return [bold_amount * u // total for u in unbacked_portions]


# ------------------------------------------------------------------------- float: registry kernel


@dataclass(frozen=True, eq=False)
class TroveRowsOutcome:
    """Per row (tokens, shape (n_rows, n_assets) unless noted): ``seized`` (collateral to the SP
    plus the gas compensation: sold to the market), ``gas`` (the liquidator's share of it),
    ``repaid`` (debt covered by the SP's BOLD), ``surplus`` (collateral returned to the owner),
    ``bad_debt_usd`` (n_rows,: the SP depositors' loss when the collateral is worth less than the
    debt) and ``hit``."""

    seized: FloatArray
    gas: FloatArray
    repaid: FloatArray
    surplus: FloatArray
    bad_debt_usd: FloatArray
    hit: BoolArray


_DUST_USD = 1e-6


def liquidate_trove_rows(collateral: FloatArray, debt: FloatArray, liq_threshold: FloatArray,
                         penalty_sp: FloatArray, prices_usd: FloatArray) -> TroveRowsOutcome:
    """Liquidate every row with ICR < MCR (``coll * price / MCR < debt``) against the Stability
    Pool, in place: the whole trove closes; ``min(coll/200, 2)`` tokens to the liquidator, then
    ``min(rest, debt * (1 + penalty) / price)`` to the SP, the rest back to the owner.

    ``liq_threshold`` = 1/MCR and ``penalty_sp`` (0.05) have shape (n_rows, n_assets); ``prices_usd``
    (n_assets,) or (n_rows, n_assets). A trove has one collateral asset (the row's largest).
    """
    n_rows, n_assets = collateral.shape
    p = np.broadcast_to(np.asarray(prices_usd, dtype=np.float64), collateral.shape)
    seized = np.zeros((n_rows, n_assets))
    gas = np.zeros((n_rows, n_assets))
    repaid = np.zeros((n_rows, n_assets))
    surplus = np.zeros((n_rows, n_assets))
    bad = np.zeros(n_rows)
    coll_usd = np.where(liq_threshold > 0, collateral * p, 0.0)
    owed = (debt * p).sum(axis=1)
    hit = (owed > _DUST_USD) & ((coll_usd * liq_threshold).sum(axis=1) < owed)
    rows = np.flatnonzero(hit)
    if rows.size == 0:
        return TroveRowsOutcome(seized, gas, repaid, surplus, bad, hit)
    c = np.argmax(coll_usd[rows], axis=1)
    coll = collateral[rows, c]
    p_c = p[rows, c]
    g = np.minimum(coll / COLL_GAS_COMPENSATION_DIVISOR, COLL_GAS_COMPENSATION_CAP_WEI / WAD)
    to_liquidate = coll - g
    owed_r = owed[rows]
    to_sp = np.minimum(to_liquidate, owed_r * (1.0 + penalty_sp[rows, c]) / p_c)
    proceeds = to_sp * p_c
    covered = np.minimum(proceeds, owed_r)
    share = np.where(owed_r > 0, covered / np.where(owed_r > 0, owed_r, 1.0), 0.0)
    bad[rows] = owed_r - covered
    seized[rows, c] = to_sp + g
    gas[rows, c] = g
    surplus[rows, c] = to_liquidate - to_sp
    repaid[rows] = debt[rows] * share[:, None]
    collateral[rows, c] = 0.0
    debt[rows] = 0.0
    return TroveRowsOutcome(seized, gas, repaid, surplus, bad, hit)


def liquidate_trove_rows_from_book(
    collateral: FloatArray, debt: FloatArray, liq_threshold: FloatArray, liq_bonus: FloatArray,
    protocol_fee: FloatArray, prices_usd: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, BoolArray]:
    """The registry's kernel for ``liquity_v2`` rows: the book's ``liq_bonus`` is ``1 + SP penalty``
    (``protocol_fee`` is 0: the penalty goes to SP depositors, not to the protocol). Returns
    ``(seized, fee, repaid tokens, bad_debt_usd, hit)`` and updates ``collateral``/``debt`` in place."""
    out = liquidate_trove_rows(collateral, debt, liq_threshold, liq_bonus - 1.0, prices_usd)
    return out.seized, np.zeros_like(out.seized), out.repaid, out.bad_debt_usd, out.hit


# --------------------------------------------------------------------------- float: branch model


@dataclass(frozen=True, slots=True)
class BranchFloatParams:
    mcr: float
    scr: float
    penalty_sp: float
    penalty_redistribution: float

    @classmethod
    def from_wad(cls, p: BranchParams) -> "BranchFloatParams":
        return cls(p.mcr_wad / WAD, p.scr_wad / WAD, p.penalty_sp_wad / WAD, p.penalty_redistribution_wad / WAD)


@dataclass(frozen=True, eq=False)
class BranchOutcome:
    """The branch after liquidating at ``price`` until no trove is below MCR (tokens / BOLD).

    Per trove (shape (n,)): ``liquidated`` and ``round`` (1 = first batch, 2 = pushed under MCR by
    the first batch's redistribution, ... 0 = not liquidated); ``coll``/``debt`` after (including
    redistribution gains). Totals: ``debt_offset``, ``coll_to_sp``, ``debt_redistributed``,
    ``coll_redistributed``, ``coll_surplus``, ``coll_gas``; ``sp_left``; ``sp_loss_bold`` (debt
    offset minus the value of the collateral the SP received, when positive); ``tcr_after`` and
    ``below_scr`` (the branch can be shut down); ``rounds``.
    """

    liquidated: BoolArray
    round: npt.NDArray[np.int64]
    coll: FloatArray
    debt: FloatArray
    debt_offset: float
    coll_to_sp: float
    debt_redistributed: float
    coll_redistributed: float
    coll_surplus: float
    coll_gas: float
    sp_left: float
    sp_loss_bold: float
    tcr_after: float
    below_scr: bool
    rounds: int


def liquidate_branch(coll: FloatArray, debt: FloatArray, stake: FloatArray, price: float, sp_deposits: float,
                     params: BranchFloatParams, *, extra_coll: float = 0.0, extra_debt: float = 0.0,
                     max_rounds: int = 64) -> BranchOutcome:
    """Float model of repeated ``batchLiquidateTroves`` on one branch at a fixed ``price``.

    Each round liquidates every trove with ``coll * price / debt < MCR`` in ascending-ICR order
    (a liquidator's choice: it decides which trove gets the SP first) against the SP (keeping 1
    BOLD), the rest redistributed to the remaining troves by stake; the next round sees the
    redistribution. ``extra_coll`` / ``extra_debt``: branch collateral and debt not in the troves
    given (e.g. in the DefaultPool but not yet applied), counted in the TCR.
    """
    coll = np.array(coll, dtype=np.float64)
    debt = np.array(debt, dtype=np.float64)
    stake = np.array(stake, dtype=np.float64)
    n = coll.size
    alive = debt > 0
    liquidated = np.zeros(n, dtype=bool)
    rnd = np.zeros(n, dtype=np.int64)
    sp = float(sp_deposits)
    totals = np.zeros(6)  # offset, to_sp, redistributed debt, redistributed coll, surplus, gas
    sp_loss = 0.0
    rounds = 0
    while rounds < max_rounds:
        icr = np.where(alive, coll * price / np.where(debt > 0, debt, 1.0), np.inf)
        hit = alive & (icr < params.mcr)
        if not hit.any():
            break
        rounds += 1
        idx = np.flatnonzero(hit)
        idx = idx[np.argsort(icr[idx], kind="stable")]
        d, c = debt[idx], coll[idx]
        gas = np.minimum(c / COLL_GAS_COMPENSATION_DIVISOR, COLL_GAS_COMPENSATION_CAP_WEI / WAD)
        to_liq = c - gas
        available = max(sp - min(MIN_BOLD_IN_SP_WEI / WAD, sp), 0.0)
        before = np.concatenate([[0.0], np.cumsum(d)[:-1]])
        offset = np.clip(available - before, 0.0, d)
        sp_portion = np.where(d > 0, to_liq * offset / np.where(d > 0, d, 1.0), 0.0)
        max_sp = offset * (1.0 + params.penalty_sp) / price
        to_sp = np.minimum(sp_portion, max_sp)
        surplus_sp = sp_portion - to_sp
        red_debt = d - offset
        red_portion = to_liq - sp_portion
        max_red = red_debt * (1.0 + params.penalty_redistribution) / price
        pool = red_portion + surplus_sp
        red_coll = np.where((red_debt > 0) & (red_portion > 0), np.minimum(pool, max_red), 0.0)
        surplus = np.where((red_debt > 0) & (red_portion > 0), pool - red_coll, surplus_sp)
        totals += [offset.sum(), to_sp.sum(), red_debt.sum(), red_coll.sum(), surplus.sum(), gas.sum()]
        sp_loss += float(np.maximum(offset - to_sp * price, 0.0).sum())
        sp -= float(offset.sum())
        liquidated[idx] = True
        rnd[idx] = rounds
        alive[idx] = False
        coll[idx] = 0.0
        debt[idx] = 0.0
        stake_left = np.where(alive, stake, 0.0)
        total_stake = stake_left.sum()
        if red_debt.sum() > 0 and total_stake > 0:
            coll += stake_left * (red_coll.sum() / total_stake)
            debt += stake_left * (red_debt.sum() / total_stake)
    branch_coll = coll.sum() + extra_coll
    branch_debt = debt.sum() + extra_debt
    tcr_after = branch_coll * price / branch_debt if branch_debt > 0 else float("inf")
    t = [float(x) for x in totals]
    return BranchOutcome(liquidated, rnd, coll, debt, t[0], t[1], t[2], t[3], t[4], t[5], sp, sp_loss,
                         float(tcr_after), bool(tcr_after < params.scr), rounds)


def batch_liquidate_rounds(state: BranchState, price_wad: int, now: int, params: BranchParams,
                           max_rounds: int = 64) -> tuple[list[BatchLiquidation], BranchState]:
    """The exact counterpart of :func:`liquidate_branch`: ``batchLiquidateTroves`` of every trove
    below MCR in ascending-ICR order, repeated while redistribution pushes more troves under."""
    batches: list[BatchLiquidation] = []
    for _ in range(max_rounds):
        icrs = [(current_icr(state, t, price_wad, now), i, t.trove_id) for i, t in enumerate(state.troves)
                if t.status in (STATUS_ACTIVE, STATUS_ZOMBIE)]
        under = sorted((icr, i, tid) for icr, i, tid in icrs if icr < params.mcr_wad)
        if not under:
            break
        b = batch_liquidate(state, [tid for _, _, tid in under], price_wad, now, params)
        batches.append(b)
        state = b.state
    return batches, state


# ------------------------------------------------------------------------- redemption exposure


@dataclass(frozen=True, eq=False)
class RedemptionExposure:
    """Price-independent redemption risk of a branch: troves in redemption order (lowest rate first)
    with ``debt_in_front`` (BOLD redeemed before the trove is touched) and, per redemption volume,
    the troves hit and the debt redeemed."""

    order: npt.NDArray[np.int64]
    rates: FloatArray
    debt_in_front: FloatArray
    volumes: FloatArray
    troves_hit: npt.NDArray[np.int64]
    debt_redeemed: FloatArray


def redemption_exposure(rates: FloatArray, debts: FloatArray, volumes: Iterable[float],
                        order: Sequence[int] | None = None) -> RedemptionExposure:
    """Redemptions walk the SortedTroves list from the lowest interest rate: a trove is hit once
    the redeemed volume exceeds the debt of every trove before it. ``order``: the list order read
    from the chain (lowest rate first); default ascending rate (stable on ties)."""
    rates = np.asarray(rates, dtype=np.float64)
    debts = np.asarray(debts, dtype=np.float64)
    o = np.asarray(order, dtype=np.int64) if order is not None else np.argsort(rates, kind="stable")
    cum = np.cumsum(debts[o])
    in_front = np.concatenate([[0.0], cum[:-1]])
    v = np.asarray(list(volumes), dtype=np.float64)
    hit = np.searchsorted(in_front, v, side="left").astype(np.int64)
    redeemed = np.minimum(v, cum[-1] if cum.size else 0.0)
    return RedemptionExposure(o, rates[o], in_front, v, hit, redeemed)


__all__ = [
    "BRANCH_PARAMS_BY_SYMBOL", "BatchLiquidation", "BranchFloatParams", "BranchOutcome", "BranchParams", "BranchState", "COLL_GAS_COMPENSATION_CAP_WEI",
    "COLL_GAS_COMPENSATION_DIVISOR", "DECIMAL_PRECISION", "ETH_GAS_COMPENSATION_WEI", "LatestTrove", "LiquidationValues",
    "LiquityRevert", "MIN_BOLD_IN_SP_WEI", "MIN_DEBT_WEI", "ONE_YEAR_S", "RedemptionExposure", "RedemptionStep",
    "SETH_BRANCH", "STATUS_ACTIVE", "STATUS_ZOMBIE", "Trove", "TroveRowsOutcome", "WAD", "WETH_BRANCH",
    "batch_liquidate", "batch_liquidate_rounds", "calc_interest", "can_shut_down", "coll_gas_compensation",
    "coll_penalty_and_surplus", "compute_cr", "compute_new_stake", "current_icr", "interest_period", "latest_trove",
    "liquidate_branch", "liquidate_trove", "liquidate_trove_rows", "liquidate_trove_rows_from_book",
    "offset_and_redistribution", "redeem", "redemption_exposure", "redemption_split", "tcr",
]

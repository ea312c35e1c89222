"""The liquidation-rule registry: every rule resolves, unknown rules are errors (never a silent
Aave default), and a registered kernel (the Sky vault rule) is what liquidate_rows runs for its rows
— checked against that rule's plain-loop reference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk import sky_vaults as sv
from risk.book import VENUE_CODE, PositionBook
from risk.liquidation import liquidate_rows
from risk.pair_classes import split_pair_classes
from risk.rules import RULE_NAMES, RULES, rule
from risk.snapshot import VENUES
from tests.risk.sky_reference import liquidate_vault_loop

SKY = VENUE_CODE["sky_vault"]


def test_registry_matches_the_snapshot_rules_and_rejects_unknown_ones():
    assert RULE_NAMES == VENUES
    assert [rule(n).name for n in RULE_NAMES] == list(RULE_NAMES)
    with pytest.raises(KeyError, match="unknown liquidation rule 'no_such_rule'"):
        rule("no_such_rule")
    with pytest.raises(KeyError, match="unknown liquidation rule code 99"):
        rule(99)
    assert all(r.description for r in RULES)


def _book(venue_code: int) -> PositionBook:
    n = 3
    coll = np.array([[10.0, 0.0]] * n)
    debt = np.array([[0.0, 15_000.0]] * n)
    return PositionBook(("WETH", "DAI"), np.array([2_000.0, 1.0]), coll, debt, np.array([[0.8, 0.0]] * n),
                        np.array([[1.05, 1.0]] * n), np.zeros((n, 2)), np.full(n, venue_code, dtype=np.int8),
                        np.zeros(n, dtype=np.int32))


def test_unknown_rule_code_is_an_error_in_the_kernel_and_the_fast_path():
    book = _book(len(RULES))
    with pytest.raises(KeyError, match="unknown liquidation rule code"):
        split_pair_classes(book)
    with pytest.raises(KeyError, match="unknown liquidation rule code"):
        liquidate_rows(book.collateral.copy(), book.debt.copy(), book.liq_threshold, book.liq_bonus,
                       book.protocol_fee, book.venue, np.array([1_000.0, 1.0]))


def test_sky_rows_never_take_the_pair_closed_form():
    classes, rest = split_pair_classes(_book(SKY))
    assert classes == [] and list(rest) == [0, 1, 2]
    classes, rest = split_pair_classes(_book(VENUE_CODE["morpho_blue"]))
    assert len(classes) == 1 and rest.size == 0


@settings(max_examples=100, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.floats(0.1, 500.0), st.floats(100.0, 1e6), st.floats(1.2, 1.8), st.floats(1.0, 1.2),
                          st.floats(0.5, 1.0), st.sampled_from(["sky_vault", "morpho_blue"])), min_size=1, max_size=20),
       st.floats(300.0, 3_000.0))
def test_liquidate_rows_dispatches_sky_rows_to_their_kernel(rows, eth):
    n = len(rows)
    coll = np.array([[r[0], 0.0] for r in rows])
    debt = np.array([[0.0, r[1]] for r in rows])
    lt = np.array([[1.0 / r[2], 0.0] for r in rows])
    bonus = np.ones((n, 2))
    fee = np.zeros((n, 2))
    for i, r in enumerate(rows):
        if r[5] == "sky_vault":
            bonus[i, 0], fee[i, 0] = sv.encode_bonus_fee(r[3], r[4])
        else:
            bonus[i, 0] = r[3]
    venue = np.array([VENUE_CODE[r[5]] for r in rows], dtype=np.int8)
    prices = np.array([eth, 1.0])
    out = liquidate_rows(coll.copy(), debt.copy(), lt, bonus, fee, venue, prices)
    sky = venue == SKY
    if not sky.any():
        return
    ref = liquidate_vault_loop(coll[sky].tolist(), debt[sky].tolist(), lt[sky].tolist(),
                               [[r[3], 1.0] for r in rows if r[5] == "sky_vault"], prices.tolist(),
                               [r[4] for r in rows if r[5] == "sky_vault"])
    for k, i in enumerate(np.flatnonzero(sky)):
        assert out.hit[i] == ref[k]["hit"]
        assert out.bad_debt_usd[i] == pytest.approx(ref[k]["bad"], rel=1e-9, abs=1e-6)
        assert out.seized_tokens[i, 0] == pytest.approx(ref[k]["sold"][0], rel=1e-9, abs=1e-9)
        assert out.protocol_fee_tokens[i, 0] == pytest.approx(ref[k]["penalty"][0], rel=1e-9, abs=1e-9)
        assert out.repaid_tokens[i, 1] == pytest.approx(ref[k]["repaid"][1], rel=1e-9, abs=1e-9)


def test_bonus_fee_encoding_round_trips():
    bonus, fee = sv.encode_bonus_fee(1.13, 0.92)
    chop, ratio = sv.decode_bonus_fee(np.array(bonus), np.array(fee))
    assert float(chop) == pytest.approx(1.13) and float(ratio) == pytest.approx(0.92)

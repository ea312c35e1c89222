"""Conformance suite over every registered liquidation rule (the scikit-learn ``check_estimator``
idea): whatever ``risk/venues/`` or a ``liqrisk.rules`` entry point registers is checked here
without a line added to this file.

Per rule:

- it documents its parameter columns and declares a plain-loop reference
  (``LiquidationRule.reference``, kept with the tests) and the kernel :func:`risk.liquidation.liquidate_rows`
  dispatches to agrees with it (rel 1e-9) on random books;
- invariants: healthy rows are untouched; seized <= collateral and fee <= seized per asset;
  collateral and debt never grow; debt is conserved (repaid + bad debt + debt left = debt before);
  bad debt >= 0; being liquidatable is monotone in the collateral price (a lower price never
  rescues a position);
- JSON round trip of a Snapshot whose market carries the rule; an unknown rule name and an unknown
  field are refused with a message naming them;
- the pair-class fast path (:mod:`risk.pair_classes`) takes the rule's rows only if it declares it.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from risk.book import VENUE_CODE, PositionBook
from risk.liquidation import liquidatable, liquidate_rows
from risk.pair_classes import split_pair_classes
from risk.rules import PARAMETER_COLUMNS, RULES, LiquidationRule, rule
from risk.snapshot import VENUES, Asset, Market, Position, Reserve, Snapshot

RULE_IDS = [r.name for r in RULES]
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
N_ASSETS = 3
PRICES = [2_000.0, 60_000.0, 1.0]


def reference_of(r: LiquidationRule):
    """The rule's declared plain-loop reference (``module:function``), else the convention."""
    spec = r.reference or f"tests.risk.reference_{r.name}:liquidate_position"
    module, _, function = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        pytest.fail(f"rule {r.name!r} (registered by {r.module}) has no plain-loop reference {spec!r} ({exc}): "
                    f"set LiquidationRule.reference to 'module:function' kept with the tests")


def test_every_rule_is_in_the_snapshot_vocabulary_and_resolves():
    assert VENUES == tuple(RULE_IDS) and len(set(RULE_IDS)) == len(RULE_IDS)
    for code, r in enumerate(RULES):
        assert rule(r.name) is r and rule(code) is r and VENUE_CODE[r.name] == code
    with pytest.raises(KeyError, match="unknown liquidation rule 'no_such_rule'"):
        rule("no_such_rule")


@pytest.mark.parametrize("name", RULE_IDS)
def test_rule_documents_its_columns_and_reference(name):
    r = rule(name)
    assert r.description and r.module
    assert tuple(c for c, _ in r.columns) == PARAMETER_COLUMNS and all(text for _, text in r.columns)
    assert callable(reference_of(r))


# ------------------------------------------------------------------------------ random books

amount = st.one_of(st.just(0.0), st.floats(1e-3, 1e4))
row_strategy = st.tuples(
    st.lists(amount, min_size=N_ASSETS, max_size=N_ASSETS),           # collateral tokens
    st.lists(st.one_of(st.just(0.0), st.floats(1.0, 5e7)), min_size=N_ASSETS, max_size=N_ASSETS),  # debt, USD
    st.lists(st.floats(0.3, 0.95), min_size=N_ASSETS, max_size=N_ASSETS),   # LT
    st.lists(st.floats(1.0, 1.2), min_size=N_ASSETS, max_size=N_ASSETS),    # bonus
    st.lists(st.floats(0.0, 0.5), min_size=N_ASSETS, max_size=N_ASSETS),    # fee
)
book_strategy = st.lists(row_strategy, min_size=1, max_size=12)


def _arrays(rows):
    coll = np.array([r[0] for r in rows], dtype=np.float64)
    debt = np.array([[usd / p for usd, p in zip(r[1], PRICES)] for r in rows], dtype=np.float64)
    lt = np.array([r[2] for r in rows], dtype=np.float64)
    lt[coll == 0] = 0.0
    bonus = np.array([r[3] for r in rows], dtype=np.float64)
    fee = np.array([r[4] for r in rows], dtype=np.float64)
    return coll, debt, lt, bonus, fee


def _run(code, coll, debt, lt, bonus, fee, prices):
    c, d = coll.copy(), debt.copy()
    out = liquidate_rows(c, d, lt, bonus, fee, np.full(len(coll), code, dtype=np.int8), np.asarray(prices))
    return c, d, out


@pytest.mark.parametrize("name", RULE_IDS)
@SETTINGS
@given(rows=book_strategy)
def test_kernel_agrees_with_the_plain_loop(name, rows):
    code = VENUE_CODE[name]
    reference = reference_of(rule(name))
    coll, debt, lt, bonus, fee = _arrays(rows)
    c_after, d_after, out = _run(code, coll, debt, lt, bonus, fee, PRICES)
    for i in range(len(rows)):
        rc, rd = coll[i].tolist(), debt[i].tolist()
        seized, fees, repaid, bad, hit = reference(rc, rd, lt[i].tolist(), bonus[i].tolist(), fee[i].tolist(), PRICES)
        assert bool(out.hit[i]) == bool(hit), (name, i)
        assert out.bad_debt_usd[i] == pytest.approx(bad, rel=1e-9, abs=1e-6)
        for k in range(N_ASSETS):
            assert out.seized_tokens[i, k] == pytest.approx(seized[k], rel=1e-9, abs=1e-9)
            assert out.protocol_fee_tokens[i, k] == pytest.approx(fees[k], rel=1e-9, abs=1e-9)
            assert out.repaid_tokens[i, k] == pytest.approx(repaid[k], rel=1e-9, abs=1e-9)
            assert c_after[i, k] == pytest.approx(rc[k], rel=1e-9, abs=1e-9)
            assert d_after[i, k] == pytest.approx(rd[k], rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("name", RULE_IDS)
@SETTINGS
@given(rows=book_strategy)
def test_kernel_invariants(name, rows):
    code = VENUE_CODE[name]
    coll, debt, lt, bonus, fee = _arrays(rows)
    prices = np.array(PRICES)
    before = liquidatable(coll, debt, lt, np.broadcast_to(prices, coll.shape))
    c_after, d_after, out = _run(code, coll, debt, lt, bonus, fee, prices)
    tol = 1e-9
    # healthy rows are untouched
    assert not out.hit[~before].any()
    assert np.array_equal(c_after[~before], coll[~before]) and np.array_equal(d_after[~before], debt[~before])
    # nothing grows; seized within collateral, fee within seized; bad debt >= 0
    assert (c_after <= coll * (1 + tol) + tol).all() and (d_after <= debt * (1 + tol) + tol).all()
    assert (out.seized_tokens >= -tol).all() and (out.protocol_fee_tokens >= -tol).all()
    assert (out.seized_tokens <= coll * (1 + tol) + tol).all()
    assert (out.protocol_fee_tokens <= out.seized_tokens * (1 + tol) + tol).all()
    assert (c_after + out.seized_tokens <= coll * (1 + 1e-7) + 1e-7).all()
    assert (out.bad_debt_usd >= -tol).all()
    # debt is conserved: repaid + bad debt + left = before (USD)
    before_usd = (debt * prices).sum(axis=1)
    after_usd = ((d_after + out.repaid_tokens) * prices).sum(axis=1) + out.bad_debt_usd
    assert after_usd == pytest.approx(before_usd, rel=1e-7, abs=1e-4)


@pytest.mark.parametrize("name", RULE_IDS)
@SETTINGS
@given(rows=book_strategy, asset=st.integers(0, N_ASSETS - 1))
def test_liquidatable_is_monotone_in_the_collateral_price(name, rows, asset):
    """Lowering one collateral's price never turns a liquidated position into an untouched one."""
    code = VENUE_CODE[name]
    coll, debt, lt, bonus, fee = _arrays(rows)
    debt[:, asset] = 0.0  # the moving asset is collateral only, so a lower price only hurts
    hits = []
    for factor in (1.0, 0.8, 0.5, 0.2):
        prices = np.array(PRICES)
        prices[asset] *= factor
        hits.append(_run(code, coll, debt, lt, bonus, fee, prices)[2].hit)
    for higher, lower in zip(hits, hits[1:]):
        assert not (higher & ~lower).any()


# ------------------------------------------------------------------------------ the fast path


@pytest.mark.parametrize("name", RULE_IDS)
def test_pair_fast_path_only_when_declared(name):
    n = 4
    book = PositionBook(("WETH", "DAI"), np.array([2_000.0, 1.0]), np.array([[10.0, 0.0]] * n),
                        np.array([[0.0, 15_000.0]] * n), np.array([[0.8, 0.0]] * n), np.array([[1.05, 1.0]] * n),
                        np.zeros((n, 2)), np.full(n, VENUE_CODE[name], dtype=np.int8), np.zeros(n, dtype=np.int32))
    classes, rest = split_pair_classes(book)
    taken = sorted(int(i) for c in classes for i in c.rows)
    assert sorted(taken + [int(i) for i in rest]) == list(range(n))  # every row goes one way or the other
    if not rule(name).pair_fast_path:
        assert taken == []


# ------------------------------------------------------------------------------ JSON and errors


def _snapshot(venue: str, **market_extra) -> Snapshot:
    reserves = (Reserve(asset="WETH", ltv_wad=8 * 10**17, liquidation_threshold_wad=85 * 10**16,
                        liquidation_bonus_wad=105 * 10**16, can_be_collateral=True, can_be_borrowed=False),
                Reserve(asset="DAI", ltv_wad=0, liquidation_threshold_wad=0, liquidation_bonus_wad=10**18,
                        can_be_collateral=False, can_be_borrowed=True))
    if venue in RULE_IDS and "rule_params" not in market_extra:  # the rule's declared market parameters
        market_extra["rule_params"] = {p: default for p, _, default in rule(venue).market_params}
    market = Market(id=f"m-{venue}", venue=venue, name=f"a {venue} market", address="0x" + "11" * 20,
                    reserves=reserves, **market_extra)
    assets = (Asset(symbol="WETH", address="0x" + "22" * 20, decimals=18, price_usd=2_000.0),
              Asset(symbol="DAI", address="0x" + "33" * 20, decimals=18, price_usd=1.0))
    position = Position(market=market.id, account="0x" + "44" * 20, collateral={"WETH": 10**19},
                        debt={"DAI": 10**22})
    return Snapshot(chain_id=1, block_number=1, block_timestamp=1, source="test", assets=assets, markets=(market,),
                    positions=(position,))


@pytest.mark.parametrize("name", RULE_IDS)
def test_snapshot_json_round_trip_carries_the_rule(name):
    snap = _snapshot(name)
    again = Snapshot.from_json(snap.to_json())
    assert again == snap and again.markets[0].venue == name


@pytest.mark.parametrize("name", RULE_IDS)
def test_unknown_rule_and_unknown_field_are_refused(name):
    with pytest.raises(ValidationError, match=f"unknown liquidation rule '{name}_typo'"):
        _snapshot(f"{name}_typo")
    data = _snapshot(name).model_dump(mode="json")
    data["markets"][0]["venue_params"] = {}
    with pytest.raises(ValidationError, match="venue_params"):
        Snapshot.model_validate(data)


@pytest.mark.parametrize("name", RULE_IDS)
def test_market_rule_params_must_be_exactly_the_declared_ones(name):
    """``Market.rule_params`` names every market parameter the rule declares, and no other."""
    declared = {p: default for p, _, default in rule(name).market_params}
    with pytest.raises(ValidationError, match="unknown no_such_param_wad"):
        _snapshot(name, rule_params={**declared, "no_such_param_wad": 1})
    if declared:
        first = next(iter(declared))
        with pytest.raises(ValidationError, match=f"missing {first}"):
            _snapshot(name, rule_params={k: v for k, v in declared.items() if k != first})
        book = PositionBook.from_snapshot(_snapshot(name))
        from risk.rules import market_param_scale

        scales = [market_param_scale(p) for p in declared]
        assert book.rule_params[0, :len(declared)].tolist() == pytest.approx(
            [v / s for v, s in zip(declared.values(), scales)])

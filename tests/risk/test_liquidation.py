import numpy as np
import pytest
from hypothesis import given, settings

from risk.book import VENUE_CODE
from risk.liquidation import liquidate_rows
from tests.risk import reference
from tests.risk.strategies import books, rows_of

# columns: WETH, USDC
PRICES = np.array([2_000.0, 1.0])


def one(venue, coll, debt, lt=(0.83, 0.0), bonus=(1.05, 1.0), fee=(0.1, 0.0), prices=PRICES):
    c = np.array([coll], dtype=float)
    d = np.array([debt], dtype=float)
    out = liquidate_rows(
        c, d, np.array([lt]), np.array([bonus]), np.array([fee]),
        np.array([VENUE_CODE[venue]], dtype=np.int8), prices,
    )
    return out, c[0], d[0]


def test_aave_v30_close_factor_50_percent_above_095():
    # 1 WETH at $2,000 (LT .83 -> 1,660) vs 1,700 USDC: HF 0.976 > 0.95 -> 850 repaid
    out, coll, debt = one("aave_v30", [1.0, 0.0], [0.0, 1_700.0])
    assert out.repaid_tokens[0, 1] == pytest.approx(850.0)
    assert out.seized_tokens[0, 0] == pytest.approx(850 * 1.05 / 2_000)
    # protocol fee: 10% of the bonus part (0.05/1.05 of seized)
    assert out.protocol_fee_tokens[0, 0] == pytest.approx(850 * 0.05 / 2_000 * 0.1)
    assert debt[1] == pytest.approx(850.0) and out.passes == 1  # HF is back above 1
    assert out.bad_debt_usd[0] == 0.0


def test_aave_v30_close_factor_100_percent_at_or_below_095():
    # vs 1,800 USDC: HF 0.922 -> whole reserve debt; collateral 1 WETH covers 1,800*1.05 = 1,890
    out, coll, debt = one("aave_v30", [1.0, 0.0], [0.0, 1_800.0])
    assert out.repaid_tokens[0, 1] == pytest.approx(1_800.0)
    assert debt[1] == 0.0 and coll[0] == pytest.approx(1 - 1_890 / 2_000)


def test_aave_v33_small_positions_fully_liquidated_and_large_capped():
    # Small ($1,700 debt < $2,000): no cap even with HF > 0.95.
    out, _, debt = one("aave_v33", [1.0, 0.0], [0.0, 1_700.0])
    assert out.repaid_tokens[0, 1] == pytest.approx(1_700.0) and debt[1] == 0.0
    # Large: 10 WETH vs 17,000 USDC, HF .976 -> 50% of total debt.
    out, _, debt = one("aave_v33", [10.0, 0.0], [0.0, 17_000.0])
    assert out.repaid_tokens[0, 1] == pytest.approx(8_500.0)


def test_morpho_liquidates_whole_debt_and_socialises_bad_debt():
    lif = 1.0438
    out, coll, debt = one("morpho_blue", [1.0, 0.0], [0.0, 1_750.0], lt=(0.86, 0.0), bonus=(lif, 1.0), fee=(0.0, 0.0),
                          prices=np.array([2_000.0, 1.0]))
    assert out.repaid_tokens[0, 1] == pytest.approx(1_750.0) and debt[1] == 0.0
    # underwater: collateral $1,500 < debt $1,750 -> all collateral seized, rest is bad debt
    out, coll, debt = one("morpho_blue", [1.0, 0.0], [0.0, 1_750.0], lt=(0.86, 0.0), bonus=(lif, 1.0), fee=(0.0, 0.0),
                          prices=np.array([1_500.0, 1.0]))
    assert out.seized_tokens[0, 0] == pytest.approx(1.0)
    assert out.repaid_tokens[0, 1] == pytest.approx(1_500 / lif)
    assert out.bad_debt_usd[0] == pytest.approx(1_750 - 1_500 / lif)
    assert coll[0] == 0.0 and debt[1] == 0.0


def test_compound_absorb_takes_everything():
    # liquidation factor 0.95 -> bonus 1/0.95; 1 WETH at $2,000 (LCF .85) vs 1,800 USDC
    out, coll, debt = one("compound_v3", [1.0, 0.0], [0.0, 1_800.0], lt=(0.85, 0.0), bonus=(1 / 0.95, 1.0), fee=(0, 0))
    assert out.seized_tokens[0, 0] == 1.0 and coll[0] == 0.0 and debt[1] == 0.0
    assert out.bad_debt_usd[0] == 0.0  # credit 1,900 >= 1,800
    out, _, _ = one("compound_v3", [1.0, 0.0], [0.0, 1_800.0], lt=(0.85, 0.0), bonus=(1 / 0.95, 1.0), fee=(0, 0),
                    prices=np.array([1_800.0, 1.0]))
    assert out.bad_debt_usd[0] == pytest.approx(1_800 - 1_800 * 0.95)


def test_healthy_rows_untouched():
    out, coll, debt = one("aave_v30", [1.0, 0.0], [0.0, 1_000.0])
    assert not out.hit.any() and coll[0] == 1.0 and debt[1] == 1_000.0


@settings(max_examples=300, deadline=None)
@given(books())
def test_kernel_matches_plain_loop_and_conserves(book):
    coll, debt = book.collateral.copy(), book.debt.copy()
    out = liquidate_rows(coll, debt, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue, book.prices_usd)
    for i, row in enumerate(rows_of(book)):
        seized, fees, repaid, bad, hit = reference.liquidate_position(
            row["coll"], row["debt"], row["lt"], row["bonus"], row["fee"], row["venue"], book.prices_usd.tolist()
        )
        assert bool(out.hit[i]) == hit
        np.testing.assert_allclose(out.seized_tokens[i], seized, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.repaid_tokens[i], repaid, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.protocol_fee_tokens[i], fees, rtol=1e-9, atol=1e-12)
        assert out.bad_debt_usd[i] == pytest.approx(bad, rel=1e-9, abs=1e-9)
        np.testing.assert_allclose(coll[i], row["coll"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(debt[i], row["debt"], rtol=1e-9, atol=1e-12)
    # seized collateral never exceeds what was held; fees never exceed the seized amount
    assert np.all(out.seized_tokens <= book.collateral * (1 + 1e-12) + 1e-15)
    assert np.all(out.protocol_fee_tokens <= out.seized_tokens + 1e-15)


@settings(max_examples=200, deadline=None)
@given(books(floored=True))
def test_kernel_matches_plain_loop_floored_average(book):
    """Aave v3.0-v3.4 rows (average LT floored to bps): who is liquidated, the 0.95 close-factor
    switch and when a row is done follow the floored HF, as in the plain loop (exact rational
    floored HF)."""
    coll, debt = book.collateral.copy(), book.debt.copy()
    out = liquidate_rows(coll, debt, book.liq_threshold, book.liq_bonus, book.protocol_fee, book.venue, book.prices_usd,
                         floored_avg_lt=book.floored_avg_lt)
    for i, row in enumerate(rows_of(book)):
        seized, fees, repaid, bad, hit = reference.liquidate_position(
            row["coll"], row["debt"], row["lt"], row["bonus"], row["fee"], row["venue"], book.prices_usd.tolist(),
            floored=row["floored"],
        )
        assert bool(out.hit[i]) == hit
        np.testing.assert_allclose(out.seized_tokens[i], seized, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(out.repaid_tokens[i], repaid, rtol=1e-9, atol=1e-12)
        assert out.bad_debt_usd[i] == pytest.approx(bad, rel=1e-9, abs=1e-9)

"""Tests for risk.paths: determinism, moments, correlation, validation, replay."""

from __future__ import annotations

import numpy as np
import pytest

from risk.paths import (
    DAYS_PER_YEAR,
    correlation_factor,
    gbm_paths,
    log_returns,
    merton_jump_paths,
    replay_paths,
    student_t_paths,
    validate_correlation,
)

SPOT = np.array([100_000.0, 3_500.0, 1.0, 150.0])
VOL = np.array([0.6, 0.8, 0.05, 1.0])
CORR = np.array(
    [
        [1.0, 0.8, 0.1, 0.6],
        [0.8, 1.0, 0.1, 0.7],
        [0.1, 0.1, 1.0, 0.0],
        [0.6, 0.7, 0.0, 1.0],
    ]
)


def _dt_years(horizon_days: float, n_steps: int) -> float:
    return horizon_days / (n_steps - 1) / DAYS_PER_YEAR


@pytest.fixture(params=["gbm", "t", "merton"])
def model(request):
    name = request.param

    def make(seed, n_paths=64, n_steps=20, dtype=np.float64):
        if name == "gbm":
            return gbm_paths(SPOT, VOL, CORR, 1.0, n_steps, n_paths, seed=seed, dtype=dtype)
        if name == "t":
            return student_t_paths(SPOT, VOL, CORR, 1.0, n_steps, n_paths, dof=4.0, seed=seed, dtype=dtype)
        return merton_jump_paths(SPOT, VOL, CORR, 1.0, n_steps, n_paths, jump_intensity_per_day=2.0,
                                 jump_mean_log=-0.05, jump_std_log=0.03, seed=seed, dtype=dtype)

    return make


def test_shape_and_step0_is_spot(model):
    p = model(1, n_paths=7, n_steps=13)
    assert p.shape == (7, 13, 4)
    assert p.dtype == np.float64
    np.testing.assert_array_equal(p[:, 0, :], np.broadcast_to(SPOT, (7, 4)))
    assert np.all(np.isfinite(p)) and np.all(p > 0)


def test_same_seed_same_paths_different_seed_different(model):
    a, b, c = model(42), model(42), model(43)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[:, 1:], c[:, 1:])


def test_generator_seed_is_used_and_advanced(model):
    rng = np.random.default_rng(5)
    first, second = model(rng), model(rng)
    np.testing.assert_array_equal(first, model(np.random.default_rng(5)))
    assert not np.allclose(first[:, 1:], second[:, 1:])


def test_float32_option(model):
    p = model(3, dtype=np.float32)
    assert p.dtype == np.float32
    assert np.all(np.isfinite(p)) and np.all(p > 0)


def test_gbm_correlation_and_vol_match_target():
    # 2,000 paths x 50 increments = 100,000 iid increments per asset. The standard error of a
    # sample correlation is ~(1 - rho^2)/sqrt(n) <= 0.0032, so 0.02 is > 6 SE; the relative SE
    # of a sample std is ~1/sqrt(2n) = 0.22%, so 2% is > 9 SE.
    n_steps, horizon = 51, 2.0
    p = gbm_paths(SPOT, VOL, CORR, horizon, n_steps, 2_000, seed=11)
    r = log_returns(p).reshape(-1, 4)
    np.testing.assert_allclose(np.corrcoef(r.T), CORR, atol=0.02)
    realized_vol = r.std(axis=0, ddof=1) / np.sqrt(_dt_years(horizon, n_steps))
    np.testing.assert_allclose(realized_vol, VOL, rtol=0.02)


def test_gbm_zero_drift_is_martingale_and_drift_shifts_mean():
    # S_T/S_0 has sd ~ 1.0*sqrt(30/365) = 0.29 for the most volatile asset; with 40,000 paths the
    # SE of the mean is 0.0015, so 0.01 is > 6 SE.
    p = gbm_paths(SPOT, VOL, CORR, 30.0, 3, 40_000, seed=2)
    np.testing.assert_allclose(p[:, -1, :].mean(axis=0) / SPOT, 1.0, atol=0.01)
    mu = 0.5
    q = gbm_paths(SPOT, VOL, CORR, 30.0, 3, 40_000, drift_annual=mu, seed=2)
    np.testing.assert_allclose(q[:, -1, :].mean(axis=0) / SPOT, np.exp(mu * 30 / 365), atol=0.012)


def test_student_t_unit_variance_and_fat_tails():
    # dof=6: excess kurtosis of each marginal is 6/(dof-4) = 3; the vol rescale must keep the
    # log-return std at vol_annual. Sample std of 200,000 t(6) draws has relative SE ~0.35%.
    n_steps, horizon = 101, 1.0
    p = student_t_paths(SPOT, VOL, CORR, horizon, n_steps, 2_000, dof=6.0, seed=8)
    r = log_returns(p).reshape(-1, 4)
    realized_vol = r.std(axis=0, ddof=1) / np.sqrt(_dt_years(horizon, n_steps))
    np.testing.assert_allclose(realized_vol, VOL, rtol=0.03)
    x = (r - r.mean(axis=0)) / r.std(axis=0)
    excess_kurtosis = (x**4).mean(axis=0) - 3.0
    assert np.all(excess_kurtosis > 1.0), excess_kurtosis
    # GBM with the same seed-size sample has ~0 excess kurtosis: the test can tell them apart.
    g = log_returns(gbm_paths(SPOT, VOL, CORR, horizon, n_steps, 2_000, seed=8)).reshape(-1, 4)
    y = (g - g.mean(axis=0)) / g.std(axis=0)
    assert np.all(np.abs((y**4).mean(axis=0) - 3.0) < 0.1)
    np.testing.assert_allclose(np.corrcoef(r.T), CORR, atol=0.03)


def test_student_t_rejects_dof_at_most_two():
    with pytest.raises(ValueError, match="dof"):
        student_t_paths(SPOT, VOL, CORR, 1.0, 5, 5, dof=2.0, seed=0)


def test_merton_common_jumps_hit_all_assets_together():
    # No diffusion, frequent big jumps: in "common" mode every asset jumps on the same steps.
    zero_vol = np.zeros(4)
    p = merton_jump_paths(SPOT, zero_vol, CORR, 1.0, 50, 200, jump_intensity_per_day=5.0,
                          jump_mean_log=-0.1, jump_std_log=0.0, seed=4)
    # no-jump steps only carry the ~1% compensator drift; a jump moves the log-price by ~0.1
    jumped = np.abs(log_returns(p)) > 0.05
    assert jumped.any()
    assert np.all(jumped.all(axis=2) == jumped.any(axis=2))
    q = merton_jump_paths(SPOT, zero_vol, CORR, 1.0, 50, 200, jump_intensity_per_day=5.0,
                          jump_mean_log=-0.1, jump_std_log=0.0, jump_mode="independent", seed=4)
    jumped_q = np.abs(log_returns(q)) > 0.05
    assert np.any(jumped_q.any(axis=2) & ~jumped_q.all(axis=2))


def test_merton_compensated_drift_is_martingale():
    # Jumps of mean log -0.05 at 3/day over 5 days would drag the mean price down ~50% without the
    # compensator. sd of S_T/S_0 here ~0.45; 40,000 paths -> SE 0.0023; tolerance 0.015.
    p = merton_jump_paths(SPOT, VOL, CORR, 5.0, 6, 40_000, jump_intensity_per_day=3.0,
                          jump_mean_log=-0.05, jump_std_log=0.04, seed=9)
    np.testing.assert_allclose(p[:, -1, :].mean(axis=0) / SPOT, 1.0, atol=0.015)


def test_merton_common_mode_requires_scalar_intensity():
    with pytest.raises(ValueError, match="jump_intensity_per_day"):
        merton_jump_paths(SPOT, VOL, CORR, 1.0, 5, 5, jump_intensity_per_day=np.ones(4),
                          jump_mean_log=0.0, jump_std_log=0.1, seed=0)


@pytest.mark.parametrize(
    "bad, what",
    [
        (np.array([[1.0, 0.9, 0.9], [0.9, 1.0, -0.9], [0.9, -0.9, 1.0]]), "positive semi-definite"),
        (np.array([[1.0, 0.5], [0.5, 0.9]]), "diagonal"),
        (np.array([[1.0, 0.5], [0.4, 1.0]]), "symmetric"),
        (np.array([[1.0, 0.5, 0.1]]), "square"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), "non-finite"),
    ],
)
def test_invalid_correlation_raises_naming_the_problem(bad, what):
    with pytest.raises(ValueError, match=what):
        validate_correlation(bad)
    n = bad.shape[0]
    if bad.ndim == 2 and bad.shape[0] == bad.shape[1]:
        with pytest.raises(ValueError, match=what):
            gbm_paths(np.ones(n), np.full(n, 0.5), bad, 1.0, 3, 2, seed=0)


def test_correlation_shape_must_match_assets():
    with pytest.raises(ValueError, match="corr"):
        gbm_paths(SPOT, VOL, np.eye(3), 1.0, 3, 2, seed=0)


def test_singular_psd_correlation_uses_eigen_fallback():
    corr = np.array([[1.0, 1.0], [1.0, 1.0]])  # rank 1: Cholesky fails
    L = correlation_factor(corr)
    np.testing.assert_allclose(L @ L.T, corr, atol=1e-12)
    p = gbm_paths([10.0, 20.0], [0.5, 0.5], corr, 1.0, 20, 10, seed=1)
    r = log_returns(p)
    np.testing.assert_allclose(r[..., 0], r[..., 1], atol=1e-12)


def test_replay_passes_through_points():
    btc = np.array([[122_000.0], [113_600.0], [102_000.0]])
    p = replay_paths(btc, 11)
    assert p.shape == (1, 11, 1)
    np.testing.assert_array_equal(p[0, [0, 5, 10], 0], btc[:, 0])
    # geometric interpolation: monotone between points and constant log step on each leg
    leg = np.diff(np.log(p[0, :6, 0]))
    np.testing.assert_allclose(leg, leg[0], rtol=1e-12)
    assert np.all(np.diff(p[0, :, 0]) < 0)


def test_replay_from_returns_and_explicit_steps():
    spot = np.array([122_000.0, 4_000.0])
    rets = np.array([[0.0, 0.0], [-0.0689, -0.10], [-0.164, -0.25]])
    p = replay_paths(rets, 8, kind="cum_return", spot_usd=spot, at_steps=[0, 2, 7], interp="linear")
    np.testing.assert_allclose(p[0, [0, 2, 7], :], spot * (1 + rets), rtol=1e-15)
    np.testing.assert_allclose(p[0, 1, :], 0.5 * (p[0, 0, :] + p[0, 2, :]), rtol=1e-12)


def test_replay_rejects_bad_input():
    with pytest.raises(ValueError, match="n_steps"):
        replay_paths([[1.0], [2.0], [3.0]], 2)
    with pytest.raises(ValueError, match="spot_usd"):
        replay_paths([[0.0], [-0.1]], 5, kind="cum_return")
    with pytest.raises(ValueError, match="> 0"):
        replay_paths([[1.0], [-1.0]], 5)
    with pytest.raises(ValueError, match="at_steps"):
        replay_paths([[1.0], [2.0]], 5, at_steps=[3, 1])


def test_grid_validation():
    with pytest.raises(ValueError, match="n_steps"):
        gbm_paths(SPOT, VOL, CORR, 1.0, 1, 2, seed=0)
    with pytest.raises(ValueError, match="horizon_days"):
        gbm_paths(SPOT, VOL, CORR, 0.0, 5, 2, seed=0)
    with pytest.raises(ValueError, match="spot_usd"):
        gbm_paths(-SPOT, VOL, CORR, 1.0, 5, 2, seed=0)
    with pytest.raises(ValueError, match="vol_annual"):
        gbm_paths(SPOT, -VOL, CORR, 1.0, 5, 2, seed=0)

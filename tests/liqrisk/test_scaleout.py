"""Scale-out on Dask (issue 11, item 4): a seed gives the same Monte Carlo, bit for bit, in this
process, on one worker and on a 2-process ``LocalCluster``; scenario sweeps run as tasks with the
same results; the CLI's ``--workers`` / ``--scheduler`` give the same output as a run without them.

Bounded and timing-free: a 200-position sample book, a few hundred short paths; the clusters use
free ports (port 0, no dashboard) and are closed in fixtures / ``finally`` even when a test fails.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from liqrisk.run import run_scenario
from liqrisk.scaleout import InProcess, chunked_monte_carlo, monte_carlo_chunk, open_runner, run_scenarios
from liqrisk.scenario import DriverSpec, LiquiditySpec, MonteCarloShock, OutputsSpec, Scenario, load_scenario
from risk.book import PositionBook
from risk.mc_chunks import chunk_seeds, chunk_sizes, merge_results
from risk.montecarlo import PathOutcomes, simulate_liquidations
from risk.sample import sample_snapshot

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 40
N_PATHS = 130  # 4 chunks, the last one short


@pytest.fixture(scope="module")
def book() -> PositionBook:
    return PositionBook.from_snapshot(sample_snapshot(200, seed=11))


def _scenario(paths: int = N_PATHS, seed: int = 5, model: str = "student_t") -> Scenario:
    return Scenario(name="mc", driver=DriverSpec(asset="WETH"),
                    shock=MonteCarloShock(kind="monte_carlo", model=model, paths=paths, steps=13, seed=seed,
                                          vol={"WETH": 1.6}),
                    liquidity=LiquiditySpec(), outputs=OutputsSpec(bands=False))


def _mc(book: PositionBook, runner: object = None, progress: object = None, seed: int = 5) -> object:
    from liqrisk.run import build_liquidity, run_monte_carlo

    sc = _scenario(seed=seed)
    liquidity = build_liquidity(sc.liquidity, book.symbols, prices_usd=book.prices_usd)
    return run_monte_carlo(book, "WETH", {}, sc.shock, liquidity, seed=seed, runner=runner, progress=progress,
                           chunk_paths=CHUNK).result


def _assert_identical(a: object, b: object) -> None:
    """Every per-path array equal bit for bit (NaN-free here), and the summaries equal."""
    for run in ("endogenous", "exogenous"):
        pa, pb = getattr(a, run), getattr(b, run)
        for f in dataclasses.fields(PathOutcomes):
            x, y = getattr(pa, f.name), getattr(pb, f.name)
            assert x.shape == y.shape and x.dtype == y.dtype, (run, f.name)
            assert np.array_equal(x, y), f"{run}.{f.name} differs"
    assert a.endogenous_summary == b.endogenous_summary
    assert a.exogenous_summary == b.exogenous_summary
    assert a.rebases == b.rebases


@pytest.fixture(scope="module")
def cluster():
    """A 2-worker LocalCluster of processes (free ports, no dashboard); closed whatever happens."""
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", scheduler_port=0,
                     dashboard_address=":0", silence_logs=logging.ERROR)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def two_workers(cluster):
    from distributed import Client

    from liqrisk.scaleout import DaskRunner

    client = Client(cluster, set_as_default=False)
    try:
        client.wait_for_workers(2, timeout=300)
        yield DaskRunner(client, "test cluster")
    finally:
        client.close()


# ------------------------------------------------------------------------------ the plan


def test_chunk_plan_and_seeds() -> None:
    assert chunk_sizes(130, 40) == (40, 40, 40, 10)
    assert chunk_sizes(80, 40) == (40, 40)
    assert chunk_sizes(3, 40) == (3,)
    with pytest.raises(ValueError):
        chunk_sizes(0, 40)
    a, b = chunk_seeds(5, 4), chunk_seeds(5, 4)
    assert [s.generate_state(2).tolist() for s in a] == [s.generate_state(2).tolist() for s in b]
    assert len({tuple(s.generate_state(2)) for s in a}) == 4, "chunks draw independent streams"
    # The spawned children are SeedSequence(seed).spawn(n): the documented plan.
    assert a[2].spawn_key == np.random.SeedSequence(5).spawn(4)[2].spawn_key


def test_in_process_run_is_the_chunk_plan(book: PositionBook) -> None:
    """The single-process Monte Carlo is exactly the chunks, each from its spawned seed, merged in
    order (checked chunk by chunk against the engine called directly on the same paths)."""
    from liqrisk.run import build_liquidity, mc_correlation
    from risk.montecarlo import driver_cross_impact
    from risk.paths import student_t_paths

    result = _mc(book)
    assert result.endogenous.liquidated_debt_usd.shape == (N_PATHS,)
    liquidity = build_liquidity(_scenario().liquidity, book.symbols, prices_usd=book.prices_usd)
    cross = driver_cross_impact(book, "WETH", {})
    corr = mc_correlation(book, "WETH", {}, None, [])
    offset = 0
    for size, seed in zip((40, 40, 40, 10), np.random.SeedSequence(5).spawn(4)):
        paths = student_t_paths(book.prices_usd, _vols(book), corr, 1.0, 13, size, dof=4.0,
                                seed=np.random.default_rng(seed))
        direct = simulate_liquidations(book, paths, liquidity=liquidity, cross_impact=cross)
        np.testing.assert_array_equal(result.endogenous.liquidated_debt_usd[offset:offset + size],
                                      direct.endogenous.liquidated_debt_usd)
        np.testing.assert_array_equal(result.exogenous.bad_debt_usd[offset:offset + size],
                                      direct.exogenous.bad_debt_usd)
        offset += size
    assert result.endogenous.liquidated_debt_usd.max() > 0, "the test book must see liquidations"
    # A different seed gives different paths (the seed is used).
    other = _mc(book, seed=6)
    assert not np.array_equal(other.endogenous.liquidated_debt_usd, result.endogenous.liquidated_debt_usd)


def _vols(book: PositionBook) -> np.ndarray:
    import math

    from risk import liquidity as lq
    from risk import paths as rp

    return np.array([1.6 if s == "WETH" else lq.DEFAULT_DAILY_VOLATILITY.get(s, 0.05) * math.sqrt(rp.DAYS_PER_YEAR)
                     for s in book.symbols])


def test_merge_refuses_mixed_runs(book: PositionBook) -> None:
    from risk.liquidity import default_constant_depth
    from risk.paths import gbm_paths

    paths = gbm_paths(book.prices_usd, 1.0, np.eye(book.n_assets), 1.0, 5, 4, seed=1)
    a = simulate_liquidations(book, paths, liquidity=default_constant_depth(book.symbols))
    b = simulate_liquidations(book, paths[:, :3], liquidity=default_constant_depth(book.symbols))
    with pytest.raises(ValueError, match="different runs"):
        merge_results([a, b])
    with pytest.raises(ValueError, match="no chunks"):
        merge_results([])


# ------------------------------------------------------------------------- on a cluster


def test_two_process_workers_give_the_single_process_result(book: PositionBook, two_workers) -> None:
    here = _mc(book)
    progress: list[tuple[int, int]] = []
    there = _mc(book, runner=two_workers, progress=lambda d, t: progress.append((d, t)))
    _assert_identical(here, there)
    # Progress follows the futures: one call per chunk as it completes, ending at all paths.
    assert len(progress) == 4 and progress[-1] == (N_PATHS, N_PATHS)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    workers = two_workers.client.scheduler_info()["workers"]
    assert len(workers) == 2 and all(w.get("nthreads") == 1 for w in workers.values())


def test_a_task_error_reaches_the_caller_as_itself(book: PositionBook, two_workers) -> None:
    """A user error raised inside a chunk (prices blown to infinity) is the same error here."""
    from liqrisk.errors import LiqriskUserError
    from liqrisk.scaleout import PathDraw

    draw = PathDraw(model="gbm", spot_usd=np.asarray(book.prices_usd, dtype=np.float64),
                    vol_annual=np.full(book.n_assets, 0.5), corr=np.eye(book.n_assets), horizon_days=1.0, steps=5,
                    drift_annual=1e6)
    from risk.liquidity import default_constant_depth

    with pytest.raises(LiqriskUserError, match="zero or to infinity"):
        chunked_monte_carlo(book, draw, 20, 1, default_constant_depth(book.symbols), runner=two_workers,
                            chunk_paths=10)
    with pytest.raises(LiqriskUserError, match="zero or to infinity"):
        monte_carlo_chunk(book, draw, 10, np.random.SeedSequence(1), default_constant_depth(book.symbols), None)


def test_scenario_sweep_as_tasks_equals_in_process(book: PositionBook, two_workers) -> None:
    files = [load_scenario(ROOT / "scenarios" / name) for name in
             ("eth_drawdown_grid.toml", "wsteth_depeg.toml", "2025-10-10_tariff_shock.toml")]
    jobs = [(sf.scenario, book, {"where": str(sf.path)}) for sf in files]
    jobs.append((_scenario(paths=90), book, {"where": "mc"}))
    calls: dict[int, list[tuple[int, int]]] = {}

    def progress(i: int, _: object = None):
        return lambda d, t: calls.setdefault(i, []).append((d, t))

    here = run_scenarios(jobs, InProcess())
    there = run_scenarios(jobs, two_workers, progress=progress)
    for a, b in zip(here, there):
        assert (a.name, a.kind) == (b.name, b.kind)
        if a.cascade is not None:
            for name, column in a.cascade.to_frame().items():
                other = b.cascade.to_frame()[name]
                assert np.array_equal(column, other) or np.array_equal(column, other, equal_nan=True), name
        elif a.path is not None:
            _assert_identical(a.path.result, b.path.result)
        else:
            _assert_identical(a.monte_carlo.result, b.monte_carlo.result)
    assert sorted(calls) == [0, 1, 2, 3] and all(c[-1][0] == c[-1][1] for c in calls.values())
    # And each equals run_scenario called on its own.
    alone = run_scenario(files[0].scenario, book, where=str(files[0].path))
    assert np.array_equal(alone.cascade.to_frame()["liquidated_debt_usd"],
                          there[0].cascade.to_frame()["liquidated_debt_usd"])


# ------------------------------------------------------------------------------- the CLI


def _simulate(*extra: str) -> dict:
    from liqrisk.cli import cli

    args = ["simulate", "--paths", "300", "--steps", "9", "--seed", "3", "--vol", "WETH=1.5", "--format", "json",
            "-q", *extra]
    ran = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert ran.exit_code == 0, ran.output
    return json.loads(ran.stdout)


def test_cli_scheduler_and_workers_give_the_same_output(cluster, monkeypatch) -> None:
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    alone = _simulate()
    assert _simulate("--scheduler", cluster.scheduler_address) == alone
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
    assert _simulate() == alone  # the environment variable names the cluster too
    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS")
    assert _simulate("--workers", "1") == alone  # an embedded 1-worker cluster, opened and closed by the CLI


def _numba_threads() -> int:
    import numba

    return int(numba.get_num_threads())


def test_embedded_workers_run_one_numba_thread_each() -> None:
    """`--workers N` uses N cores: each worker process runs its compiled kernels on one thread."""
    with open_runner(workers=1) as runner:
        assert runner.map(_numba_threads, [()]) == [1]


def test_open_runner_closes_the_embedded_cluster_on_error() -> None:
    """An error inside the block still closes the embedded cluster (its scheduler stops answering)."""
    opened = []
    with pytest.raises(RuntimeError, match="boom"):
        with open_runner(workers=1) as runner:
            opened.append(runner.client)
            raise RuntimeError("boom")
    client = opened[0]
    assert client.status == "closed"
    assert "closed" in str(client.cluster.status), client.cluster.status


# ------------------------------------------------------------------------------- reports


def test_report_on_a_cluster_equals_the_report_in_process(two_workers, cluster, tmp_path, monkeypatch) -> None:
    """`compute_report(runner=...)`: the Monte Carlo's chunks and the scenario files run as tasks and
    give the report computed here; `liqrisk report --scheduler` writes the same numbers."""
    from liqrisk.report import ReportConfig, compute_report
    from liqrisk.sources import LoadedSnapshot

    loaded = LoadedSnapshot(sample_snapshot(200, seed=11), "sample", "synthetic sample, seed 11")
    files = tuple(load_scenario(ROOT / "scenarios" / name) for name in ("eth_drawdown_grid.toml", "wsteth_depeg.toml"))
    config = ReportConfig(monte_carlo=MonteCarloShock(kind="monte_carlo", model="student_t", paths=300, steps=13,
                                                      seed=3, vol={"WETH": 1.6}),
                          scenarios=files, charts=False)
    seen: list[str] = []
    submitted: list[str] = []
    real_submit = two_workers.client.submit

    def submit(fn, *args, key, **kw):  # the client's own submit, its task keys recorded
        submitted.append(key.split("-")[1])
        return real_submit(fn, *args, key=key, **kw)

    here = compute_report(loaded, config)
    monkeypatch.setattr(two_workers.client, "submit", submit)
    there = compute_report(loaded, config, runner=two_workers, progress=lambda task, d, t: seen.append(task))
    monkeypatch.undo()
    # 2 chunks of the report's Monte Carlo, the 2 grid scenarios: all tasks on the cluster
    assert sorted(set(submitted)) == ["mc", "scenario"] and submitted.count("scenario") == 2, submitted
    _assert_identical(here.monte_carlo.monte_carlo.result, there.monte_carlo.monte_carlo.result)
    assert [r.file for r in there.scenarios] == [str(f.path) for f in files]
    for a, b in zip(here.scenarios, there.scenarios):
        for name, column in a.cascade.to_frame().items():
            assert np.array_equal(column, b.cascade.to_frame()[name], equal_nan=True), (a.name, name)
    assert {"Monte Carlo", files[0].scenario.name, files[1].scenario.name} <= set(seen)

    from liqrisk.cli import cli

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)

    def report(out: Path, *extra: str) -> dict:
        ran = CliRunner().invoke(cli, ["report", "--paths", "200", "--seed", "4", "--no-charts", "-q", "--out", str(out),
                                       "--scenario", str(files[1].path), *extra], catch_exceptions=False)
        assert ran.exit_code == 0, ran.output
        return json.loads((out / "latest" / "report.json").read_text())

    alone, clustered = report(tmp_path / "a"), report(tmp_path / "b", "--scheduler", cluster.scheduler_address)
    for key in ("monte_carlo", "scenarios", "cascade"):
        assert clustered[key] == alone[key], key

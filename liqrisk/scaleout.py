"""Scale-out on Dask (``dask.distributed``): Monte Carlo chunks, scenario sweeps and
multi-network scans as tasks.

One seam, a *runner*, runs a list of independent pure tasks and hands the results back in the
order they were given, calling ``on_done`` as each one completes:

- :class:`InProcess` runs them one after the other in this process (the default; no Dask);
- :class:`DaskRunner` submits them to a ``dask.distributed`` cluster: an embedded
  ``LocalCluster`` of worker processes (``--workers N``, :func:`open_runner`) or an existing
  scheduler (``--scheduler ADDRESS`` or ``DASK_SCHEDULER_ADDRESS``). Progress follows the futures
  as they finish (``distributed.as_completed``); the merge follows the submission order.

The Monte Carlo is cut into fixed-size chunks whatever the runner (:mod:`risk.mc_chunks`): chunk
``i`` draws its own paths from ``SeedSequence(seed).spawn(n_chunks)[i]`` and simulates them with
:func:`risk.montecarlo.simulate_liquidations` (:func:`monte_carlo_chunk`, a pure function), and
the chunks' results are merged in chunk order. So for a seed the answer is identical, bit for
bit, with no Dask, one worker or many (``tests/liqrisk/test_scaleout.py`` checks it on a
2-process ``LocalCluster``). The chunk size is part of what a seed means: changing
:data:`MC_CHUNK_PATHS` changes the paths drawn; the number of workers never does.

Workers of an existing cluster must have the same liqrisk (and numpy) installed: tasks name
functions of this module, and the positions travel to them pickled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from liqrisk.errors import LiqriskUserError

if TYPE_CHECKING:
    import numpy as np

    from risk.book import PositionBook
    from risk.liquidity import LiquidityModel
    from risk.montecarlo import MonteCarloResult

MC_CHUNK_PATHS = 250
"""Paths per Monte Carlo chunk (one task). Fixed, independent of the number of workers: the
per-chunk seeds are spawned for this plan, so it is part of what a seed means."""

SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
"""Environment variable naming an existing scheduler (``--scheduler`` overrides it); the same
variable dask itself reads."""

CONNECT_TIMEOUT_S = 10.0
"""How long to wait for an existing scheduler to answer (after its port accepted a connection)."""

MAX_WORKERS = 256

OnDone = Callable[[int], None]
"""``on_done(i)``: task ``i`` (index in the submitted list) has finished."""


# ------------------------------------------------------------------------------ runners


class InProcess:
    """Runs the tasks here, in order (no Dask). ``workers`` is None: not a cluster."""

    workers: int | None = None
    description = "in this process"

    def put(self, value: Any) -> Any:
        """A handle to pass to tasks (here: the value itself)."""
        return value

    def map(self, fn: Callable[..., Any], arg_lists: Sequence[Sequence[Any]], on_done: OnDone | None = None,
            *, name: str = "task") -> list[Any]:
        results = []
        for i, args in enumerate(arg_lists):
            results.append(fn(*args))
            if on_done is not None:
                on_done(i)
        return results


class DaskRunner:
    """Runs the tasks on a ``distributed.Client``'s cluster; results in submission order."""

    def __init__(self, client: Any, description: str) -> None:
        self.client = client
        self.description = description

    @property
    def workers(self) -> int | None:
        return len(self.client.scheduler_info(n_workers=-1).get("workers", {})) \
            if _takes_n_workers(self.client) else len(self.client.scheduler_info().get("workers", {}))

    def put(self, value: Any) -> Any:
        """Send ``value`` to the workers once (``Client.scatter``); tasks receive the future."""
        return self.client.scatter(value, broadcast=True, hash=False)

    def map(self, fn: Callable[..., Any], arg_lists: Sequence[Sequence[Any]], on_done: OnDone | None = None,
            *, name: str = "task") -> list[Any]:
        from distributed import as_completed

        futures = [self.client.submit(fn, *args, pure=False, key=f"liqrisk-{name}-{i}-{os.urandom(6).hex()}")
                   for i, args in enumerate(arg_lists)]
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        try:
            for future in as_completed(futures, loop=self.client.loop):
                i = index[future.key]
                results[i] = future.result()  # a task's own error is re-raised here, as itself
                if on_done is not None:
                    on_done(i)
        except BaseException as exc:
            for f in futures:
                f.cancel()
            _raise_cluster_error(exc, self.description)
            raise
        finally:
            del futures
        return results


def _takes_n_workers(client: Any) -> bool:
    import inspect

    try:
        return "n_workers" in inspect.signature(client.scheduler_info).parameters
    except (TypeError, ValueError):
        return False


def _raise_cluster_error(exc: BaseException, where: str) -> None:
    """A failure of the cluster itself (worker killed, scheduler gone) as one user error."""
    from distributed.scheduler import KilledWorker

    if isinstance(exc, KilledWorker):
        raise LiqriskUserError(f"Dask cluster ({where}): a worker died running a task, more than once "
                               "(out of memory? lower --paths/--steps or add memory per worker)") from None
    if isinstance(exc, (OSError, TimeoutError)) and not isinstance(exc, FileNotFoundError):
        raise LiqriskUserError(f"Dask cluster ({where}): lost the connection ({type(exc).__name__}: {exc})") from None


def _check_reachable(address: str) -> None:
    """Refuse an address that is malformed or whose port does not accept a connection, at once
    (dask's own connect would retry until its timeout)."""
    import socket

    from distributed.comm import parse_address
    from distributed.comm.addressing import parse_host_port

    shown = f"--scheduler/{SCHEDULER_ENV} {address!r}"
    try:
        scheme, location = parse_address(address if "://" in address else f"tcp://{address}")
    except (ValueError, TypeError) as exc:
        raise LiqriskUserError(f"{shown}: not a scheduler address ({exc}); expected tcp://HOST:PORT") from None
    if scheme not in ("tcp", "tls"):
        raise LiqriskUserError(f"{shown}: unsupported protocol {scheme!r}; expected tcp://HOST:PORT or tls://HOST:PORT")
    try:
        host, port = parse_host_port(location)
    except (ValueError, TypeError) as exc:
        raise LiqriskUserError(f"{shown}: not a scheduler address ({exc}); expected tcp://HOST:PORT") from None
    if not host or not port or not 0 < int(port) < 65536:
        raise LiqriskUserError(f"{shown}: not a scheduler address (needs a host and a port 1-65535); "
                               "expected tcp://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise LiqriskUserError(f"{shown}: cannot reach the Dask scheduler ({exc.strerror or exc}); start one "
                               "with `dask scheduler` or use --workers N for a local cluster") from None


@contextmanager
def open_runner(workers: int | None = None, scheduler: str | None = None) -> Iterator[InProcess | DaskRunner]:
    """The runner for ``--workers``/``--scheduler``: an embedded ``LocalCluster`` of ``workers``
    processes (one thread each, free ports: scheduler, workers and the HTTP endpoint on port 0), a client of the scheduler at
    ``scheduler``, or (neither) :class:`InProcess`. Closes what it opened on exit, even on error."""
    if workers is not None and scheduler:
        raise LiqriskUserError("--workers and --scheduler: give one (an embedded cluster, or an existing one)")
    if workers is None and not scheduler:
        yield InProcess()
        return
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise LiqriskUserError(f"--workers: must be between 1 and {MAX_WORKERS}, got {workers}")
    import logging

    import dask
    from distributed import Client, LocalCluster

    # Patience for a loaded machine: worker processes start (and compile the kernels) slowly there.
    with dask.config.set({"distributed.comm.timeouts.connect": "120s"}):
        with _open_cluster(workers, scheduler, Client, LocalCluster, logging.ERROR) as runner:
            yield runner


@contextmanager
def _open_cluster(workers: int | None, scheduler: str | None, Client: Any, LocalCluster: Any,
                  log_level: int) -> Iterator[DaskRunner]:
    if scheduler:
        address = scheduler.strip()
        _check_reachable(address)
        try:
            client = Client(address if "://" in address else f"tcp://{address}", timeout=CONNECT_TIMEOUT_S,
                            set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise LiqriskUserError(f"--scheduler/{SCHEDULER_ENV} {address!r}: the port answers but no Dask "
                                   f"scheduler does ({type(exc).__name__}: {exc})") from None
        try:
            yield DaskRunner(client, f"scheduler {address}")
        finally:
            client.close()
        return
    # One core per worker: a worker runs one task at a time, and its compiled kernels get one numba
    # thread (dask itself caps only the OpenMP/BLAS pools), so N workers use N cores, not N x cores.
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           scheduler_port=0, dashboard_address=":0", silence_logs=log_level,
                           env={"NUMBA_NUM_THREADS": "1"})
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield DaskRunner(client, f"local cluster of {workers} worker process{'es' if workers != 1 else ''}")
        finally:
            client.close()
    finally:
        cluster.close()


# -------------------------------------------------------------------------- Monte Carlo


@dataclass(frozen=True, eq=False)
class PathDraw:
    """What draws a chunk's price paths (:mod:`risk.paths`): the model and its parameters, in
    book order. ``model``: ``gbm``, ``student_t`` or ``merton``."""

    model: str
    spot_usd: "np.ndarray"
    vol_annual: "np.ndarray"
    corr: "np.ndarray"
    horizon_days: float
    steps: int
    drift_annual: Any = 0.0
    dof: float = 4.0
    jump_intensity_per_day: Any = 0.0
    jump_mean_log: Any = 0.0
    jump_std_log: Any = 0.0

    def paths(self, n_paths: int, rng: "np.random.Generator") -> "np.ndarray":
        """Prices, shape ``(n_paths, steps, n_assets)``, USD per unit."""
        from risk import paths as rp

        args = (self.spot_usd, self.vol_annual, self.corr, self.horizon_days, self.steps, n_paths)
        if self.model == "gbm":
            return rp.gbm_paths(*args, drift_annual=self.drift_annual, seed=rng)
        if self.model == "student_t":
            return rp.student_t_paths(*args, dof=self.dof, drift_annual=self.drift_annual, seed=rng)
        if self.model == "merton":
            return rp.merton_jump_paths(*args, jump_intensity_per_day=self.jump_intensity_per_day,
                                        jump_mean_log=self.jump_mean_log, jump_std_log=self.jump_std_log,
                                        drift_annual=self.drift_annual, seed=rng)
        raise ValueError(f"model: expected gbm, student_t or merton, got {self.model!r}")


def monte_carlo_chunk(book: "PositionBook", draw: PathDraw, n_paths: int, seed: "np.random.SeedSequence",
                      liquidity: "LiquidityModel", cross_impact: "np.ndarray | None",
                      where: str = "Monte Carlo") -> "MonteCarloResult":
    """One chunk: draw ``n_paths`` paths from ``default_rng(seed)`` and simulate them (pure: the
    same arguments give the same result in any process)."""
    import numpy as np

    from risk.montecarlo import simulate_liquidations

    paths = draw.paths(n_paths, np.random.default_rng(seed))
    if not (np.all(np.isfinite(paths)) and np.all(paths > 0)):
        raise LiqriskUserError(f"{where}: these Monte Carlo parameters drive prices to zero or to infinity within "
                               f"the horizon ({draw.model}: vol, drift_annual, jump sizes and intensity over "
                               f"horizon_days = {draw.horizon_days:g}); choose smaller ones")
    return simulate_liquidations(book, paths, liquidity=liquidity, cross_impact=cross_impact)


def chunked_monte_carlo(book: "PositionBook", draw: PathDraw, n_paths: int, seed: int | None,
                        liquidity: "LiquidityModel", *, cross_impact: "np.ndarray | None" = None,
                        runner: InProcess | DaskRunner | None = None,
                        progress: Callable[[int, int], None] | None = None,
                        chunk_paths: int = MC_CHUNK_PATHS, where: str = "Monte Carlo") -> "MonteCarloResult":
    """The Monte Carlo of ``n_paths`` paths in chunks of ``chunk_paths`` (:mod:`risk.mc_chunks`),
    run by ``runner`` (default in this process); ``progress(paths_done, n_paths)`` as chunks finish.
    The result depends on the seed and ``chunk_paths``, not on the runner or its workers."""
    from risk.mc_chunks import chunk_seeds, chunk_sizes, merge_results

    runner = runner or InProcess()
    sizes = chunk_sizes(n_paths, chunk_paths)
    seeds = chunk_seeds(seed, len(sizes))
    book_h, liquidity_h, draw_h = runner.put(book), runner.put(liquidity), runner.put(draw)
    tasks = [(book_h, draw_h, size, s, liquidity_h, cross_impact, where) for size, s in zip(sizes, seeds)]
    done = 0

    def on_done(i: int) -> None:
        nonlocal done
        done += sizes[i]
        if progress is not None:
            progress(done, n_paths)

    parts = runner.map(monte_carlo_chunk, tasks, on_done, name="mc-chunk")
    return merge_results(parts)


# ---------------------------------------------------------------------- scenario sweeps


def run_scenarios(jobs: Sequence[tuple[Any, "PositionBook", dict[str, Any]]], runner: InProcess | DaskRunner,
                  progress: Callable[[int, Callable[[int, int], None] | None], Callable[[int, int], None] | None]
                  | None = None) -> list[Any]:
    """:func:`liqrisk.run.run_scenario` for every ``(scenario, book, kwargs)``; results in order.

    On a cluster every grid or path scenario is one task, all submitted at once, and each Monte
    Carlo scenario runs as its own chunk tasks (:func:`chunked_monte_carlo`) while they run; in
    process they run one after the other. ``progress(i, None)`` gives job ``i``'s
    ``progress(done, total)`` callback (or None). Each result is the one ``run_scenario`` gives.
    """
    from liqrisk.run import run_scenario
    from liqrisk.scenario import MonteCarloShock

    def callback(i: int) -> Callable[[int, int], None] | None:
        return progress(i, None) if progress is not None else None

    if isinstance(runner, InProcess):
        return [run_scenario(sc, book, progress=callback(i), **kw) for i, (sc, book, kw) in enumerate(jobs)]
    results: list[Any] = [None] * len(jobs)
    books: dict[int, Any] = {}

    def handle(book: Any) -> Any:
        if id(book) not in books:
            books[id(book)] = runner.put(book)
        return books[id(book)]

    plain = [i for i, (sc, _b, _k) in enumerate(jobs) if not isinstance(sc.shock, MonteCarloShock)]
    from distributed import as_completed

    futures = {}
    for i in plain:
        sc, book, kw = jobs[i]
        futures[runner.client.submit(_run_scenario_task, sc, handle(book), kw, pure=False,
                                     key=f"liqrisk-scenario-{i}-{os.urandom(6).hex()}")] = i
        cb = callback(i)
        if cb is not None:
            cb(0, 1)
    try:
        for i, (sc, book, kw) in enumerate(jobs):
            if i not in plain:
                results[i] = run_scenario(sc, book, progress=callback(i), runner=runner, **kw)
        for future in as_completed(list(futures), loop=runner.client.loop):
            i = futures[future]
            results[i] = future.result()
            cb = callback(i)
            if cb is not None:
                cb(1, 1)
    except BaseException as exc:
        for f in futures:
            f.cancel()
        _raise_cluster_error(exc, runner.description)
        raise
    return results


# ------------------------------------------------------------------- multi-network scans


def read_rpc_sources(reads: Sequence[tuple[Any, str, Any, Any]], runner: InProcess | DaskRunner) -> list[Any]:
    """Scan several RPC sources (networks, nodes or blocks) as tasks, side by side on a cluster:
    each ``(source_spec, rpc_url, block, markets_file)`` read by :func:`liqrisk.sources.load_source`
    in a worker; snapshots in the given order. The URL is resolved here (workers need no
    environment); a source's own error (unreachable node, wrong chain) comes back as itself."""
    return runner.map(_read_rpc_source_task, [tuple(r) for r in reads], name="scan")


def _read_rpc_source_task(spec: Any, rpc_url: str, block: Any, markets_file: Any) -> Any:
    from liqrisk.sources import load_source

    # The URL is already resolved from the source's own variable: pass it as the explicit one.
    return load_source(spec.model_copy(update={"rpc_url_env": None}), rpc_url=rpc_url, block=block,
                       markets_file=markets_file)


def _run_scenario_task(scenario: Any, book: "PositionBook", kwargs: dict[str, Any]) -> Any:
    from liqrisk.run import run_scenario

    return run_scenario(scenario, book, **kwargs)


__all__ = ["CONNECT_TIMEOUT_S", "DaskRunner", "InProcess", "MC_CHUNK_PATHS", "PathDraw", "SCHEDULER_ENV",
           "chunked_monte_carlo", "monte_carlo_chunk", "open_runner", "read_rpc_sources", "run_scenarios"]

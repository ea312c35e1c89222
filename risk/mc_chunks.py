"""Monte Carlo in fixed-size chunks of paths: the plan, the per-chunk seeds and the merge.

A run of ``n_paths`` paths is cut into chunks of ``chunk_paths`` paths (the last one shorter);
chunk ``i`` draws its paths from its own generator, ``numpy.random.default_rng(seeds[i])`` with
``seeds = numpy.random.SeedSequence(seed).spawn(n_chunks)``. The plan depends on ``n_paths``,
``chunk_paths`` and the seed only, never on how many processes run the chunks, and the chunks'
results are merged in chunk order. So a seed gives the same answer, bit for bit, in one process
or on any number of workers (``liqrisk.scaleout`` runs the chunks on a Dask cluster).

Pure functions over the engine's result types: no I/O, no scheduling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from risk.montecarlo import MonteCarloResult, PathOutcomes, RiskSummary


def chunk_sizes(n_paths: int, chunk_paths: int) -> tuple[int, ...]:
    """Paths per chunk: ``chunk_paths`` each, the remainder in the last chunk."""
    if n_paths < 1 or chunk_paths < 1:
        raise ValueError(f"n_paths and chunk_paths must be >= 1, got {n_paths} and {chunk_paths}")
    full, rest = divmod(int(n_paths), int(chunk_paths))
    return (int(chunk_paths),) * full + ((rest,) if rest else ())


def chunk_seeds(seed: int | np.random.SeedSequence | None, n_chunks: int) -> list[np.random.SeedSequence]:
    """One independent :class:`numpy.random.SeedSequence` per chunk, spawned from ``seed``.

    ``seed=None`` draws fresh entropy once (here, in the caller), so the chunks still share one root.
    """
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return root.spawn(int(n_chunks))


def concat_outcomes(parts: Sequence[PathOutcomes]) -> PathOutcomes:
    """Per-path outcomes of consecutive chunks as one :class:`PathOutcomes` (chunk order kept).

    Every field of :class:`PathOutcomes` is a per-path array (paths on axis 0), so each is
    concatenated along axis 0; a field added to the type later is carried along the same way.
    """
    if not parts:
        raise ValueError("concat_outcomes: no chunks")
    merged = {f.name: np.concatenate([getattr(p, f.name) for p in parts], axis=0)
              for f in dataclasses.fields(PathOutcomes)}
    return PathOutcomes(**merged)


def merge_results(parts: Sequence[MonteCarloResult]) -> MonteCarloResult:
    """The :class:`MonteCarloResult` of all chunks' paths: outcomes concatenated in chunk order,
    tail statistics recomputed over every path, scheduler rebases added up."""
    if not parts:
        raise ValueError("merge_results: no chunks")
    first = parts[0]
    for p in parts[1:]:
        if (p.symbols, p.n_steps, p.max_rounds, p.market_ids) != (first.symbols, first.n_steps, first.max_rounds,
                                                                  first.market_ids):
            raise ValueError("merge_results: chunks of different runs (symbols, steps, rounds or markets differ)")
        if (p.exogenous is None) != (first.exogenous is None):
            raise ValueError("merge_results: some chunks have the exogenous comparison and some do not")
    endo = concat_outcomes([p.endogenous for p in parts])
    exo = None
    if first.exogenous is not None:
        exo = concat_outcomes([p.exogenous for p in parts if p.exogenous is not None])
    return dataclasses.replace(
        first, endogenous=endo, endogenous_summary=RiskSummary.of(endo), exogenous=exo,
        exogenous_summary=None if exo is None else RiskSummary.of(exo), rebases=sum(p.rebases for p in parts))


__all__ = ["chunk_seeds", "chunk_sizes", "concat_outcomes", "merge_results"]

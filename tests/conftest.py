"""Suite-wide test settings.

Hypothesis runs under the ``ci`` profile by default so that every run — CI, a landing, a laptop —
tests the same examples: ``derandomize`` seeds the example generator from each test's own source
(no dependence on the run), no example database is read or written (a local failure replayed in
one checkout and not another would make runs differ), no per-example deadline and no
``too_slow`` health check (both are wall-clock measurements; the machine is shared and loaded),
and a failure prints its reproduction blob. Set ``HYPOTHESIS_PROFILE=explore`` to search with
fresh random examples (and more of them) while developing; a failure found there is added to the
test as an ``@example``.

``derandomize`` alone does not make the examples a function of the test: Hypothesis (6.13x+) also
draws, with probability 0.05 per choice, from the literal constants of every *local* module loaded
in the process (``hypothesis.internal.conjecture.providers._get_local_constants``). Which project
modules are loaded differs between a full run and one module, and every commit that adds a number
anywhere in ``risk/``, ``chain/`` or ``liqrisk/`` changes that pool, so the same test drew different
examples in CI than in a worktree (the stop-16 liquidation-price example). The pool is switched off
here; ``tests/test_hypothesis_determinism.py`` proves the draws no longer depend on what is imported.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import providers as _hypothesis_providers

if not hasattr(_hypothesis_providers, "_get_local_constants"):  # fail loudly, never silently re-enable
    raise RuntimeError("hypothesis changed its local-constants hook: update tests/conftest.py (see its docstring)")
_NO_LOCAL_CONSTANTS = _hypothesis_providers.Constants()
_hypothesis_providers._get_local_constants = lambda: _NO_LOCAL_CONSTANTS

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=(HealthCheck.too_slow,),
)
settings.register_profile(
    "explore",
    derandomize=False,
    deadline=None,
    print_blob=True,
    max_examples=2_000,
    suppress_health_check=(HealthCheck.too_slow,),
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

"""Suite-wide test settings.

Hypothesis runs under the ``ci`` profile by default so that every run — CI, a landing, a laptop —
tests the same examples: ``derandomize`` seeds the example generator from each test's own source
(no dependence on the run), no example database is read or written (a local failure replayed in
one checkout and not another would make runs differ), no per-example deadline and no
``too_slow`` health check (both are wall-clock measurements; the machine is shared and loaded),
and a failure prints its reproduction blob. Set ``HYPOTHESIS_PROFILE=explore`` to search with
fresh random examples (and more of them) while developing; a failure found there is added to the
test as an ``@example``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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

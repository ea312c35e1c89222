"""The suite's hypothesis examples are a function of the test alone, not of what the process imported.

Under the ``ci`` profile (``derandomize``) a test must draw the same examples in a full run, in one
module and after any commit elsewhere. Hypothesis also mixes in constants from every loaded local
module; ``tests/conftest.py`` switches that off. This test loads a fresh local module full of
in-range constants between two runs of the same derandomized test and requires identical draws:
with the pool on, some of those constants are drawn (seen: 3 of 200 draws) and the lists differ.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st


def _draws() -> list[float]:
    drawn: list[float] = []

    @settings(derandomize=True, database=None, max_examples=200, deadline=None)
    @given(st.floats(1e-3, 1e6))
    def record(x: float) -> None:
        drawn.append(x)

    record()
    return drawn


def test_examples_do_not_depend_on_imported_modules(tmp_path: Path) -> None:
    before = _draws()
    constants = [123_456.789 + k for k in range(50)] + [4_321.5 + k for k in range(50)]
    (tmp_path / "liqrisk_constants_probe.py").write_text(
        "".join(f"C{k} = {value!r}\n" for k, value in enumerate(constants)))
    sys.path.insert(0, str(tmp_path))
    try:
        importlib.import_module("liqrisk_constants_probe")
        after = _draws()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("liqrisk_constants_probe", None)
    assert not set(after) & set(constants), "a constant of the newly imported module was drawn"
    assert after == before

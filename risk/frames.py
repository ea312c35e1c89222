"""Tables out of the engine: plain column dicts, pandas DataFrames, JSON-safe numbers.

Every result type has ``to_frame()`` -> ``dict[str, numpy array]`` (one entry per column, all the
same length; no dependency) and ``to_pandas()`` -> ``pandas.DataFrame`` built from it. pandas
(and pyarrow, for Parquet) is the optional extra ``liqrisk[frames]``: ``risk`` imports without it,
and only ``to_pandas()`` needs it.

This module also holds the one NaN/inf -> ``null`` rule (:func:`finite_or_none`,
:func:`json_safe`) and the one human USD format (:func:`human_usd`, :func:`usd`) the
project uses, so JSON, tables, charts and alerts agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

FRAMES_EXTRA_HINT = "pandas is not installed: pip install 'liqrisk[frames]' (pandas + pyarrow)"


def to_pandas(columns: Mapping[str, Any]) -> "pd.DataFrame":
    """A DataFrame from ``to_frame()`` columns; a clear ImportError without the extra."""
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - the test env has the extra
        raise ImportError(FRAMES_EXTRA_HINT) from exc
    return pd.DataFrame({k: np.asarray(v) for k, v in columns.items()})


def check_columns(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Columns as arrays; raises if their lengths differ (a frame is rectangular)."""
    out = {k: np.asarray(v) for k, v in columns.items()}
    lengths = {k: v.shape[0] if v.ndim else 1 for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"columns of different lengths: {lengths}")
    return out


# ----------------------------------------------------------------------- JSON-safe numbers


def finite_or_none(value: Any) -> float | None:
    """``float(value)``, or None for NaN / +-inf (JSON has no such numbers)."""
    x = float(value)
    return x if math.isfinite(x) else None


def json_safe(value: Any) -> Any:
    """``value`` with numpy scalars/arrays made plain and NaN/inf replaced by None, recursively."""
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


# ------------------------------------------------------------------------------ USD text


def human_usd(usd: float) -> str:
    """``12.3M`` style amount, no ``$`` (``1.2B``, ``350.0k``, ``999``)."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(usd) >= scale:
            return f"{usd / scale:,.1f}{unit}"
    return f"{usd:,.0f}"


def usd(value: float | None) -> str:
    """``$12.3M``; ``—`` for None or a non-finite number."""
    if value is None or not math.isfinite(float(value)):
        return "—"
    return f"${human_usd(float(value))}"


__all__ = ["FRAMES_EXTRA_HINT", "check_columns", "finite_or_none", "human_usd", "json_safe", "to_pandas", "usd"]

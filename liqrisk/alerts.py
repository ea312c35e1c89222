"""Alerts: flag a report when spot is close to a big liquidation band, or when a moderate
drawdown would cascade into large liquidations; optionally POST them to a webhook.

Rules (thresholds in :class:`AlertConfig`):

- ``band_proximity``: a band holding at least ``band_min_usd`` of collateral whose nearest edge is
  within ``band_within`` of spot (fraction: 0.05 = 5%). Long bands are below spot, short bands
  above; distance is measured to the edge facing spot.
- ``cascade``: the cascade at an initial driver drawdown of ``drawdown`` liquidates at least
  ``cascade_usd`` of debt (the grid row nearest to ``drawdown``; the caller runs that point).

The webhook gets one JSON document (``{"liqrisk_alerts": 1, "run_id", "block_number", "alerts":
[...]}``) via ``urllib`` with a timeout. Delivery failures are logged and returned, never raised:
a dead webhook must not kill a scheduled run.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from risk.bands import BandReport
    from risk.cascade import CascadeTable

log = logging.getLogger(__name__)

WEBHOOK_ENV = "LIQRISK_WEBHOOK_URL"


class AlertConfig(BaseModel):
    """Alert thresholds (fractions of price, USD)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    band_within: float = Field(default=0.05, gt=0, lt=1, description="fraction of spot, 0.05 = 5%")
    band_min_usd: float = Field(default=10e6, ge=0, description="collateral in the band, USD")
    drawdown: float = Field(default=0.20, gt=0, lt=1, description="initial driver drawdown tested, fraction")
    cascade_usd: float = Field(default=50e6, ge=0, description="liquidated debt that triggers the alert, USD")
    webhook_url: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("webhook URL must start with http:// or https://")
        return url or None


@dataclass(frozen=True)
class Alert:
    """One triggered rule. ``details`` holds the numbers behind ``message`` (USD, fractions)."""

    kind: Literal["band_proximity", "cascade"]
    severity: Literal["warning", "critical"]
    message: str
    details: dict[str, float | str]

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "message": self.message, "details": dict(self.details)}


def band_alerts(bands: "BandReport", config: AlertConfig) -> list[Alert]:
    spot = bands.map.spot_usd
    alerts = []
    for band in bands.bands:
        edge = band.high_usd if band.side == "long" else band.low_usd
        distance = abs(edge - spot) / spot
        if distance <= config.band_within and band.collateral_usd >= config.band_min_usd:
            move = "fall" if band.side == "long" else "rise"
            alerts.append(Alert(
                kind="band_proximity",
                severity="critical" if distance <= config.band_within / 2 else "warning",
                message=(f"{band.symbol} spot ${spot:,.2f} is {distance:.1%} from a {band.side} band "
                         f"${band.low_usd:,.0f}–${band.high_usd:,.0f} holding ${human_usd(band.collateral_usd)} "
                         f"of collateral (a {distance:.1%} {move} starts liquidating it)"),
                details={"symbol": band.symbol, "side": band.side, "spot_usd": spot, "band_low_usd": band.low_usd,
                         "band_high_usd": band.high_usd, "collateral_usd": band.collateral_usd,
                         "distance": distance, "threshold_distance": config.band_within,
                         "threshold_usd": config.band_min_usd},
            ))
    return alerts


def cascade_alerts(table: "CascadeTable", config: AlertConfig) -> list[Alert]:
    import numpy as np

    if len(table) == 0:
        return []
    i = int(np.argmin(np.abs(table.initial_drawdown - config.drawdown)))
    row = table.at(float(table.initial_drawdown[i]))
    if row["liquidated_debt_usd"] < config.cascade_usd:
        return []
    return [Alert(
        kind="cascade",
        severity="critical" if row["bad_debt_usd"] > 0 else "warning",
        message=(f"a {row['initial_drawdown']:.0%} {table.driver} drawdown cascades to "
                 f"{row['final_drawdown']:.1%}, liquidating ${human_usd(row['liquidated_debt_usd'])} of debt "
                 f"(threshold ${human_usd(config.cascade_usd)}), bad debt ${human_usd(row['bad_debt_usd'])}"),
        details={"driver": table.driver, "initial_drawdown": row["initial_drawdown"],
                 "final_drawdown": row["final_drawdown"], "liquidated_debt_usd": row["liquidated_debt_usd"],
                 "bad_debt_usd": row["bad_debt_usd"], "threshold_usd": config.cascade_usd},
    )]


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    error: str | None


def post_webhook(url: str, payload: dict[str, Any], *, timeout_s: float = 5.0) -> Delivery:
    """POST ``payload`` as JSON. Never raises: failures are logged (URL masked) and returned."""
    from chain.transport import mask_url

    body = json.dumps(payload, allow_nan=False).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "liqrisk"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http(s) checked
            status = response.status
        if 200 <= status < 300:
            return Delivery(True, status, None)
        error = f"HTTP {status}"
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        status, error = None, str(getattr(exc, "reason", exc))
    log.warning("alert webhook %s failed: %s", mask_url(url), error)
    return Delivery(False, status, error)


def human_usd(usd: float) -> str:
    """``12.3M`` style amount (no $)."""
    for unit, scale in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(usd) >= scale:
            return f"{usd / scale:,.1f}{unit}"
    return f"{usd:,.0f}"


__all__ = ["Alert", "AlertConfig", "Delivery", "WEBHOOK_ENV", "band_alerts", "cascade_alerts", "human_usd", "post_webhook"]

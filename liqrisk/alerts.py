"""Alerts: flag a report when spot is close to a big liquidation band, or when a moderate
drawdown would cascade into large liquidations; optionally POST them to a webhook.

Rules (thresholds in :class:`AlertConfig`):

- ``band_proximity``: a band holding at least ``band_min_usd`` of collateral whose nearest edge is
  within ``band_within`` of spot (fraction: 0.05 = 5%). Long bands are below spot, short bands
  above; distance is measured to the edge facing spot.
- ``cascade``: the cascade at an initial driver drawdown of ``drawdown`` liquidates at least
  ``cascade_usd`` of debt (the grid row nearest to ``drawdown``; the caller runs that point).

Webhook payloads (:func:`alert_payload`), posted by the caller (``liqrisk report``), never from
inside report writing:

- ``plain``: ``{"liqrisk_alerts": 1, "run_id", "chain_id", "block_number", "driver", "alerts": [...]}``;
- ``slack``: Slack's incoming-webhook shape ``{"text": <one-line summary>, "blocks": [header,
  one section per alert, context]}`` (Block Kit: mrkdwn sections <= 3,000 characters, <= 50
  blocks) — also accepted by Mattermost and Discord's ``/slack`` endpoints;
- ``auto`` (default): ``slack`` for ``hooks.slack.com`` URLs, else ``plain``.

:func:`post_webhook` POSTs via ``urllib`` with a timeout. Delivery failures are logged and
returned, never raised: a dead webhook must not kill a scheduled run.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from risk.frames import human_usd

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
    webhook_format: Literal["auto", "plain", "slack"] = "auto"
    timeout_s: float = Field(default=5.0, gt=0, le=120)

    @field_validator("webhook_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url:
            from chain.transport import mask_url, rpc_url_problem

            problem = rpc_url_problem(url.strip())  # the same URL rules as an RPC endpoint
            if problem is not None:
                raise ValueError(f"the webhook URL {problem} (got {mask_url(url)})")
            url = url.strip()
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


WebhookFormat = Literal["auto", "plain", "slack"]
SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 3000


def resolve_format(url: str, fmt: WebhookFormat = "auto") -> Literal["plain", "slack"]:
    """``auto``: Slack's shape for a ``hooks.slack.com`` URL, else the plain one."""
    if fmt != "auto":
        return fmt
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").lower()
    return "slack" if host == "hooks.slack.com" or host.endswith(".hooks.slack.com") else "plain"


def alert_payload(alerts: "list[Alert] | tuple[Alert, ...]", *, run_id: str, chain_id: int, block_number: int,
                  driver: str, fmt: Literal["plain", "slack"] = "plain") -> dict[str, Any]:
    """The JSON document posted for ``alerts`` (see the module docstring for the shapes)."""
    plain = {"liqrisk_alerts": 1, "run_id": run_id, "chain_id": chain_id, "block_number": block_number,
             "driver": driver, "alerts": [a.as_dict() for a in alerts]}
    if fmt == "plain":
        return plain
    worst = "critical" if any(a.severity == "critical" for a in alerts) else "warning"
    n = len(alerts)
    head = f"liqrisk: {n} {worst} alert{'s' if n != 1 else ''} — {driver}, block {block_number:,} (chain {chain_id})"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": head[:150], "emoji": True}}]
    room = SLACK_MAX_BLOCKS - 3  # header, a possible "more" line, context
    for a in alerts[:room]:
        mark = ":rotating_light:" if a.severity == "critical" else ":warning:"
        text = f"{mark} *{a.severity.upper()}* `{a.kind}`\n{_slack_escape(a.message)}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:SLACK_MAX_TEXT]}})
    if n > room:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"…and {n - room} more in the report"}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"run `{run_id}` · chain {chain_id} · block {block_number:,} · liqrisk"}]})
    summary = head + ": " + "; ".join(a.message for a in alerts[:3]) + (" …" if n > 3 else "")
    return {"text": summary[:SLACK_MAX_TEXT], "blocks": blocks}


def _slack_escape(text: str) -> str:
    """Slack mrkdwn reserves &, < and > (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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


__all__ = ["Alert", "AlertConfig", "Delivery", "WEBHOOK_ENV", "WebhookFormat", "alert_payload", "band_alerts",
           "cascade_alerts", "human_usd", "post_webhook", "resolve_format"]

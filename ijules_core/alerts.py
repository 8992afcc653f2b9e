"""Alerts: always logged; also POSTed as JSON to a webhook when one is configured.

The webhook URL is a secret (it usually embeds a token): it is never logged.
"""

from __future__ import annotations

import logging

import requests

log = logging.getLogger("ijules.alerts")


def send_alert(title: str, body: str, webhook_url: str | None = None, timeout_s: float = 5.0) -> bool:
    """Log the alert and deliver it to the webhook if any; True when the webhook accepted it.

    A webhook failure is logged, not raised: alerting must never fail the thing it reports on.
    """
    log.error("ALERT %s: %s", title, body)
    if not webhook_url:
        return False
    try:
        resp = requests.post(webhook_url, json={"title": title, "text": body}, timeout=timeout_s)
        resp.raise_for_status()
    except requests.RequestException as exc:
        log.warning("alert webhook delivery failed: %s", type(exc).__name__)
        return False
    return True

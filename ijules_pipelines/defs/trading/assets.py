"""The paper-trading service's tables, as external assets: Dagster does not build them, the service
(`ijules paper`, which runs outside Dagster) reports each session's opening and closing to them."""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

TABLES = {
    "trading_sessions": ("trading.sessions", "One row per account and day, with the end-of-day session report."),
    "trading_decisions": ("trading.decisions", "Every decision: action, confidence, observation, latency."),
    "trading_orders": ("trading.orders", "Orders, written before they are sent (client order id = IB orderRef)."),
    "trading_fills": ("trading.fills", "Fills, written before they are booked; one per broker execution id."),
    "trading_positions": ("trading.positions", "Position snapshot per bar: held, working, cash, equity, governor."),
    "trading_risk_events": ("trading.risk_events", "Governor refusals and state changes, reconciliation notes."),
}

trading_tables = [
    dg.AssetSpec(key, description=desc, group_name="trading", kinds={"postgres"}, metadata={"table": table})
    for key, (table, desc) in TABLES.items()
]


def _closing_metadata(report: dict) -> dict[str, dict]:
    """Per table, what a person wants to see of a closed session."""
    return {
        "trading_sessions": {"equity": report["equity"], "pnl": report["pnl"], "flat": report["flat"],
                             "governor": report["governor"],
                             "report": dg.MetadataValue.json({k: v for k, v in report.items() if k != "session_id"})},
        "trading_decisions": {"decisions": report["decisions"]},
        "trading_orders": {"orders": report["orders"], "rejected": report["rejected"]},
        "trading_fills": {"fills": report["fills"], "fees": report["fees"], "traded_value": report["traded_value"]},
        "trading_positions": {"flat": report["flat"], "max_drawdown": report["max_drawdown"],
                              "positions": dg.MetadataValue.json(report["positions"])},
        "trading_risk_events": {"refusal_events": report["refusal_events"]},
    }


def dagster_reporter(instance: dg.DagsterInstance) -> Callable[[str, dict], None]:
    """The service's `reporter`: runless asset events on the trading tables (an opening: the sessions
    table is observed; a closing: every table is materialized with the session's numbers)."""

    def report(event: str, info: dict) -> None:
        common = {"session_id": info["session_id"], "day": info["day"]}
        if event == "session_opened":
            instance.report_runless_asset_event(dg.AssetObservation(
                "trading_sessions", metadata={**common, "event": "opened", "policy": info["policy"],
                                              "resumed": info["resumed_at"] is not None}))
            return
        for key, metadata in _closing_metadata(info).items():
            instance.report_runless_asset_event(dg.AssetMaterialization(key, metadata={**common, **metadata}))

    return report

"""QC reports as rows: what the gate decided, kept beside the data it judged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import psycopg
from psycopg.types.json import Jsonb

from ijules_core.qc import Outcome, QCReport, worst


def save_qc_report(conn: psycopg.Connection, report: QCReport, days: Sequence[dt.date]) -> int:
    """Per day: a row per symbol (its stats and failures) and a '*' row (the day's verdict)."""
    doc = report.to_dict()
    rows = []
    for day in sorted(days):
        iso = day.isoformat()
        parts = [p for p in doc["partitions"] if p["day"] == iso]
        for p in parts:
            failures = [f for f in doc["failures"] if f["day"] == iso and f["symbol"] == p["symbol"]]
            rows.append((day, p["symbol"], p["outcome"], Jsonb({**p, "failures": failures})))
        day_failures = [f for f in doc["failures"] if f["day"] in (iso, None)]
        outcome = worst([Outcome(p["outcome"]) for p in parts] + [Outcome(f["severity"]) for f in day_failures])
        summary = {"environment": doc["environment"], "thresholds": doc["thresholds"], "rows": doc["rows"],
                   "alignment": doc["alignment"].get(iso), "failures": day_failures}
        rows.append((day, "*", outcome.value, Jsonb(summary)))
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO market_data.qc_reports (partition, symbol, outcome, metrics) VALUES (%s, %s, %s, %s)", rows
        )
    return len(rows)


def blocked_days(conn: psycopg.Connection, start: dt.date, end: dt.date) -> list[dt.date]:
    """Days QC blocked and never passed: no batch of theirs ever reached `market_data.bars`.

    A day whose latest re-ingestion was blocked but an earlier batch passed is not blocked:
    the refused batch left the table as it was, with data that did pass.
    """
    rows = conn.execute(
        "SELECT partition FROM market_data.qc_reports WHERE symbol = '*' AND partition BETWEEN %s AND %s "
        "GROUP BY partition HAVING bool_and(outcome = 'BLOCK') ORDER BY partition",
        (start, end),
    ).fetchall()
    return [r[0] for r in rows]


def save_backtest(conn: psycopg.Connection, run_id: str, result, report_path: str | None) -> None:
    """One `backtest.runs` row and a `backtest.windows` row per window, in one transaction."""
    summary = result.summary()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO backtest.runs (run_id, as_of, policy, status, gates, metrics, report_path) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (run_id, result.as_of, result.policy, "PASS" if result.passed else "FAIL",
             Jsonb(summary["gates"]), Jsonb(summary["mean"]), report_path),
        )
        cur.executemany(
            "INSERT INTO backtest.windows (run_id, idx, start_day, end_day, ok, reason, metrics) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(run_id, w.idx, w.days[0], w.days[-1], w.ok, w.reason, Jsonb(w.metrics)) for w in result.windows],
        )

"""End-of-day validation: is today's data complete, fresh and healthy, and what should a person do?

Each check is a small function of (connection, context) returning an `EODCheck`; the report
is their list, worst status first, with a recommendation wherever one is due. Trading
checks (flat at close, no limit breach) join the same list.
"""

from __future__ import annotations

import datetime as dt
import enum
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from ijules_core import calendar


class Status(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


_RANK = {Status.PASS: 0, Status.WARN: 1, Status.FAIL: 2}


@dataclass(frozen=True)
class EODCheck:
    name: str
    status: Status
    detail: str
    metrics: dict = field(default_factory=dict)
    recommendations: tuple[str, ...] = ()


@dataclass(frozen=True)
class EODContext:
    day: dt.date
    symbols: Sequence[str]
    lookback_days: int = 20
    min_qc_pass_rate: float = 0.95
    max_missing_ratio: float = 0.05
    data_dir: Path = Path(".")
    min_free_disk_ratio: float = 0.10


@dataclass(frozen=True)
class EODReport:
    day: dt.date
    checks: tuple[EODCheck, ...]

    @property
    def outcome(self) -> Status:
        return max((c.status for c in self.checks), key=_RANK.__getitem__, default=Status.PASS)

    @property
    def recommendations(self) -> list[str]:
        return [r for c in self.checks for r in c.recommendations]

    def to_dict(self) -> dict:
        return {"day": self.day.isoformat(), "outcome": self.outcome.value,
                "checks": [{**asdict(c), "status": c.status.value} for c in self.checks],
                "recommendations": self.recommendations}

    def to_markdown(self) -> str:
        lines = [f"### EOD validation {self.day}: {self.outcome.value}", "", "| check | status | detail |", "|---|---|---|"]
        lines += [f"| {c.name} | {c.status.value} | {c.detail} |"
                  for c in sorted(self.checks, key=lambda c: -_RANK[c.status])]
        lines += ["", "**Recommendations**", ""] + ([f"- {r}" for r in self.recommendations] or ["- none"])
        return "\n".join(lines) + "\n"


def completeness(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    expected = calendar.expected_bars(ctx.day)
    counts = dict(conn.execute(
        "SELECT symbol, count(*) FROM market_data.bars WHERE symbol = ANY(%s) AND ts >= %s AND ts < %s GROUP BY 1",
        (list(ctx.symbols), calendar.session_open(ctx.day), calendar.session_close(ctx.day)),
    ).fetchall())
    recs, worst = [], Status.PASS
    for sym in ctx.symbols:
        missing = expected - counts.get(sym, 0)
        if missing:
            status = Status.FAIL if missing / expected > ctx.max_missing_ratio else Status.WARN
            worst = max(worst, status, key=_RANK.__getitem__)
            recs.append(f"re-ingest {ctx.day} {sym}: {missing} minutes missing")
    detail = ", ".join(f"{s} {counts.get(s, 0)}/{expected}" for s in ctx.symbols)
    return EODCheck("completeness", worst, detail, {"expected": expected, "bars": counts}, tuple(recs))


def qc_pass_rate(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    days = calendar.previous_sessions(ctx.day, ctx.lookback_days)
    verdicts = dict(conn.execute(
        "SELECT DISTINCT ON (partition) partition, outcome FROM market_data.qc_reports "
        "WHERE symbol = '*' AND partition BETWEEN %s AND %s ORDER BY partition, created_at DESC, id DESC",
        (days[0], days[-1]),
    ).fetchall())
    checked = [d for d in days if d in verdicts]
    passed = [d for d in checked if verdicts[d] != "BLOCK"]
    rate = len(passed) / len(checked) if checked else 0.0
    blocked = [str(d) for d in checked if verdicts[d] == "BLOCK"]
    unchecked = [str(d) for d in days if d not in verdicts]
    recs = [f"re-ingest {d}: its last QC verdict is BLOCK" for d in blocked]
    if unchecked:
        recs.append(f"ingest {len(unchecked)} session(s) never checked by QC, e.g. {', '.join(unchecked[:3])}")
    status = Status.PASS if checked and rate >= ctx.min_qc_pass_rate and not unchecked else Status.WARN
    detail = f"{len(passed)}/{len(checked)} sessions passed QC over the last {len(days)} ({rate:.0%})"
    return EODCheck("qc_pass_rate", status, detail, {"rate": rate, "blocked": blocked, "unchecked": unchecked}, tuple(recs))


def freshness(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    close = calendar.session_close(ctx.day)
    last = conn.execute(
        "SELECT max(ts) FROM market_data.bars WHERE symbol = ANY(%s) AND ts >= %s AND ts < %s",
        (list(ctx.symbols), calendar.session_open(ctx.day), close),
    ).fetchone()[0]
    final_bar = close - dt.timedelta(minutes=1)
    if last is None:
        return EODCheck("freshness", Status.FAIL, "no bars for the session", {}, (f"ingest {ctx.day}",))
    lag = (final_bar - last).total_seconds() / 60
    status = Status.PASS if lag <= 0 else Status.FAIL
    recs = () if lag <= 0 else (f"ingest {ctx.day}: the last bar is {last} ({lag:.0f} minutes before the close)",)
    return EODCheck("freshness", status, f"last bar {last}, final bar of the session {final_bar}",
                    {"last_bar": str(last), "lag_minutes": max(lag, 0.0)}, recs)


def table_health(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    rows, size = conn.execute(
        "SELECT (SELECT count(*) FROM market_data.bars), pg_total_relation_size('market_data.bars')"
    ).fetchone()
    metrics = {"rows": rows, "bytes": size}
    hyper = conn.execute("SELECT to_regclass('timescaledb_information.chunks') IS NOT NULL").fetchone()[0]
    if hyper:
        chunks, compressed = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE is_compressed) FROM timescaledb_information.chunks "
            "WHERE hypertable_schema = 'market_data' AND hypertable_name = 'bars'"
        ).fetchone()
        metrics |= {"chunks": chunks, "compressed_chunks": compressed}
    detail = f"{rows:,} rows, {size / 2**20:.1f} MiB" + (
        f", {metrics['chunks']} chunks ({metrics['compressed_chunks']} compressed)" if hyper else ", plain PostgreSQL"
    )
    return EODCheck("table_health", Status.PASS if rows else Status.WARN, detail, metrics)


def disk_space(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    usage = shutil.disk_usage(ctx.data_dir)
    free = usage.free / usage.total
    db = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    status = Status.PASS if free >= ctx.min_free_disk_ratio else Status.WARN
    recs = () if status is Status.PASS else (f"free disk space: only {free:.0%} left on {ctx.data_dir}",)
    return EODCheck("disk_space", status, f"{free:.0%} free, database {db / 2**20:.0f} MiB",
                    {"free_ratio": free, "database_bytes": db}, recs)


def _paper_sessions(conn: psycopg.Connection, day: dt.date) -> list[tuple]:
    """The day's paper-trading sessions: (session id, status, risk config, last held positions)."""
    return conn.execute(
        "SELECT s.session_id, s.status, s.risk, p.held FROM trading.sessions s LEFT JOIN LATERAL "
        "(SELECT held FROM trading.positions WHERE session_id = s.session_id ORDER BY ts DESC LIMIT 1) p ON true "
        "WHERE s.day = %s ORDER BY s.session_id", (day,)).fetchall()


def flat_at_close(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    """Every paper-trading session of the day closed, holding nothing."""
    sessions = _paper_sessions(conn, ctx.day)
    if not sessions:
        return EODCheck("flat_at_close", Status.PASS, "no paper-trading session")
    open_ = [sid for sid, status, _, _ in sessions if status != "CLOSED"]
    held = {sid: {s: q for s, q in (h or {}).items() if q} for sid, _, _, h in sessions}
    not_flat = {sid: h for sid, h in held.items() if h}
    recs = [f"{sid}: the session never closed — is `ijules paper` running? check `ijules status`" for sid in open_]
    recs += [f"{sid}: still holds {h} — flatten at the broker and see the session's risk events" for sid, h in
             not_flat.items()]
    status = Status.FAIL if open_ or not_flat else Status.PASS
    detail = (f"{len(sessions)} session(s) closed flat" if status is Status.PASS else
              f"{len(open_)} not closed, {len(not_flat)} not flat of {len(sessions)}")
    return EODCheck("flat_at_close", status, detail, {"open": open_, "not_flat": not_flat}, tuple(recs))


def no_limit_breach(conn: psycopg.Connection, ctx: EODContext) -> EODCheck:
    """No position the governor let stand above its limits, no more orders than the day allows.

    Judged on each snapshot's working positions (held + open orders: what the governor approved) at
    the prices it reviewed them at; a loss beyond the daily limit (prices can gap past a halt) warns.
    """
    sessions = _paper_sessions(conn, ctx.day)
    if not sessions:
        return EODCheck("no_limit_breach", Status.PASS, "no paper-trading session")
    breaches, warnings = [], []
    for sid, _, risk, _ in sessions:
        notional, gross, loss = conn.execute(
            "SELECT max(abs((w.value)::float * (p.prices ->> w.key)::float)), "
            "max((SELECT sum(abs((x.value)::float * (p.prices ->> x.key)::float)) FROM jsonb_each(p.working) x)), "
            "min(p.daily_pnl) FROM trading.positions p, jsonb_each(p.working) w WHERE p.session_id = %s",
            (sid,)).fetchone()
        orders = conn.execute("SELECT count(*) FROM trading.orders WHERE session_id = %s AND status <> 'REJECTED'",
                              (sid,)).fetchone()[0]
        if notional is not None and notional > risk["max_notional"] + 1e-6:
            breaches.append(f"{sid}: a position of ${notional:,.2f} > max_notional ${risk['max_notional']:,.0f}")
        if gross is not None and gross > risk["max_gross"] + 1e-6:
            breaches.append(f"{sid}: gross exposure ${gross:,.2f} > max_gross ${risk['max_gross']:,.0f}")
        if orders > risk["max_orders_per_day"]:
            breaches.append(f"{sid}: {orders} orders > max_orders_per_day {risk['max_orders_per_day']}")
        if loss is not None and -loss > risk["daily_loss_limit"]:
            warnings.append(f"{sid}: daily loss ${-loss:,.2f} went past the ${risk['daily_loss_limit']:,.0f} limit")
    status = Status.FAIL if breaches else Status.WARN if warnings else Status.PASS
    recs = tuple(f"review {b} (trading.risk_events, trading.positions)" for b in breaches + warnings)
    detail = "; ".join(breaches + warnings) or f"{len(sessions)} session(s) within every limit"
    return EODCheck("no_limit_breach", status, detail, {"breaches": breaches, "warnings": warnings}, recs)


CHECKS: list[Callable[[psycopg.Connection, EODContext], EODCheck]] = [
    completeness, qc_pass_rate, freshness, table_health, disk_space, flat_at_close, no_limit_breach,
]


def validate_day(conn: psycopg.Connection, ctx: EODContext, checks=CHECKS) -> EODReport:
    calendar.require_session(ctx.day)
    return EODReport(ctx.day, tuple(check(conn, ctx) for check in checks))


def save_eod_report(conn: psycopg.Connection, report: EODReport) -> None:
    with conn.transaction():
        conn.execute("INSERT INTO market_data.eod_reports (day, outcome, report) VALUES (%s, %s, %s)",
                     (report.day, report.outcome.value, Jsonb(report.to_dict())))

"""The paper trader on replayed sessions: the backtester's path, restarts, reconciliation, monitoring."""

import json
import re
import socket
import urllib.request
from pathlib import Path

import pandas as pd
from paper_data import DAY, SYMBOLS, WARMUP, session_bars

from ijules_core.backtest import replay
from ijules_core.features import MarketData
from ijules_core.paper.metrics import ServiceMetrics
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.simvenue import DurableSimBroker
from ijules_core.paper.store import TradingStore, last_snapshot
from ijules_core.paper.stream import MINUTE_NS, minutes_from_bars
from ijules_core.paper.trader import PaperConfig, PaperTrader
from ijules_core.orders import Order
from ijules_core.policy import HOLD, BuyAndHoldPolicy, MovingAveragePolicy
from ijules_core.store.bars import read_bars, write_bars
from ijules_core.store.db import connect


class FromSession:
    """Holds until its n-th session, then acts like `inner`: a backtest whose first days are only warm-up."""

    name = "gated"

    def __init__(self, inner, n):
        self.inner, self.n, self.sessions = inner, n, 0

    def reset(self):
        self.sessions += 1
        self.inner.reset()

    def act(self, obs):
        return self.inner.act(obs) if self.sessions > self.n else (HOLD, 1.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(url, account="paper", **kw) -> Service:
    kw = {"replay": DAY, "speed": 0, "model": "moving_average", "metrics_port": None} | kw
    service = Service(ServiceOptions(paper=PaperConfig(account=account), **kw), url)
    service.run()
    return service


def test_replayed_session_trades_as_the_backtester_would(market_url):
    service = run(market_url, account="ij")  # the engine's default id prefix: ids compare too
    data = MarketData.from_bars(session_bars([*WARMUP, DAY]), SYMBOLS)
    backtest = replay(data, FromSession(MovingAveragePolicy(), n=len(WARMUP)))
    paper = service.trader
    assert len(paper.portfolio.fills) > 10
    assert paper.portfolio.fills == backtest.fills  # same fills: symbol, quantity, price, time, ids…
    assert paper.portfolio.equity(paper.stream.last_closes) == backtest.equity[-1]
    assert [d[1] for d in paper.decisions] == [d[1] for d in backtest.decisions[-len(paper.decisions):]]


def test_session_rows_and_metrics(market_url):
    port = _free_port()
    service = run(market_url, metrics_port=port)
    with connect(market_url) as conn:
        session = conn.execute("SELECT status, report FROM trading.sessions").fetchone()
        decisions = conn.execute("SELECT count(*), count(latency_ms), min(array_length(observation, 1)) "
                                 "FROM trading.decisions").fetchone()
        orders = conn.execute("SELECT status, count(*) FROM trading.orders GROUP BY 1").fetchall()
        snapshots = conn.execute("SELECT count(*) FROM trading.positions").fetchone()[0]
        beat = conn.execute("SELECT status, broker_connected FROM trading.heartbeats").fetchone()
    assert session[0] == "CLOSED" and session[1]["flat"] and session[1]["decisions"] == 390
    assert decisions == (390, 390, 26)
    assert dict(orders)["FILLED"] == session[1]["fills"] == len(service.trader.portfolio.fills)
    assert snapshots == 390 and beat == ("stopped", True)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    metrics = {line.split(" ")[0]: float(line.split(" ")[1]) for line in body.splitlines() if line[:1] != "#"}
    assert metrics["ijules_decision_latency_seconds_count"] == 390
    assert metrics["ijules_trades_total"] == session[1]["fills"]
    assert metrics['ijules_position_shares{symbol="NVDA"}'] == 0
    state = service.trader.governor.state
    assert [k for k, v in metrics.items() if k.startswith("ijules_governor_state") and v] == [
        f'ijules_governor_state{{state="{state}"}}']
    assert metrics["ijules_broker_connected"] == 1
    assert abs(metrics["ijules_portfolio_value_dollars"] - session[1]["equity"]) < 1e-6
    assert metrics['ijules_price_dollars{symbol="MSFT"}'] > 0


def test_a_lost_link_reduces_then_reconciles_the_fills_made_meanwhile(market_url):
    run(market_url, reject_rate=0.2, disconnect_rate=0.5, seed=3)
    with connect(market_url) as conn:
        events = conn.execute("SELECT kind, reason, detail FROM trading.risk_events ORDER BY id").fetchall()
        by_source = dict(conn.execute("SELECT source, count(*) FROM trading.fills GROUP BY 1").fetchall())
        venue = conn.execute("SELECT count(*) FROM trading.sim_fills").fetchone()[0]
        rejected = conn.execute("SELECT count(*) FROM trading.orders WHERE status = 'REJECTED'").fetchone()[0]
    drops = [e for e in events if e[1] == "broker disconnected"]
    assert drops and all(e[2] == "ACTIVE -> REDUCING" for e in drops)
    assert sum(e[1] == "broker reconnected and reconciled" for e in events) == len(drops)
    assert by_source["reconcile"] > 0 and sum(by_source.values()) == venue  # every fill booked, once
    assert rejected > 0


def test_positions_the_broker_holds_are_carried_in_and_flattened(market_url):
    with connect(market_url, autocommit=True) as conn:  # a position left at the venue from before
        venue = DurableSimBroker(conn, "carry", SYMBOLS)
        venue.submit(Order("manual-1", "NVDA", 2, pd.Timestamp(WARMUP[1]).value))
        venue.on_bar(pd.Timestamp(WARMUP[1], tz="UTC").value + 10**9, {"NVDA": 500.0, "MSFT": 400.0})
        cash = venue.cash
    service = run(market_url, account="carry", model="flat")
    trader = service.trader
    with connect(market_url) as conn:
        adjust = conn.execute("SELECT symbol, qty, source FROM trading.fills WHERE source = 'adjust'").fetchall()
        start_cash = conn.execute("SELECT start_cash FROM trading.sessions").fetchone()[0]
    assert adjust == [("NVDA", 2, "adjust")]
    assert start_cash == cash + 2 * trader.portfolio.fills[0].price  # cash and shares valued at the last close
    assert trader.portfolio.is_flat() and trader.broker.positions() == {"NVDA": 0, "MSFT": 0}


def test_the_kill_switch_survives_a_restart_and_the_next_session(market_url):
    with connect(market_url) as conn:
        write_bars(conn, session_bars([pd.Timestamp("2025-11-25").date()]), "synthetic")
        conn.execute("INSERT INTO trading.controls (account, command) VALUES ('paper', 'halt')")
        conn.commit()
    run(market_url, model="buy_and_hold")
    next_day = pd.Timestamp("2025-11-25").date()
    service = run(market_url, model="buy_and_hold", replay=next_day)
    with connect(market_url) as conn:
        fills = conn.execute("SELECT count(*) FROM trading.fills").fetchone()[0]
        result = conn.execute("SELECT result FROM trading.controls").fetchone()[0]
    assert "halt" in result and fills == 0  # halted before the first bar: never traded
    assert service.trader.governor.state == "HALTED" and service.trader.governor.kill_switch
    with connect(market_url) as conn:
        assert last_snapshot(conn, "paper").governor["kill_switch"]


def test_the_dashboard_charts_every_metric_the_service_exports_and_nothing_else():
    metrics = ServiceMetrics()
    metrics.observe_portfolio(1.0, 1.0, 0.0, 0.0, {"NVDA": 0}, {"NVDA": 1.0})
    metrics.observe_governor("ACTIVE", 0)
    samples = {s.name for family in metrics.registry.collect() for s in family.samples}
    families = {family.name for family in metrics.registry.collect()}
    dashboard = json.loads((Path(__file__).parents[2] / "grafana" / "ijules_paper.json").read_text())
    used = {m for p in dashboard["panels"] for t in p["targets"] for m in re.findall(r"ijules_[a-z_]+", t["expr"])}
    assert used <= samples, used - samples
    assert {f for f in families if not any(u.startswith(f) for u in used)} == set()


def test_a_bar_that_arrives_late_only_lets_positions_shrink(market_url):
    with connect(market_url, autocommit=True) as conn, connect(market_url, autocommit=True) as venue:
        history = read_bars(conn, SYMBOLS, WARMUP[0], WARMUP[-1])
        trader = PaperTrader(TradingStore(conn), DurableSimBroker(venue, "late", SYMBOLS), BuyAndHoldPolicy(), DAY,
                             PaperConfig(account="late"), history)
        first, second = minutes_from_bars(read_bars(conn, SYMBOLS, DAY, DAY))[:2]
        assert trader.on_minute(first, now_ns=first.ts + 6 * MINUTE_NS) == ()  # five minutes late: no buying
        assert len(trader.on_minute(second, now_ns=second.ts + MINUTE_NS)) == 2  # on time: it buys both
        refusals = [e for e in trader.governor.events if e.kind == "refusal"]
        assert refusals[0].reason == "stale data: no bar for 5 min" and refusals[0].ts == first.ts + MINUTE_NS

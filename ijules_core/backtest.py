"""Backtests: replay bars through policy → governor → orders → simulated broker → portfolio.

The same `ExecutionEngine`, governor, broker and portfolio as training and paper trading,
the same observation (`env.observation`). A policy is reset at every session start (a
recurrent policy forgets its LSTM state overnight). Rolling windows: the last
`lookback_days` sessions, cut into windows of `window_size` sessions stepping one day; each
window starts flat with fresh cash and has its own metrics. A window that cannot run
(no data, QC blocked, no model) fails with its reason; the run goes on.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ijules_core import calendar, metrics
from ijules_core.brokers.sim import SimBroker
from ijules_core.env import EnvConfig, flat_observations, observation
from ijules_core.execution import ExecutionEngine
from ijules_core.features import MarketData
from ijules_core.policy import Policy
from ijules_core.portfolio import Portfolio
from ijules_core.risk import RiskGovernor


@dataclass(frozen=True)
class Gates:
    min_window_success: float = 0.70
    min_completeness: float = 0.70
    max_abs_return: float = 0.50
    min_successful_windows: int = 1


@dataclass(frozen=True)
class BacktestConfig:
    lookback_days: int = 5
    window_size: int = 3
    env: EnvConfig = field(default_factory=EnvConfig)  # costs, risk and execution settings of the run
    gates: Gates = field(default_factory=Gates)

    def __post_init__(self) -> None:
        if not 1 <= self.window_size <= self.lookback_days:
            raise ValueError("BacktestConfig: need 1 <= window_size <= lookback_days")


@dataclass
class Replay:
    """What one replay produced: the ledger and the curves the metrics come from."""

    day_end_equity: list[float] = field(default_factory=list)
    decisions: list[tuple[int, int, float]] = field(default_factory=list)  # ts, action, confidence
    realized: list[float] = field(default_factory=list)  # per closing fill
    exposed: list[bool] = field(default_factory=list)  # holding anything at each bar close
    engine: ExecutionEngine | None = None

    @property
    def fills(self):
        return self.engine.portfolio.fills

    @property
    def ts(self) -> list[int]:
        """Bar-close stamps of the equity curve: the book is marked at each close, before deciding."""
        return self.engine.portfolio.curve_ts

    @property
    def equity(self) -> list[float]:
        return self.engine.portfolio.curve

    def metrics(self, start_equity: float) -> dict:
        pf = self.engine.portfolio
        out = metrics.summary(self.day_end_equity, start_equity, self.equity, pf.fees, pf.traded_value,
                              self.realized)
        refusals = Counter(e.reason.split(":")[0] for e in self.engine.governor.events if e.kind == "refusal")
        exposure = float(np.mean(self.exposed)) if self.exposed else 0.0
        return {**out, "exposure": exposure, "fills": len(pf.fills), "refusals": dict(refusals)}


def replay(data: MarketData, policy: Policy, config: EnvConfig = EnvConfig(), seed: int = 0,
           progress: Callable[[int], None] | None = None) -> Replay:
    """Run `policy` over every bar of `data`: decide at each close, fill at the next open."""
    symbols = list(data.symbols)
    engine = ExecutionEngine(symbols, SimBroker(symbols, config.costs, config.initial_cash,
                                                reject_rate=config.reject_rate, seed=seed),
                             Portfolio(symbols, config.initial_cash), RiskGovernor(config.risk, symbols),
                             config.execution)
    out = Replay(engine=engine)
    pos_scale = 1.0 / config.execution.max_shares
    rows = list(flat_observations(data.features.reshape(data.n_bars, -1)))  # one fresh row per decision
    closes = [dict(zip(symbols, row)) for row in data.close.tolist()]
    opens = [dict(zip(symbols, row)) for row in data.open.tolist()]
    ts, mtc, gap = data.ts.tolist(), data.minutes_to_close.tolist(), data.gap_minutes.tolist()
    corr = data.rolling_correlation().tolist()
    portfolio, governor = engine.portfolio, engine.governor
    positions = portfolio.positions
    held = tuple(positions.values())  # Position objects, updated in place by fills
    realized = {s: 0.0 for s in symbols}  # realised P&L per symbol so far, to cut it per closing fill
    for start, end in data.session_bounds():
        policy.reset()
        governor.start_session(ts[start], portfolio.equity(closes[start]))
        for t in range(start, end):
            decided_at = ts[t] + 60_000_000_000
            equity = portfolio.mark(decided_at, closes[t])  # the book at the close of bar t, before deciding
            q0, q1 = held[0].qty, held[1].qty
            out.exposed.append(bool(q0 or q1))
            action, confidence = policy.act(observation(rows[t], (q0, q1), pos_scale))
            engine.decide(decided_at, action, closes[t], mtc[t], gap[t] - 1.0, 0.0, corr[t], equity)
            out.decisions.append((decided_at, action, confidence))
            fill_ts, fill_px = (ts[t + 1], opens[t + 1]) if t + 1 < end else (decided_at, closes[t])
            for fill in engine.on_bar(fill_ts, fill_px):  # the last bar's orders fill at its closing print
                gained = positions[fill.symbol].realized - realized[fill.symbol]
                realized[fill.symbol] = positions[fill.symbol].realized
                if gained:
                    out.realized.append(gained)
        out.day_end_equity.append(portfolio.equity(closes[end - 1]))
        if progress:
            progress(end - start)
    return out


@dataclass
class WindowResult:
    idx: int
    days: list[dt.date]
    ok: bool
    reason: str | None
    metrics: dict

    def to_dict(self) -> dict:
        return {**asdict(self), "days": [str(d) for d in self.days]}


@dataclass
class BacktestResult:
    as_of: dt.date
    policy: str
    windows: list[WindowResult]
    gates: Gates
    curve: Replay | None = None  # the last successful window's replay, for charts

    @property
    def gate_results(self) -> dict[str, bool]:
        ok = [w for w in self.windows if w.ok]
        share = len(ok) / len(self.windows) if self.windows else 0.0
        complete = min((w.metrics.get("completeness", 0.0) for w in ok), default=0.0)
        return {
            "windows_succeeded": share >= self.gates.min_window_success,
            "data_completeness": complete >= self.gates.min_completeness,
            "return_sane": all(abs(w.metrics["total_return"]) < self.gates.max_abs_return for w in ok),
            "enough_windows": len(ok) >= self.gates.min_successful_windows,
        }

    @property
    def passed(self) -> bool:
        return all(self.gate_results.values())

    def to_markdown(self, chart: str) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        lines = [f"### Backtest {self.as_of} — {self.policy}: {verdict}", "", chart, "",
                 "| window | days | ok | return | Sharpe | max DD | trades | fees | reason |",
                 "|---:|---|---|---:|---:|---:|---:|---:|---|"]
        for w in self.windows:
            m = w.metrics
            row = (f"{m['total_return']:.3%} | {m['sharpe']:.2f} | {m['max_drawdown']:.3%} | {m['trades']} | "
                   f"${m['fees']:.2f}") if w.ok or m else "- | - | - | - | -"
            lines.append(f"| {w.idx} | {w.days[0]}..{w.days[-1]} | {'yes' if w.ok else 'no'} | {row} | {w.reason or ''} |")
        lines += ["", "**Gates**", ""] + [f"- {k}: {'pass' if v else 'FAIL'}" for k, v in self.gate_results.items()]
        refusals = Counter()
        for w in self.windows:
            refusals.update(w.metrics.get("refusals", {}))
        if refusals:
            lines += ["", "**Risk refusals**", ""] + [f"- {k}: {n}" for k, n in refusals.most_common()]
        return "\n".join(lines) + "\n"

    def summary(self) -> dict:
        ok = [w.metrics for w in self.windows if w.ok]
        keys = ("total_return", "sharpe", "sortino", "max_drawdown", "calmar", "turnover", "fees", "fee_ratio",
                "win_rate", "profit_factor", "exposure", "trades")
        mean = {k: float(np.mean([m[k] for m in ok])) for k in keys} if ok else {}
        return {"windows": len(self.windows), "windows_ok": len(ok), "gates": self.gate_results,
                "passed": self.passed, "mean": mean}


def rolling_windows(as_of: dt.date, lookback_days: int, window_size: int) -> list[list[dt.date]]:
    days = calendar.previous_sessions(as_of, lookback_days)
    return [days[i:i + window_size] for i in range(len(days) - window_size + 1)]


def run_backtest(
    as_of: dt.date,
    load_window: Callable[[list[dt.date]], tuple[MarketData, float]],
    make_policy: Callable[[], Policy],
    config: BacktestConfig = BacktestConfig(),
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Rolling-window backtest as of a day. `load_window(days)` returns the window's data and its
    completeness (bars / expected), or raises with the reason the window cannot run."""
    windows, last, name = [], None, "unknown"
    for idx, days in enumerate(rolling_windows(as_of, config.lookback_days, config.window_size)):
        try:
            policy = make_policy()
            name = policy.name
            data, completeness = load_window(days)
            result = replay(data, policy, config.env, seed=idx, progress=progress)
        except (ValueError, LookupError, OSError, RuntimeError) as exc:
            windows.append(WindowResult(idx, days, False, f"{type(exc).__name__}: {exc}", {}))
            continue
        m = {**result.metrics(config.env.initial_cash), "completeness": completeness}
        reasons = []
        if completeness < config.gates.min_completeness:
            reasons.append(f"data completeness {completeness:.0%} < {config.gates.min_completeness:.0%}")
        if abs(m["total_return"]) >= config.gates.max_abs_return:
            reasons.append(f"|return| {m['total_return']:.0%} is not plausible")
        windows.append(WindowResult(idx, days, not reasons, "; ".join(reasons) or None, m))
        last = result
    return BacktestResult(as_of, name, windows, config.gates, last)


def completeness_of(data: MarketData, days: Sequence[dt.date]) -> float:
    expected = sum(calendar.expected_bars(d) for d in days)
    return data.n_bars / expected if expected else 0.0


def window_from_store(conn, symbols: Sequence[str]) -> Callable[[list[dt.date]], tuple[MarketData, float]]:
    """A `load_window` that reads the bar table, refusing windows with a day QC blocked (never passed)."""
    from ijules_core.store.bars import read_bars
    from ijules_core.store.reports import blocked_days

    def load(days: list[dt.date]) -> tuple[MarketData, float]:
        blocked = blocked_days(conn, days[0], days[-1])
        if blocked:
            raise LookupError(f"QC blocked {', '.join(map(str, blocked))}")
        bars = read_bars(conn, symbols, days[0], days[-1])
        if bars.empty:
            raise LookupError(f"no bars for {days[0]}..{days[-1]}: ingest them first")
        data = MarketData.from_bars(bars, symbols)
        return data, completeness_of(data, days)

    return load


def write_report(result: BacktestResult, folder: Path) -> dict[str, Path]:
    """`report.md`, `equity.png` and `results.json` in `folder`; returns their paths."""
    from ijules_core.charts import equity_drawdown_chart, markdown_image

    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / name for name in ("report.md", "equity.png", "results.json")}
    png = equity_drawdown_chart(result.curve.ts, result.curve.equity, f"{result.policy}, last window") if result.curve else b""
    if png:
        paths["equity.png"].write_bytes(png)
    doc = {"as_of": str(result.as_of), "policy": result.policy, **result.summary(),
           "windows": [w.to_dict() for w in result.windows]}
    paths["results.json"].write_text(json.dumps(doc, indent=2, default=str))
    paths["report.md"].write_text(result.to_markdown(markdown_image(png, "equity") if png else "(no successful window)"))
    return paths


def run_and_record(conn, as_of: dt.date, symbols: Sequence[str], model: str, tracker, config: BacktestConfig,
                   reports_dir: Path, run_id: str, cache_dir: Path | None = None,
                   progress: Callable[[int], None] | None = None) -> tuple[BacktestResult, Path]:
    """The nightly backtest end to end — data from the table, report on disk, rows in `backtest.*`.

    The Dagster asset and `ijules backtest` both run exactly this.
    """
    from ijules_core.policy import policy_from_spec
    from ijules_core.store.reports import save_backtest

    result = run_backtest(as_of, window_from_store(conn, symbols),
                          lambda: policy_from_spec(model, tracker, cache_dir=cache_dir), config, progress)
    folder = reports_dir / "backtest" / str(as_of)
    write_report(result, folder)
    save_backtest(conn, run_id, result, str(folder))
    return result, folder

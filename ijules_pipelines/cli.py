"""`ijules`: the command line — database, UIs and the end-to-end demo."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys

from ijules_core.config import REPO_ROOT, Settings
from ijules_core.store import StoreError, database_url, mlflow_url, schema
from ijules_core.store.embedded import EmbeddedPostgres, EmbeddedPostgresError

log = logging.getLogger("ijules")


def _embedded(settings: Settings) -> EmbeddedPostgres:
    if settings.database_url:
        raise StoreError("IJULES_DATABASE_URL is set: the embedded server is not in use (unset it to manage it)")
    return EmbeddedPostgres(settings.home / "pgdata", settings.pg_port)


def cmd_db(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    if args.action == "start":
        print(_embedded(settings).start())
    elif args.action == "stop":
        print("stopped" if _embedded(settings).stop() else "not running")
    elif args.action == "status":
        server = None if settings.database_url else _embedded(settings)
        running = server.is_running() if server else None
        url = database_url(settings, start=False)
        at = schema.current(url) if running is not False else None
        where = "external (IJULES_DATABASE_URL)" if server is None else f"embedded, {'running' if running else 'stopped'}"
        print(f"database: {where}\nschema: {at or '-'} (code head {schema.head()})")
    elif args.action == "url":
        print(database_url(settings, start=False))
    elif args.action == "upgrade":
        mode = schema.upgrade(database_url(settings))
        print(f"schema at {schema.head()} ({mode} mode)")


def _run_servers(commands: list[list[str]]) -> None:
    """Run servers until one exits or we get SIGINT/SIGTERM, then stop each one's whole process group.

    Handlers are installed before spawning: a SIGINT ignored by a non-interactive parent shell
    would otherwise be inherited, and `dagster dev` maps SIGTERM onto SIGINT's disposition.
    """
    procs: list[subprocess.Popen] = []

    def stop(*_):
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs += [subprocess.Popen(cmd, cwd=REPO_ROOT, start_new_session=True) for cmd in commands]
    try:
        for p in procs:
            p.wait()
    finally:
        stop()
        for p in procs:
            p.wait()


def cmd_ui(args: argparse.Namespace) -> None:
    from ijules_pipelines.instance import prepare_environment

    url = prepare_environment()
    settings = Settings.from_env()
    dagster = [sys.executable, "-m", "dagster", "dev", "-w", str(REPO_ROOT / "workspace.yaml"),
               "-h", args.host, "-p", str(args.port)]
    mlflow = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", mlflow_url(url),
              "--default-artifact-root", str(settings.home / "mlartifacts"),
              "--host", args.host, "--port", str(args.mlflow_port)]
    print(f"Dagster UI on http://{args.host}:{args.port}  ·  MLflow UI on http://{args.host}:{args.mlflow_port}")
    _run_servers([dagster, mlflow])


def cmd_backtest(args: argparse.Namespace) -> None:
    import uuid

    from tqdm import tqdm

    from ijules_core import calendar
    from ijules_core.backtest import BacktestConfig, run_and_record
    from ijules_core.store import connect, mlflow_url
    from ijules_core.tracking import Tracker

    settings = Settings.from_env()
    url = database_url(settings)
    schema.upgrade(url)
    days = calendar.sessions(args.date_from, args.date_to)
    if not days:
        raise ValueError(f"no NYSE sessions between {args.date_from} and {args.date_to}")
    config = BacktestConfig(lookback_days=len(days), window_size=min(args.window_size, len(days)))
    tracker = Tracker(mlflow_url(url), "ijules", str(settings.home / "mlartifacts")) if args.model == "champion" else None
    windows = len(days) - config.window_size + 1
    total = windows * sum(calendar.expected_bars(d) for d in days[: config.window_size])
    with connect(url) as conn, tqdm(total=total, unit="bar", desc=f"backtest {args.model}") as bar:
        result, folder = run_and_record(conn, days[-1], args.symbols, args.model, tracker, config,
                                        settings.reports_dir, f"cli-{uuid.uuid4().hex[:12]}",
                                        cache_dir=settings.home / "models", progress=bar.update)
    for w in result.windows:
        m = w.metrics
        status = f"return {m['total_return']:+.3%} Sharpe {m['sharpe']:.2f}" if m else ""
        print(f"window {w.idx} {w.days[0]}..{w.days[-1]}: {'ok' if w.ok else 'FAILED'} {status} {w.reason or ''}")
    print(f"{result.policy}: {'PASS' if result.passed else 'FAIL'} — report in {folder}")


def cmd_demo(args: argparse.Namespace) -> None:
    from ijules_pipelines.demo import run_demo

    run_demo(sessions=args.sessions, end=args.end)


# -- paper trading: the service, and the commands that reach it through the database -------------------
def cmd_paper(args: argparse.Namespace) -> None:
    import datetime as dt

    from ijules_core.paper.service import Service, ServiceOptions
    from ijules_core.paper.trader import PaperConfig
    from ijules_pipelines.instance import prepare_environment

    url = prepare_environment()
    env = os.environ
    options = ServiceOptions(
        paper=PaperConfig(account=args.account, symbols=tuple(args.symbols)), broker=args.broker,
        replay=dt.date.fromisoformat(args.replay) if args.replay else None, speed=args.speed,
        source=args.source or ("ib" if args.broker == "ib" else "polygon"), model=args.model,
        metrics_port=args.metrics_port or None, cash=args.cash, reject_rate=args.reject_rate,
        disconnect_rate=args.disconnect_rate, seed=args.seed, ib_host=env.get("IJULES_IB_HOST", "127.0.0.1"),
        ib_port=int(env.get("IJULES_IB_PORT", "7497")), ib_client_id=int(env.get("IJULES_IB_CLIENT_ID", "17")),
        ib_account=env.get("IJULES_IB_ACCOUNT", ""))
    reporter = None
    if not args.no_dagster:
        import dagster as dg

        from ijules_pipelines.defs.trading.assets import dagster_reporter

        reporter = dagster_reporter(dg.DagsterInstance.get())
    where = f"metrics on http://127.0.0.1:{args.metrics_port}/metrics" if args.metrics_port else "no metrics endpoint"
    print(f"paper trading account {args.account} ({args.broker} broker, model {args.model}); {where}", flush=True)
    cache = str(Settings.from_env().home / "models")
    for r in Service(options, url, reporter, cache_dir=cache).run():
        print(f"{r['day']} {r['account']}: equity {r['equity']:,.2f}, P&L {r['pnl']:+,.2f}, {r['fills']} fills, "
              f"{r['orders']} orders ({r['rejected']} rejected), flat {r['flat']}, governor {r['governor']}")


def _paper_account(conn, account: str | None) -> str:
    """The account given, else the one service beating now."""
    from ijules_core.paper.store import live_accounts

    if account:
        return account
    live = live_accounts(conn)
    if len(live) != 1:
        raise ValueError(f"{len(live)} paper-trading services are running ({', '.join(live) or 'none'}): "
                         "name one with --account")
    return live[0]


def cmd_paper_control(args: argparse.Namespace) -> None:
    import time

    from ijules_core.paper.store import control_result, request_control
    from ijules_core.store import connect

    url = database_url()
    schema.upgrade(url)
    with connect(url) as conn:
        account = _paper_account(conn, args.account)
        control_id = request_control(conn, account, args.command)
        deadline = time.monotonic() + args.wait
        while (result := control_result(conn, control_id)) is None and time.monotonic() < deadline:
            time.sleep(0.2)
    print(f"{account}: {result}" if result else
          f"{account}: {args.command} queued (#{control_id}); the service applies it at its next check, "
          "or when its next session starts")


def cmd_paper_status(args: argparse.Namespace) -> None:
    from ijules_core.paper.store import service_status
    from ijules_core.store import connect

    url = database_url()
    schema.upgrade(url)
    with connect(url) as conn:
        account = _paper_account(conn, args.account)
        st = service_status(conn, account)
    if st is None:
        raise ValueError(f"no paper-trading service has run for account {account!r}")
    print(f"account {account}: {st['status']}, heartbeat {st['heartbeat_age_s']:.1f} s ago (pid {st['pid']}), "
          f"broker {'connected' if st['broker_connected'] else 'DISCONNECTED'}, governor {st['governor_state']}")
    print(f"session {st['session_id']}, last bar {st['last_bar']}")
    if "equity" in st:
        print(f"equity {st['equity']:,.2f}  cash {st['cash']:,.2f}  day P&L {st['daily_pnl']:+,.2f}  "
              f"drawdown {st['drawdown']:,.2f}")
        print("positions " + ", ".join(f"{s} {q}" for s, q in st["positions"].items()))
    print(f"decisions {st['decisions']}, orders {st['orders']}, fills {st['fills']}")


def _add_paper_commands(sub) -> None:
    paper = sub.add_parser("paper", help="the paper-trading service: replay a day of the bar table, or trade live")
    paper.add_argument("--broker", choices=["sim", "ib"], default="sim",
                       help="sim: the simulated venue; ib: IB Gateway/TWS (IJULES_IB_HOST/PORT/CLIENT_ID/ACCOUNT)")
    paper.add_argument("--replay", metavar="DATE", help="replay this day of the bar table instead of trading live")
    paper.add_argument("--speed", type=float, default=60.0, help="replay clock, × real time (0: as fast as possible)")
    paper.add_argument("--source", choices=["ib", "polygon"], help="live bars (default: ib with --broker ib, "
                       "else polygon with POLYGON_API_KEY)")
    paper.add_argument("--model", default="champion", help="champion, a baseline (flat, buy_and_hold, random, "
                       "moving_average) or a model .zip")
    paper.add_argument("--metrics-port", type=int, default=9108, help="Prometheus /metrics on 127.0.0.1 (0: none)")
    paper.add_argument("--account", default="paper", help="names the session and prefixes client order ids")
    paper.add_argument("--symbols", nargs=2, default=["NVDA", "MSFT"])
    paper.add_argument("--cash", type=float, default=10_000.0, help="first funding of a simulated account")
    paper.add_argument("--reject-rate", type=float, default=0.0, help="chaos (sim): share of orders rejected")
    paper.add_argument("--disconnect-rate", type=float, default=0.0,
                       help="chaos (sim): share of filling bars after which the broker link drops")
    paper.add_argument("--seed", type=int, default=0)
    paper.add_argument("--no-dagster", action="store_true", help="do not report the trading tables to Dagster")
    paper.set_defaults(fn=cmd_paper)
    for command, text in (("halt", "kill switch: flatten now and refuse every order until `ijules resume`"),
                          ("flatten", "flatten now and open nothing more this session"),
                          ("resume", "lift the kill switch (or a drawdown halt): a person decides")):
        control = sub.add_parser(command, help=f"paper trading: {text}")
        control.add_argument("--account", help="the service's account (default: the one running)")
        control.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the service to apply it")
        control.set_defaults(fn=cmd_paper_control, command=command)
    status = sub.add_parser("status", help="paper trading: heartbeat, governor, book of the running service")
    status.add_argument("--account", help="the service's account (default: the one running)")
    status.set_defaults(fn=cmd_paper_status)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "dagster", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ap = argparse.ArgumentParser(prog="ijules", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="manage the database (embedded unless IJULES_DATABASE_URL is set)")
    db.add_argument("action", choices=["start", "stop", "status", "url", "upgrade"])
    db.set_defaults(fn=cmd_db)

    ui = sub.add_parser("ui", help="start the Dagster and MLflow UIs against the project database")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)
    ui.add_argument("--mlflow-port", type=int, default=5000)
    ui.set_defaults(fn=cmd_ui)

    bt = sub.add_parser("backtest", help="rolling-window backtest from the bar table, with a report")
    bt.add_argument("--model", default="champion", help="champion, a baseline (flat, buy_and_hold, random, "
                    "moving_average) or a model .zip")
    bt.add_argument("--from", dest="date_from", required=True)
    bt.add_argument("--to", dest="date_to", required=True)
    bt.add_argument("--window-size", type=int, default=3)
    bt.add_argument("--symbols", nargs=2, default=["NVDA", "MSFT"])
    bt.set_defaults(fn=cmd_backtest)

    demo = sub.add_parser("demo", help="run the main job end to end on embedded defaults")
    demo.add_argument("--sessions", type=int, default=20)
    demo.add_argument("--end", default=None, help="last session (default: the last completed one)")
    demo.set_defaults(fn=cmd_demo)

    _add_paper_commands(sub)

    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except (StoreError, EmbeddedPostgresError, ValueError) as exc:
        print(f"ijules: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

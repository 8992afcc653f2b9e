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

    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except (StoreError, EmbeddedPostgresError, ValueError) as exc:
        print(f"ijules: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""One paper-trading session from the Dagster UI, for those who prefer it to `ijules paper`.

The same service and loop; the run ends when the session closes (or, live, is cut at the
max-runtime tag: a trading day plus margin). The service's tables report to Dagster as usual.
"""

import datetime as dt

import dagster as dg

from ijules_core.config import Settings
from ijules_core.paper.service import Service, ServiceOptions
from ijules_core.paper.trader import PaperConfig
from ijules_pipelines.defs.trading.assets import dagster_reporter
from ijules_pipelines.resources import StoreResource

MAX_RUNTIME_S = 8 * 3600


class PaperSessionConfig(dg.Config):
    broker: str = "sim"  # sim | ib (IB connection from IJULES_IB_* like `ijules paper`)
    replay: str | None = None  # a day of the bar table (YYYY-MM-DD); unset: the next live session
    speed: float = 60.0
    model: str = "champion"
    account: str = "paper"
    metrics_port: int | None = None


@dg.op(description="Runs one paper-trading session through the shared execution path and returns its report.")
def paper_session(context: dg.OpExecutionContext, config: PaperSessionConfig, store: StoreResource) -> dict:
    store.ensure_schema()
    options = ServiceOptions(paper=PaperConfig(account=config.account), broker=config.broker,
                             replay=dt.date.fromisoformat(config.replay) if config.replay else None,
                             speed=config.speed, model=config.model, metrics_port=config.metrics_port, max_sessions=1)
    service = Service(options, store.url(), dagster_reporter(context.instance),
                      cache_dir=str(Settings.from_env().home / "models"))
    reports = service.run(handle_signals=False)  # Dagster's own termination interrupts the run
    for report in reports:
        context.log.info(f"session {report['day']} {report['account']}: equity {report['equity']:.2f}, "
                         f"P&L {report['pnl']:+.2f}, {report['fills']} fills, flat {report['flat']}")
    return reports[0] if reports else {}


@dg.job(tags={"dagster/max_runtime": str(MAX_RUNTIME_S)},
        description="One paper-trading session (replayed or live), ended by the close or the max-runtime tag.")
def paper_session_job():
    paper_session()

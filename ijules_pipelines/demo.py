"""The end-to-end demo: what `ijules demo` (and the README's first command) runs.

Everything goes through the same Dagster instance the UI reads (dagster.yaml, PostgreSQL
storage), so each step appears there as a run with its metadata.
"""

from __future__ import annotations

import logging

import dagster as dg
import pandas as pd

from ijules_core import calendar
from ijules_core.store import connect
from ijules_pipelines.instance import prepare_environment

log = logging.getLogger(__name__)
BAD_DAY_FAULTS = ["missing:60", "spike:2"]  # 15 % of the minutes gone: QC must BLOCK


def last_completed_session(now: pd.Timestamp | None = None) -> str:
    now = now or pd.Timestamp.now(tz=calendar.TZ)
    day = now.normalize().tz_localize(None)
    if calendar.is_session(day) and now >= calendar.session_close(day).tz_convert(calendar.TZ):
        return str(day.date())
    return str(calendar.previous_sessions(day - pd.Timedelta(days=1), 1)[0])


def _run(job: dg.JobDefinition, instance: dg.DagsterInstance, what: str, **kwargs) -> dg.ExecuteInProcessResult:
    result = job.execute_in_process(instance=instance, raise_on_error=False, **kwargs)
    log.info("%s: run %s %s", what, result.run_id, "succeeded" if result.success else "FAILED")
    return result


DEMO_TRAINING = {"algorithm": "RecurrentPPO", "timesteps": 8_192, "n_envs": 4, "n_steps": 128, "batch_size": 256,
                 "episode_length": 390, "device": "cpu"}  # a short run: under a minute on 2 cores


VALIDATION_SESSIONS, OOS_SESSIONS = 3, 4


def train(definitions: dg.Definitions, end: str, sessions: int) -> None:
    """Data set → short RecurrentPPO run → out-of-sample evaluation → champion only if the gates pass."""
    if sessions < VALIDATION_SESSIONS + OOS_SESSIONS + 1:
        log.info("training skipped: %d sessions cannot hold %d validation + %d out-of-sample + 1 training session "
                 "(run the demo with --sessions 8 or more)", sessions, VALIDATION_SESSIONS, OOS_SESSIONS)
        return
    config = {"ops": {"training_dataset": {"config": {"end": end, "sessions": sessions,
                                                       "validation_sessions": VALIDATION_SESSIONS,
                                                       "oos_sessions": OOS_SESSIONS}},
                      "trained_policy": {"config": DEMO_TRAINING}}}
    with dg.DagsterInstance.get() as instance:
        result = _run(definitions.resolve_job_def("training_job"), instance, "training (short RecurrentPPO run)",
                      run_config=config)
    for check in result.get_asset_check_evaluations():
        log.info("champion gates: %s — %s", "passed, the model is champion" if check.passed else "not passed",
                 check.description or "")
    if not any(e.asset_key.to_user_string() == "trained_policy" for e in result.get_asset_materialization_events()):
        raise SystemExit("demo: training failed; see the run in the Dagster UI")


def backtest(definitions: dg.Definitions, day: str) -> None:
    """The nightly backtest of the last session: the champion if one exists, else the documented fallback."""
    with dg.DagsterInstance.get() as instance:
        result = _run(definitions.resolve_job_def("nightly_backtest_job"), instance, f"nightly backtest {day}",
                      partition_key=day)
        if not result.success:
            raise SystemExit("demo: the backtest failed; see the run in the Dagster UI")
        meta = result.asset_materializations_for_node("nightly_backtest")[0].metadata
    log.info("backtest of %s: %s, %s/%s windows ok, passed=%s — report in %s", day, meta["policy"].value,
             meta["windows_ok"].value, meta["windows"].value, meta["passed"].value, meta["report_dir"].value)


def run_demo(sessions: int = 20, end: str | None = None) -> None:
    url = prepare_environment()
    from ijules_pipelines.definitions import defs

    definitions = defs()
    days = [str(d) for d in calendar.previous_sessions(end or last_completed_session(), sessions)]
    ingest = definitions.resolve_job_def("ingest_market_data")
    with dg.DagsterInstance.get() as instance:
        result = _run(ingest, instance, f"ingest {len(days)} sessions {days[0]}..{days[-1]} (one run)",
                      tags={"dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]})
        if not result.success:
            raise SystemExit("demo: ingestion failed; see the run in the Dagster UI (`ijules ui`)")

        bad_day = days[len(days) // 2]
        faults = {"resources": {"bar_source": {"config": {"faults": {f"NVDA@{bad_day}": BAD_DAY_FAULTS}}}}}
        result = _run(ingest, instance, f"re-ingest {bad_day} with injected faults {BAD_DAY_FAULTS}",
                      partition_key=bad_day, run_config=faults)
        verdict = [e.description for e in result.get_asset_check_evaluations()]
        if result.success:
            raise SystemExit(f"demo: the faulty day {bad_day} was not blocked by QC: {verdict}")
        log.info("QC gate: %s — market_bars kept its previous rows for %s", verdict[0], bad_day)

    with connect(url) as conn:
        per_day = conn.execute(
            "SELECT count(DISTINCT (ts AT TIME ZONE 'America/New_York')::date), count(*) FROM market_data.bars "
            "WHERE ts >= %s AND ts < %s", (calendar.session_open(days[0]), calendar.session_close(days[-1])),
        ).fetchone()
    log.info("market_data.bars holds %d sessions, %d bars for %s..%s", per_day[0], per_day[1], days[0], days[-1])
    train(definitions, days[-1], len(days))
    backtest(definitions, days[-1])
    log.info("open the Dagster UI with `.venv/bin/ijules ui` (http://127.0.0.1:3000) to see the runs and QC reports")

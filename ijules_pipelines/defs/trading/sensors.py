"""Alert when the paper-trading service goes silent, or loses its broker, during market hours."""

import json
import os

import dagster as dg
import pandas as pd

from ijules_core import calendar
from ijules_pipelines.resources import AlertResource, StoreResource

MAX_SILENCE_S = float(os.environ.get("IJULES_HEARTBEAT_MAX_AGE_S", "180"))


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def silent_services(conn, now: pd.Timestamp, max_age_s: float = MAX_SILENCE_S) -> list[tuple[str, str, str]]:
    """(account, last beat, what is wrong) of each service silent for `max_age_s` without having stopped;
    empty outside market hours (the service idles between sessions, beating less)."""
    day = now.tz_convert(calendar.TZ).date()
    if not calendar.is_session(day) or not calendar.session_open(day) <= now < calendar.session_close(day):
        return []
    out = []
    for account, status, at in conn.execute("SELECT account, status, at FROM trading.heartbeats ORDER BY account"):
        age = (now - pd.Timestamp(at)).total_seconds()
        if status != "stopped" and age > max_age_s:
            out.append((account, str(at), f"silent for {age:.0f} s (last status {status})"))
    return out


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="During market hours, alerts once per outage when a paper-trading service has not beaten "
                       "for IJULES_HEARTBEAT_MAX_AGE_S (180 s) without having stopped.")
def paper_heartbeat_sensor(context: dg.SensorEvaluationContext, store: StoreResource, alerts: AlertResource):
    with store.connect() as conn:
        if conn.execute("SELECT to_regclass('trading.heartbeats')").fetchone()[0] is None:
            return dg.SkipReason("no trading tables yet: run `ijules db upgrade`")
        silent = silent_services(conn, now())
    alerted: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    fresh = [s for s in silent if alerted.get(s[0]) != s[1]]
    for account, last, what in fresh:
        alerts.send(f"IntradayJules paper trading silent: {account}",
                    f"{what}; last heartbeat {last}. Check the `ijules paper` process and `ijules status --account "
                    f"{account}`.")
    cursor = json.dumps({a: last for a, last, _ in silent})  # a service that beats again is forgotten
    if not fresh:
        return dg.SensorResult(skip_reason="every service beating" if not silent else "already alerted", cursor=cursor)
    return dg.SensorResult(cursor=cursor)

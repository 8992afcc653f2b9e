"""Bars and run configs shared by the training tests: small, seeded, fast on 2 cores."""

import numpy as np
import pandas as pd

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.store import connect, mlflow_url
from ijules_core.store.bars import write_bars
from ijules_pipelines.resources import BarSourceResource, MLflowResource, StoreResource

SYMBOLS = ["NVDA", "MSFT"]
END = "2025-11-26"
DAYS = calendar.previous_sessions(END, 10)  # 5 train, 2 validation, 3 out-of-sample sessions
WINDOW = {"end": END, "sessions": 10, "validation_sessions": 2, "oos_sessions": 3}
FAST = {"algorithm": "PPO", "timesteps": 1024, "n_envs": 4, "n_steps": 64, "batch_size": 128,
        "episode_length": 390, "learning_rate": 1e-3, "device": "cpu", "log_every": 4}


def bars(days=DAYS, drift_per_day: float = 0.0, annual_vol: float = 0.35) -> pd.DataFrame:
    """Synthetic bars; `drift_per_day` tilts every session upwards (log return from open to close)."""
    src = SyntheticSource(annual_vol=annual_vol)
    df = pd.concat([src.fetch(SYMBOLS, d) for d in days], ignore_index=True)
    if drift_per_day:
        minute = df.groupby(["symbol", df["ts"].dt.tz_convert(calendar.TZ).dt.date]).cumcount().to_numpy()
        tilt = np.exp(drift_per_day * minute / 390)
        for col in ("open", "high", "low", "close", "vwap"):
            df[col] = np.round(df[col] * tilt, 2)
    return df


def seed_bars(db_url: str, df: pd.DataFrame) -> None:
    with connect(db_url) as conn:
        write_bars(conn, df, "synthetic")


def resources(db_url: str, artifacts, tracking_uri: str | None = None) -> dict:
    return {"store": StoreResource(database_url=db_url), "bar_source": BarSourceResource(),
            "mlflow": MLflowResource(tracking_uri=tracking_uri or mlflow_url(db_url), artifact_root=str(artifacts))}

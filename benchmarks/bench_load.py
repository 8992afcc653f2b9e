"""Bulk-load speed: 1,000,000 bars through the store (binary COPY) vs `DataFrame.to_sql`.

Both load the same frame into a fresh scratch database of the configured server, in the
same run. Prints rows/s of each and the ratio; the last line is the RESULT line.
    .venv/bin/python benchmarks/bench_load.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time
import uuid

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ijules_core.bars import conform
from ijules_core.store import connect, database_url
from ijules_core.store.bars import write_bars
from ijules_core.store.scratch import scratch_database


def make_bars(rows: int) -> pd.DataFrame:
    """`rows` bars: 2 symbols × consecutive minutes, realistic values."""
    per = rows // 2
    ts = pd.date_range("2020-01-02 14:30", periods=per, freq="min", tz="UTC")
    rng = np.random.default_rng(0)
    frames = []
    for sym in ("NVDA", "MSFT"):
        close = 100 + np.cumsum(rng.normal(0, 0.05, per)).round(2)
        frames.append(pd.DataFrame({
            "ts": ts, "symbol": sym, "open": close, "high": close + 0.05, "low": close - 0.05,
            "close": close, "volume": rng.integers(1, 10_000, per), "vwap": close, "trades": rng.integers(1, 100, per),
        }))
    return conform(pd.concat(frames, ignore_index=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    rows = ap.parse_args().rows
    df = make_bars(rows)
    with scratch_database(database_url(), f"bench_{uuid.uuid4().hex[:8]}") as url:
        with connect(url) as conn:
            t = time.perf_counter()
            n = write_bars(conn, df, "bench")
            store_s = time.perf_counter() - t
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        baseline = df.assign(source="bench")
        t = time.perf_counter()
        baseline.to_sql("bars_to_sql", engine, schema="market_data", if_exists="append", index=False,
                        chunksize=50_000)
        to_sql_s = time.perf_counter() - t
        engine.dispose()
    store_rps, base_rps = n / store_s, len(df) / to_sql_s
    print(f"store (binary COPY, replace slices): {n:,} rows in {store_s:.2f} s = {store_rps:,.0f} rows/s")
    print(f"DataFrame.to_sql (executemany, 50k chunks): {len(df):,} rows in {to_sql_s:.2f} s = {base_rps:,.0f} rows/s")
    print(f"RESULT rows_per_s={store_rps:.0f} baseline_rows_per_s={base_rps:.0f} ratio={store_rps / base_rps:.2f}")


if __name__ == "__main__":
    main()

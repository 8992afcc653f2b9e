"""QC speed: `check_bars` on 1,000,000 bars, beside pandera's lazy validation of the same frames.

The frame is seeded synthetic sessions (10 symbols × 257 whole trading days) with a few missing
minutes, a spike and a duplicate in every partition, so each rule has something to count;
the target is ≤ 2 s for the full report. The baseline is `BAR_SCHEMA.validate(lazy=True)`:
the same row rules, no completeness/spike/stale/alignment, and no per-partition counts.
It is quick while rows pass, so a second pair of timings breaks 10 % of the rows, where
pandera has to collect every failure case. The last line is the RESULT line.
    .venv/bin/python benchmarks/bench_qc.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ijules_core import calendar
from ijules_core.bars.synthetic import SyntheticSource
from ijules_core.qc import BAR_SCHEMA, check_bars

SYMBOLS = [f"S{i:02d}" for i in range(10)]


def make_bars(rows: int) -> pd.DataFrame:
    """Whole sessions, the most recent ones, until there are at least `rows` bars."""
    source = SyntheticSource(faults={"*": ["missing:3", "spike", "duplicate"]})
    per_day = len(SYMBOLS) * 385  # a little under a full day: faults drop minutes, early closes exist
    days = calendar.previous_sessions("2026-10-30", -(-rows // per_day))
    return pd.concat([source.fetch(SYMBOLS, d) for d in days], ignore_index=True)


def broken(bars: pd.DataFrame) -> pd.DataFrame:
    """10 % of rows with a negative close, half of those also off the minute grid."""
    out = bars.copy()
    hit = np.random.default_rng(0).choice(len(out), len(out) // 10, replace=False)
    out.loc[out.index[hit], "close"] = -1.0
    out.loc[out.index[hit[::2]], "ts"] += pd.Timedelta(seconds=7)
    return out


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def pandera_lazy(bars: pd.DataFrame) -> int:
    try:
        BAR_SCHEMA.validate(bars, lazy=True)
    except pa.errors.SchemaErrors as exc:
        return len(exc.failure_cases)
    return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    bars, make_s = timed(lambda: make_bars(ap.parse_args().rows))
    print(f"built {len(bars):,} bars in {make_s:.1f} s")
    check_bars(bars.head(10_000))  # warm the calendar and imports, as a long-lived process would be
    report, qc_s = timed(lambda: check_bars(bars))
    print(f"check_bars: {qc_s:.2f} s, outcome {report.outcome}, {len(report.partitions):,} partitions, "
          f"rule counts {report.rule_counts()}")
    cases, pandera_s = timed(lambda: pandera_lazy(bars))
    print(f"pandera validate(lazy=True), same frame: {pandera_s:.2f} s, {cases:,} failure cases")
    bad = broken(bars)
    bad_report, bad_qc_s = timed(lambda: check_bars(bad))
    bad_cases, bad_pandera_s = timed(lambda: pandera_lazy(bad))
    print(f"10 % of rows broken: check_bars {bad_qc_s:.2f} s ({bad_report.outcome}), pandera "
          f"{bad_pandera_s:.2f} s for {bad_cases:,} failure cases, ratio {bad_pandera_s / bad_qc_s:.1f}x")
    print(f"RESULT seconds={qc_s:.3f} rows={len(bars)}")


if __name__ == "__main__":
    main()

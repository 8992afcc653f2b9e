"""Bulk load and query of `market_data.bars` and its staging table.

A load replaces whole (symbol, New York day) slices in one transaction: delete the slice,
then binary COPY the new rows. Ingestion loads `bars_staging`; once QC passes,
`promote` moves the slices into `bars`, again in one transaction. Re-running a load gives identical rows; a failure leaves
the table as it was. The COPY payload is built with numpy (fixed-width records grouped by
symbol and NULL pattern), so a million bars load in about a second.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from ijules_core.bars import BAR_COLUMNS, conform
from ijules_core.calendar import TZ

BARS = "bars"
STAGING = "bars_staging"  # same columns; vendor data waits here until QC lets it through
COPY_COLUMNS = ["symbol", "ts", "open", "high", "low", "close", "volume", "vwap", "trades", "source"]
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
_TRAILER = struct.pack("!h", -1)
_PG_EPOCH_US = np.datetime64("2000-01-01T00:00:00", "us").astype(np.int64)


def copy_payload(df: pd.DataFrame, source: str) -> bytes:
    """PostgreSQL binary COPY bytes for a conformed bar frame.

    Rows are grouped by (symbol, vwap present, trades present): inside a group every record
    has the same layout, so one numpy structured array holds the whole group.
    """
    codes, symbols = pd.factorize(df["symbol"])
    ts_us = df["ts"].to_numpy("datetime64[us]").astype(np.int64) - _PG_EPOCH_US
    vwap = df["vwap"].to_numpy(np.float64)
    has_vwap = ~np.isnan(vwap)
    has_trades = df["trades"].notna().to_numpy()
    trades = df["trades"].to_numpy(np.int64, na_value=0)
    prices = {c: df[c].to_numpy(np.float64) for c in ("open", "high", "low", "close")}
    volume = df["volume"].to_numpy(np.int64)
    group = codes * 4 + has_vwap * 2 + has_trades
    src = source.encode()
    chunks = [_HEADER]
    for key in np.unique(group):
        m = group == key
        sym_b = str(symbols[key // 4]).encode()
        columns: list[tuple[str, str, object]] = [  # (name, dtype, values); dtype None = NULL
            ("symbol", f"S{len(sym_b)}", sym_b),
            ("ts", ">i8", ts_us[m]),
            *((c, ">f8", prices[c][m]) for c in prices),
            ("volume", ">i8", volume[m]),
            ("vwap", ">f8" if key & 2 else None, vwap[m]),
            ("trades", ">i8" if key & 1 else None, trades[m]),
            ("source", f"S{len(src)}", src),
        ]
        fields = [("nfields", ">i2")]
        for name, dtype, _ in columns:
            fields.append((f"{name}_len", ">i4"))
            if dtype:
                fields.append((name, dtype))
        rec = np.empty(int(m.sum()), dtype=np.dtype(fields))
        rec["nfields"] = len(columns)
        for name, dtype, values in columns:
            rec[f"{name}_len"] = np.dtype(dtype).itemsize if dtype else -1
            if dtype:
                rec[name] = values
        chunks.append(rec.tobytes())
    chunks.append(_TRAILER)
    return b"".join(chunks)


def _day_bounds(day: dt.date) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC bounds of a New York calendar day (23 or 25 hours long on DST changes)."""
    start = pd.Timestamp(day)
    return (start.tz_localize(TZ).tz_convert("UTC"),
            (start + pd.Timedelta(days=1)).tz_localize(TZ).tz_convert("UTC"))


def write_bars(
    conn: psycopg.Connection,
    bars: pd.DataFrame,
    source: str,
    *,
    slices: Iterable[tuple[str, dt.date]] | None = None,
    table: str = BARS,
) -> int:
    """Replace the (symbol, day) slices with `bars` in one transaction; returns rows written.

    `slices` defaults to the slices present in `bars`; pass them explicitly to also clear a
    slice that the new data no longer has.
    """
    df = conform(bars)
    if slices is None:
        present = pd.DataFrame({"symbol": df["symbol"], "day": df["ts"].dt.tz_convert(TZ).dt.normalize()})
        present = present.drop_duplicates()
        slices = zip(present["symbol"], present["day"].dt.date)
    target = sql.Identifier("market_data", table)
    with conn.transaction():
        with conn.cursor() as cur:
            _delete_slices(cur, target, slices)
            if len(df):
                cols = sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
                with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(target, cols)) as copy:
                    copy.write(copy_payload(df, source))
    return len(df)


_SLICES = "unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS s(symbol, lo, hi)"


def _slice_params(slices: Iterable[tuple[str, dt.date]]) -> tuple[list, list, list]:
    keys = sorted(set(slices))
    bounds = [_day_bounds(day) for _, day in keys]
    return [k[0] for k in keys], [b[0] for b in bounds], [b[1] for b in bounds]


def _delete_slices(cur: psycopg.Cursor, target: sql.Composable, slices: Iterable[tuple[str, dt.date]]) -> None:
    cur.execute(
        sql.SQL("DELETE FROM {} b USING " + _SLICES + " WHERE b.symbol = s.symbol AND b.ts >= s.lo AND b.ts < s.hi")
        .format(target),
        _slice_params(slices),
    )


def promote(conn: psycopg.Connection, slices: Iterable[tuple[str, dt.date]]) -> int:
    """Replace the slices in `bars` with their staged rows, in one transaction; returns rows promoted."""
    slices = list(slices)
    bars, staging = sql.Identifier("market_data", BARS), sql.Identifier("market_data", STAGING)
    cols = sql.SQL(", ").join(map(sql.Identifier, COPY_COLUMNS))
    with conn.transaction():
        with conn.cursor() as cur:
            _delete_slices(cur, bars, slices)
            cur.execute(
                sql.SQL(
                    "INSERT INTO {bars} ({cols}) SELECT {sel} FROM {staging} b, " + _SLICES
                    + " WHERE b.symbol = s.symbol AND b.ts >= s.lo AND b.ts < s.hi"
                ).format(bars=bars, cols=cols, staging=staging,
                         sel=sql.SQL(", ").join(sql.Identifier("b", c) for c in COPY_COLUMNS)),
                _slice_params(slices),
            )
            return cur.rowcount


def read_bars(
    conn: psycopg.Connection, symbols: Sequence[str], start: dt.date, end: dt.date, table: str = BARS
) -> pd.DataFrame:
    """Bars of `symbols` for New York days start..end inclusive, in the bar schema."""
    lo, _ = _day_bounds(start)
    _, hi = _day_bounds(end)
    cols = sql.SQL(", ").join(map(sql.Identifier, BAR_COLUMNS))
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT {} FROM {} WHERE symbol = ANY(%s) AND ts >= %s AND ts < %s ORDER BY symbol, ts").format(
                cols, sql.Identifier("market_data", table)
            ),
            (list(symbols), lo, hi),
        )
        rows = cur.fetchall()
    return conform(pd.DataFrame(rows, columns=BAR_COLUMNS))


def slice_counts(conn: psycopg.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Rows per (symbol, New York day) — what ingestion wrote, for reports and EOD checks."""
    lo, _ = _day_bounds(start)
    _, hi = _day_bounds(end)
    with conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "SELECT symbol, (ts AT TIME ZONE %s)::date AS day, count(*) AS bars, min(ts), max(ts) "
                "FROM {} WHERE ts >= %s AND ts < %s GROUP BY 1, 2 ORDER BY 2, 1"
            ).format(sql.Identifier("market_data", BARS)),
            (TZ, lo, hi),
        )
        return pd.DataFrame(cur.fetchall(), columns=["symbol", "day", "bars", "first_ts", "last_ts"])

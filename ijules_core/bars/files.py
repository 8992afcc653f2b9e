"""Bars from a drop folder of CSV or Parquet files, read through a `FileLayout`.

Vendors' exports differ only in column names, separator, header, time zone and whether
a stamp marks the start or the end of the minute; a `FileLayout` says which, so a new
vendor is configuration, not code. The symbol comes from a `symbol` column or, failing
that, from the file name (`symbol_pattern`). `partitions` tells the Dagster sensor which
(symbol, session day) partitions a dropped file feeds.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ijules_core import calendar
from ijules_core.bars import conform, empty_bars
from ijules_core.bars.errors import MalformedData
from ijules_core.bars.session import Label, RAW_COLUMNS, regular_session, session_frame, to_bars

SUFFIXES = (".csv", ".txt", ".parquet")


@dataclass(frozen=True)
class FileLayout:
    """How one family of files is written; the default is our own bar schema."""

    columns: Mapping[str, str] = field(default_factory=dict)  # file column -> bar column
    names: Sequence[str] | None = None  # column names when the file has no header row
    sep: str = ","
    tz: str = "UTC"  # zone of naive stamps
    label: Label = "start"
    ts_format: str | None = None
    symbol_pattern: str = r"^(?P<symbol>[A-Za-z.]+)_"  # symbol from the file name

    def symbol_from_name(self, path: Path) -> str | None:
        match = re.match(self.symbol_pattern, path.name)
        return match["symbol"].upper() if match else None


# Alpha Vantage CSV exports (and the many tools that copy them): naive New York stamps at the END
# of the minute, newest first, the stamp column called `time`, `timestamp` or `datetime`.
ALPHA_VANTAGE_CSV = FileLayout(
    columns={"time": "ts", "timestamp": "ts", "datetime": "ts"}, tz=calendar.TZ, label="end"
)
# NinjaTrader minute export: no header, `;`-separated, `YYYYMMDD HHMMSS` in UTC at the END of the minute.
NINJATRADER = FileLayout(
    names=RAW_COLUMNS, sep=";", tz="UTC", label="end", ts_format="%Y%m%d %H%M%S"
)


def read_file(path: str | Path, layout: FileLayout = FileLayout()) -> pd.DataFrame:
    """Every bar in the file, normalised to the schema (all hours, all days)."""
    path = Path(path)
    where = {"source": "files", "path": path.name}
    try:
        if path.suffix == ".parquet":
            raw = pd.read_parquet(path)
        else:
            header = None if layout.names is not None else "infer"
            raw = pd.read_csv(path, sep=layout.sep, header=header, names=layout.names, dtype={"ts": str})
    except (OSError, ValueError) as exc:  # pandas' parser and empty-data errors are ValueErrors
        raise MalformedData(f"unreadable file: {exc}", **where) from None
    raw = raw.rename(columns=dict(layout.columns))
    symbol = None if "symbol" in raw.columns else layout.symbol_from_name(path)
    if "symbol" not in raw.columns and symbol is None:
        raise MalformedData(f"no symbol column and none in the name (pattern {layout.symbol_pattern!r})", **where)
    return to_bars(raw, symbol=symbol, tz=layout.tz, label=layout.label, ts_format=layout.ts_format, where=where)


def partitions(
    path: str | Path, layout: FileLayout = FileLayout(), *, extended_hours: bool = False
) -> list[tuple[str, dt.date]]:
    """The (symbol, session day) partitions the file has bars for, sorted."""
    bars = regular_session(read_file(path, layout), extended_hours=extended_hours)
    keys = pd.DataFrame({"symbol": bars["symbol"], "day": session_frame(bars["ts"])["day"].dt.date})
    return sorted(keys.drop_duplicates().itertuples(index=False, name=None))


@dataclass(frozen=True)
class FilesSource:
    """Bars of one session from every matching file in `folder`."""

    folder: Path
    layout: FileLayout = FileLayout()
    glob: str = "*"
    extended_hours: bool = False
    name: str = "files"

    def files(self) -> list[Path]:
        return sorted(p for p in Path(self.folder).glob(self.glob) if p.suffix in SUFFIXES)

    def fetch(self, symbols: Sequence[str], day: dt.date) -> pd.DataFrame:
        calendar.require_session(day)
        frames = []
        for path in self.files():
            bars = read_file(path, self.layout)
            frames.append(regular_session(bars[bars["symbol"].isin(symbols)], day, extended_hours=self.extended_hours))
        return conform(pd.concat(frames, ignore_index=True)) if frames else empty_bars()

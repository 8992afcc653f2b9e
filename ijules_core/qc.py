"""Quality control of a bar batch: the pandera schema of record and the QC report.

`BAR_SCHEMA` is the contract every bar frame meets; its row rules are plain vectorised
functions (`ROW_RULES`). `check_bars` validates the structure through pandera, then calls
the same rule functions itself to COUNT failures per (symbol, day): pandera's lazy
validation collects failure cases row by row and is far too slow on a million bars.

Which rules block. A batch is BLOCKed — the Dagster check refuses the load and the table
stays as it was — when loading it would corrupt the table or the features: wrong columns
or dtypes, nulls, prices ≤ 0, negative volume, high/low not bounding open/close, a
repeated (symbol, ts), time running backwards, stamps off the minute grid or outside the
session, a symbol with no bars, or more minutes missing than the environment allows
(ci 5 %, staging 2 %, production 1 %). It gets a WARN when the market can really do it and
a person should look: price spikes (|log return| > k·rolling σ), stale runs (N identical
closes while volume trades), and symbols trading on different minutes (alignment < 80 %).
"""

from __future__ import annotations

import datetime as dt
import enum
import itertools
import re
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ijules_core import calendar
from ijules_core.bars import BAR_COLUMNS, PRICE_COLUMNS
from ijules_core.bars.session import in_session, session_frame


NEW_YORK = zoneinfo.ZoneInfo(calendar.TZ)


class Outcome(enum.StrEnum):
    """What the Dagster check does with a batch: load it, load it and flag it, or refuse it."""

    CONTINUE = "CONTINUE"
    WARN = "WARN"
    BLOCK = "BLOCK"


_RANK = {Outcome.CONTINUE: 0, Outcome.WARN: 1, Outcome.BLOCK: 2}


def worst(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=_RANK.__getitem__, default=Outcome.CONTINUE)


@dataclass(frozen=True)
class Thresholds:
    max_missing_ratio: float = 0.05  # per (symbol, day), above it BLOCK
    spike_k: float = 10.0  # |log return| > k · σ of the previous `spike_window` returns
    spike_window: int = 30
    spike_min_move: float = 0.005  # and > 0.5 %: one tick on a quiet cheap stock is no spike
    stale_run: int = 10  # this many identical closes in a row, each bar with volume
    min_alignment: float = 0.80  # share of minutes on which every symbol has a bar


THRESHOLDS = {
    "ci": Thresholds(max_missing_ratio=0.05),
    "staging": Thresholds(max_missing_ratio=0.02),
    "production": Thresholds(max_missing_ratio=0.01),
}


def _positive_prices(df: pd.DataFrame) -> pd.Series:
    return (df[PRICE_COLUMNS] > 0).all(axis=1)


def _non_negative_volume(df: pd.DataFrame) -> pd.Series:
    return df["volume"] >= 0


def _high_low_bound(df: pd.DataFrame) -> pd.Series:
    o, h, l, c = (df[k].to_numpy() for k in PRICE_COLUMNS)
    return pd.Series((h >= np.maximum(o, c)) & (l <= np.minimum(o, c)), index=df.index)


def _unique_key(df: pd.DataFrame) -> pd.Series:
    return ~df.duplicated(["symbol", "ts"])  # the first of a repeated key passes, each repeat fails


def _ts_increasing(df: pd.DataFrame) -> pd.Series:
    previous = df.groupby("symbol", sort=False)["ts"].shift()
    return previous.isna() | (df["ts"] >= previous)  # equal stamps are `_unique_key`'s business


def _on_minute_grid(df: pd.DataFrame) -> pd.Series:
    return df["ts"].dt.floor("min") == df["ts"]


def _inside_session(df: pd.DataFrame) -> pd.Series:
    return in_session(df["ts"])


RULE_TEXT = {
    "positive_prices": "price ≤ 0",
    "non_negative_volume": "negative volume",
    "high_low_bound": "high/low do not bound open/close",
    "unique_symbol_ts": "repeated (symbol, ts)",
    "ts_increasing": "time runs backwards",
    "on_minute_grid": "stamp off the minute grid",
    "inside_session": "bar outside the session",
}
ROW_RULES: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "positive_prices": _positive_prices,
    "non_negative_volume": _non_negative_volume,
    "high_low_bound": _high_low_bound,
    "unique_symbol_ts": _unique_key,
    "ts_increasing": _ts_increasing,
    "on_minute_grid": _on_minute_grid,
    "inside_session": _inside_session,
}

BAR_SCHEMA = pa.DataFrameSchema(
    {
        "ts": pa.Column(pd.DatetimeTZDtype("ns", "UTC")),
        "symbol": pa.Column(str),
        **{c: pa.Column("float64") for c in PRICE_COLUMNS},
        "volume": pa.Column("Int64"),
        "vwap": pa.Column("float64", nullable=True),
        "trades": pa.Column("Int64", nullable=True),
    },
    checks=[pa.Check(rule, name=name) for name, rule in ROW_RULES.items()],
    strict=True,
    name="bars",
)
REQUIRED = [c for c in BAR_COLUMNS if not BAR_SCHEMA.columns[c].nullable]

SEVERITY = {
    **dict.fromkeys(["schema", "not_null", *ROW_RULES, "missing_symbol", "completeness"], Outcome.BLOCK),
    **dict.fromkeys(["spike", "stale", "alignment"], Outcome.WARN),
}


@dataclass(frozen=True)
class Failure:
    """One rule failed `count` times in one (symbol, day), or batch-wide where those are None."""

    rule: str
    count: int
    detail: str
    symbol: str | None = None
    day: dt.date | None = None
    examples: tuple[str, ...] = ()

    @property
    def severity(self) -> Outcome:
        return SEVERITY[self.rule]

    def to_dict(self) -> dict:
        return {**asdict(self), "severity": self.severity.value, "day": _iso(self.day), "examples": list(self.examples)}


@dataclass(frozen=True)
class PartitionStats:
    """Completeness and counts of one (symbol, session day)."""

    symbol: str
    day: dt.date
    bars: int  # distinct in-session minutes on the grid
    expected: int
    spikes: int
    stale_runs: int
    outcome: Outcome

    @property
    def missing_ratio(self) -> float:
        return 1 - self.bars / self.expected

    def to_dict(self) -> dict:
        return {**asdict(self), "day": self.day.isoformat(), "missing_ratio": round(self.missing_ratio, 6)}


@dataclass(frozen=True)
class QCReport:
    """The verdict on one batch: the worst outcome, per-partition stats and every failed rule."""

    outcome: Outcome
    environment: str
    thresholds: Thresholds
    rows: int
    partitions: tuple[PartitionStats, ...]
    failures: tuple[Failure, ...]
    alignment: dict[dt.date, float]

    @property
    def blocked(self) -> bool:
        return self.outcome is Outcome.BLOCK

    def rule_counts(self) -> dict[str, int]:
        """Total failures per rule, for a one-line summary."""
        counts: dict[str, int] = {}
        for f in self.failures:
            counts[f.rule] = counts.get(f.rule, 0) + f.count
        return counts

    def to_dict(self) -> dict:
        """JSON-able (dates as ISO strings), for a jsonb column or Dagster metadata."""
        return {
            "outcome": self.outcome.value,
            "environment": self.environment,
            "thresholds": asdict(self.thresholds),
            "rows": self.rows,
            "rule_counts": self.rule_counts(),
            "partitions": [p.to_dict() for p in self.partitions],
            "failures": [f.to_dict() for f in self.failures],
            "alignment": {d.isoformat(): round(v, 6) for d, v in self.alignment.items()},
        }

    def to_markdown(self, max_rows: int = 40) -> str:
        """A per-partition table, a text completeness chart and the failed rules, worst first."""
        parts = sorted(self.partitions, key=lambda p: (-_RANK[p.outcome], -p.missing_ratio, p.symbol, p.day))
        shown = parts[:max_rows]
        lines = [
            f"### QC {self.outcome.value} — {self.rows:,} rows, {len(parts)} partition(s), "
            f"environment `{self.environment}` (max missing {self.thresholds.max_missing_ratio:.1%})",
            "",
            "| symbol | day | bars | expected | missing | spikes | stale runs | outcome |",
            "|---|---|---:|---:|---:|---:|---:|---|",
            *(
                f"| {p.symbol} | {p.day} | {p.bars} | {p.expected} | {p.missing_ratio:.1%} | {p.spikes} "
                f"| {p.stale_runs} | {p.outcome.value} |"
                for p in shown
            ),
        ]
        if len(parts) > len(shown):
            lines.append(f"\n… and {len(parts) - len(shown)} more partition(s), none worse than those above.")
        width = max((len(f"{p.symbol} {p.day}") for p in shown), default=0)
        lines += ["", "**Completeness**", "", "```text"]
        lines += [f"{f'{p.symbol} {p.day}':<{width}} {_bar(1 - p.missing_ratio)} {1 - p.missing_ratio:6.1%}" for p in shown]
        lines += ["```", "", "**Failed rules**", ""]
        failures = sorted(self.failures, key=lambda f: -_RANK[f.severity])
        lines += [
            f"- {f.severity.value} `{f.rule}` {' '.join(filter(None, [f.symbol, _iso(f.day)])) or 'batch'}: "
            f"{f.detail} (count {f.count}{', e.g. ' + ', '.join(f.examples) if f.examples else ''})"
            for f in failures[:max_rows]
        ] or ["none"]
        if len(failures) > max_rows:
            lines.append(f"- … and {len(failures) - max_rows} more")
        return "\n".join(lines) + "\n"


def check_bars(
    bars: pd.DataFrame,
    *,
    symbols: Sequence[str] | None = None,
    days: Sequence[dt.date] | None = None,
    environment: str = "ci",
    thresholds: Thresholds | None = None,
    extended_hours: bool = False,
) -> QCReport:
    """QC a batch of bars against the calendar for `symbols` × `days` (default: those present).

    Pass the partition's symbols and days: a symbol or day the batch lacks is then a BLOCK.
    `extended_hours` accepts bars outside the regular session (completeness still counts it).
    """
    if environment not in THRESHOLDS and thresholds is None:
        raise ValueError(f"unknown environment {environment!r}: use one of {sorted(THRESHOLDS)} or pass thresholds")
    th = thresholds or THRESHOLDS[environment]
    report = dict(environment=environment, thresholds=th, rows=len(bars))
    try:
        BAR_SCHEMA.validate(bars.head(0), lazy=True)  # columns and dtypes; the row rules are counted below
    except pa.errors.SchemaErrors as exc:
        reasons = [re.sub(r"DataFrameSchema \{.*", "the bar schema", str(e).splitlines()[0]) for e in exc.schema_errors]
        failure = Failure("schema", len(reasons), "; ".join(reasons))
        return QCReport(Outcome.BLOCK, partitions=(), failures=(failure,), alignment={}, **report)

    failures: list[Failure] = []
    nulls = bars[REQUIRED].isna()
    for col in REQUIRED:
        failures += _per_partition("not_null", bars[nulls[col].to_numpy()], f"null {col}")
    clean = bars[~nulls.any(axis=1).to_numpy()]
    session = session_frame(clean["ts"])
    clean = clean.assign(day=session["day"])
    regular = (clean["ts"] >= session["open"]) & (clean["ts"] < session["close"])  # = session.in_session
    verdicts = {name: rule(clean) for name, rule in ROW_RULES.items() if name != "inside_session"}
    verdicts["inside_session"] = session["open"].notna() if extended_hours else regular
    for name, ok in verdicts.items():
        failures += _per_partition(name, clean[~ok.to_numpy()], RULE_TEXT[name])

    usable = verdicts["positive_prices"] & verdicts["on_minute_grid"] & verdicts["unique_symbol_ts"] & regular
    good = clean[usable.to_numpy()]
    if not (good["symbol"].is_monotonic_increasing and verdicts["ts_increasing"].all()):
        good = good.sort_values(["symbol", "ts"], kind="stable")
    symbols = sorted(symbols or good["symbol"].unique())
    days = sorted({pd.Timestamp(d) for d in (days or good["day"].unique())})
    failures += _series_checks(good, th)
    alignment, misaligned = _alignment(good, symbols, th)
    failures += misaligned

    rows_of = good.groupby(["symbol", "day"], sort=False).indices
    present = {key: len(rows) for key, rows in rows_of.items()}
    stamps = good["ts"].array.as_unit("ns").asi8
    expected = {day: calendar.expected_bars(day) for day in days}
    for sym, day in itertools.product(symbols, days):
        have, want = present.get((sym, day), 0), expected[day]
        if have == 0:
            failures.append(Failure("missing_symbol", want, "no bars at all", sym, day.date()))
        elif 1 - have / want > th.max_missing_ratio:
            gaps = np.setdiff1d(calendar.session_minutes(day).as_unit("ns").asi8, stamps[rows_of[sym, day]])[:3]
            detail = f"{want - have} of {want} minutes missing ({1 - have / want:.1%} > {th.max_missing_ratio:.1%})"
            examples = tuple(dt.datetime.fromtimestamp(ns / 1e9, NEW_YORK).strftime("%H:%M") for ns in gaps)
            failures.append(Failure("completeness", want - have, detail, sym, day.date(), examples))

    if not (symbols and days):
        failures.append(Failure("missing_symbol", 0, "no usable bars, and no symbols and days were expected"))

    counts = {(f.rule, f.symbol, f.day): f.count for f in failures}
    severities: dict[tuple, list[Outcome]] = {}
    for f in failures:
        severities.setdefault((f.symbol, f.day), []).append(f.severity)
    partitions = tuple(
        PartitionStats(
            sym,
            day.date(),
            present.get((sym, day), 0),
            expected[day],
            counts.get(("spike", sym, day.date()), 0),
            counts.get(("stale", sym, day.date()), 0),
            worst(severities.get((sym, day.date()), []) + severities.get((None, day.date()), [])),
        )
        for sym, day in itertools.product(symbols, days)
    )
    outcome = worst(f.severity for f in failures)
    return QCReport(outcome, partitions=partitions, failures=tuple(failures), alignment=alignment, **report)


def _per_partition(rule: str, rows: pd.DataFrame, detail: str) -> list[Failure]:
    """One failure per (symbol, day) among the offending `rows`, with the first few stamps."""
    if rows.empty:
        return []
    day = rows["day"] if "day" in rows.columns else session_frame(rows["ts"])["day"]
    grouped = pd.Series(0, index=rows.index).groupby([rows["symbol"].to_numpy(), day.to_numpy()], dropna=False)
    sizes = grouped.size()  # sorted by (symbol, day), as are the group numbers
    sample = grouped.cumcount().to_numpy() < 3
    order = np.argsort(grouped.ngroup().to_numpy()[sample], kind="stable")
    clocks = np.asarray(_clocks(rows["ts"][sample]), dtype=object)[order]
    examples = np.split(clocks, np.cumsum(np.minimum(sizes.to_numpy(), 3))[:-1])
    return [
        Failure(rule, int(n), detail, None if pd.isna(sym) else sym, _date(d), tuple(ex))
        for ((sym, d), n), ex in zip(sizes.items(), examples, strict=True)
    ]


def _series_checks(good: pd.DataFrame, th: Thresholds) -> list[Failure]:
    """Spikes and stale runs in `good` (unique regular bars sorted by symbol, ts), per (symbol, day)."""
    if good.empty:
        return []
    sym, day = good["symbol"].to_numpy(), good["day"].to_numpy()
    close, volume = good["close"].to_numpy(), good["volume"].to_numpy(dtype="int64")
    first = np.r_[True, (sym[1:] != sym[:-1]) | (day[1:] != day[:-1])]  # a new (symbol, day) starts

    ret = np.diff(np.log(close), prepend=np.nan)
    ret[first] = 0.0
    idx = np.arange(len(close))
    start = np.maximum.accumulate(np.where(first, idx, 0))
    lo = np.maximum(idx - th.spike_window, start + 1)  # σ from up to `spike_window` earlier returns of the day
    count = idx - lo
    c1, c2 = np.r_[0.0, np.cumsum(ret)], np.r_[0.0, np.cumsum(ret * ret)]
    with np.errstate(invalid="ignore", divide="ignore"):
        s1, s2 = c1[idx] - c1[lo], c2[idx] - c2[lo]
        sigma = np.sqrt(np.maximum(s2 - s1 * s1 / count, 0.0) / (count - 1))
        spike = (count >= 10) & (np.abs(ret) > th.spike_k * sigma) & (np.abs(ret) > th.spike_min_move)

    same = ~first & (close == np.r_[np.nan, close[:-1]]) & (volume > 0) & (np.r_[0, volume[:-1]] > 0)
    edges = np.diff(np.r_[0, same.astype(np.int8), 0])
    run_start, run_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    stale = run_start[run_end - run_start + 1 >= th.stale_run] - 1  # each run's first bar

    return _per_partition(
        "spike", good[spike], f"|log return| > {th.spike_k:g}·σ of the previous {th.spike_window} returns"
    ) + _per_partition("stale", good.iloc[stale], f"runs of ≥ {th.stale_run} identical closes with volume")


def _alignment(good: pd.DataFrame, symbols: Sequence[str], th: Thresholds) -> tuple[dict, list[Failure]]:
    """Per day, the share of traded minutes on which every symbol trading that day has a bar.

    A symbol absent all day is `missing_symbol`'s business, so it does not count here.
    """
    good = good[good["symbol"].isin(symbols)]
    trading = good.groupby("day")["symbol"].nunique()
    per_minute = good.groupby(["day", "ts"]).size()
    day = per_minute.index.get_level_values("day")
    full = pd.Series(per_minute.to_numpy() == trading.reindex(day).to_numpy(), index=day)
    share = full.groupby(level="day").mean()[trading >= 2]
    failures = [
        Failure(
            "alignment",
            int((~full.loc[d]).sum()),
            f"only {value:.1%} of minutes have all {trading[d]} symbols (< {th.min_alignment:.0%})",
            day=d.date(),
        )
        for d, value in share.items()
        if value < th.min_alignment
    ]
    return {d.date(): float(v) for d, v in share.items()}, failures


def _bar(share: float, width: int = 20) -> str:
    full, part = divmod(round(max(share, 0.0) * width * 8), 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width, "·")


def _clocks(ts: pd.Series) -> list[str]:
    """New York wall clock of each stamp, seconds shown only when off the minute."""
    local = ts.dt.tz_convert(calendar.TZ)
    text = np.where(local.dt.floor("min") == local, local.dt.strftime("%H:%M"), local.dt.strftime("%H:%M:%S.%f"))
    return np.where(ts.isna(), "NaT", text).tolist()


def _date(value: object) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None

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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ijules_core import calendar
from ijules_core.bars import BAR_COLUMNS, PRICE_COLUMNS
from ijules_core.bars.session import in_session, session_frame


class Outcome(enum.StrEnum):
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
            f"- {f.severity.value} `{f.rule}` {f.symbol or ''} {_iso(f.day) or ''}: {f.count} × {f.detail}"
            + (f" (e.g. {', '.join(f.examples)})" if f.examples else "")
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
        BAR_SCHEMA.validate(bars.head(0))  # columns and dtypes; the row rules are counted below
    except pa.errors.SchemaError as exc:
        failure = Failure("schema", 1, str(exc).splitlines()[0])
        return QCReport(Outcome.BLOCK, partitions=(), failures=(failure,), alignment={}, **report)

    failures: list[Failure] = []
    nulls = bars[REQUIRED].isna()
    for col in REQUIRED:
        failures += _per_partition("not_null", bars[nulls[col]], f"null {col}")
    clean = bars[~nulls.any(axis=1)]
    session = session_frame(clean["ts"])
    clean = clean.assign(day=session["day"])
    regular = (clean["ts"] >= session["open"]) & (clean["ts"] < session["close"])  # = session.in_session
    verdicts = {name: rule(clean) for name, rule in ROW_RULES.items() if name != "inside_session"}
    verdicts["inside_session"] = session["open"].notna() if extended_hours else regular
    for name, ok in verdicts.items():
        failures += _per_partition(name, clean[~ok.to_numpy()], RULE_TEXT[name])

    good = clean[(verdicts["on_minute_grid"] & regular).to_numpy()]
    good = good.drop_duplicates(["symbol", "ts"]).sort_values(["symbol", "ts"])
    symbols = sorted(symbols or good["symbol"].unique())
    days = sorted(pd.Timestamp(d) for d in (days or good["day"].unique()))
    present = good.groupby(["symbol", "day"]).size()
    series = _series_checks(good, th, failures)
    alignment = _alignment(good, symbols, th, failures)
    for sym, day in itertools.product(symbols, days):
        expected, have = calendar.expected_bars(day), int(present.get((sym, day), 0))
        if have == 0:
            failures.append(Failure("missing_symbol", expected, "no bars at all", sym, day.date()))
        elif 1 - have / expected > th.max_missing_ratio:
            minutes = good.loc[(good["symbol"] == sym) & (good["day"] == day), "ts"]
            gaps = calendar.session_minutes(day).difference(minutes)
            failures.append(
                Failure(
                    "completeness",
                    expected - have,
                    f"{expected - have} of {expected} minutes missing "
                    f"({1 - have / expected:.1%} > {th.max_missing_ratio:.1%})",
                    sym,
                    day.date(),
                    tuple(_clock(t) for t in gaps[:3]),
                )
            )

    severities: dict[tuple, list[Outcome]] = {}
    for f in failures:
        severities.setdefault((f.symbol, f.day), []).append(f.severity)
    partitions = tuple(
        PartitionStats(
            sym,
            day.date(),
            int(present.get((sym, day), 0)),
            calendar.expected_bars(day),
            *series.get((sym, day), (0, 0)),
            outcome=worst(severities.get((sym, day.date()), []) + severities.get((None, day.date()), [])),
        )
        for sym, day in itertools.product(symbols, days)
    )
    return QCReport(
        worst(f.severity for f in failures), partitions=partitions, failures=tuple(failures), alignment=alignment, **report
    )


def _per_partition(rule: str, bad: pd.DataFrame, detail: str) -> list[Failure]:
    """One failure per (symbol, day) among the offending rows, with a few of their stamps."""
    if bad.empty:
        return []
    day = bad["day"] if "day" in bad else session_frame(bad["ts"])["day"]
    out = []
    for (sym, d), rows in bad.groupby([bad["symbol"], day], sort=True, dropna=False):
        out.append(Failure(rule, len(rows), detail, sym, _date(d), tuple(_clock(t) for t in rows["ts"].head(3))))
    return out


def _series_checks(good: pd.DataFrame, th: Thresholds, failures: list[Failure]) -> dict[tuple, tuple[int, int]]:
    """Spikes and stale runs per (symbol, day) of `good` (sorted, unique, regular); appends WARNs."""
    if good.empty:
        return {}
    key = pd.MultiIndex.from_arrays([good["symbol"], good["day"]])
    codes, groups = pd.factorize(key)
    n = len(codes)
    close = good["close"].to_numpy()
    volume = good["volume"].to_numpy(dtype="int64")
    first = np.r_[True, codes[1:] != codes[:-1]]

    ret = np.diff(np.log(close), prepend=np.nan)
    ret[first] = np.nan
    idx = np.arange(n)
    start = np.maximum.accumulate(np.where(first, idx, 0))
    lo = np.maximum(idx - th.spike_window, start + 1)  # σ from the previous returns of the same group
    count = idx - lo
    r0 = np.nan_to_num(ret)
    c1, c2 = np.r_[0.0, np.cumsum(r0)], np.r_[0.0, np.cumsum(r0 * r0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        s1, s2 = c1[idx] - c1[lo], c2[idx] - c2[lo]
        sigma = np.sqrt(np.maximum(s2 - s1 * s1 / count, 0.0) / (count - 1))
        spike = (count >= 10) & (np.abs(ret) > th.spike_k * sigma) & (np.abs(ret) > th.spike_min_move)

    same = ~first & (close == np.r_[np.nan, close[:-1]]) & (volume > 0) & (np.r_[0, volume[:-1]] > 0)
    edges = np.diff(np.r_[0, same.astype(np.int8), 0])
    run_start, run_end = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    stale = run_start[run_end - run_start + 1 >= th.stale_run] - 1  # the run's first bar

    ts = good["ts"].to_numpy()
    spikes_by, stale_by = np.bincount(codes[spike], minlength=len(groups)), np.bincount(codes[stale], minlength=len(groups))
    for g in np.flatnonzero(spikes_by | stale_by):
        sym, day = groups[g]
        if spikes_by[g]:
            at = ts[spike & (codes == g)][:3]
            failures.append(
                Failure("spike", int(spikes_by[g]), f"|log return| > {th.spike_k:g}·σ({th.spike_window})", sym, day.date(),
                        tuple(_clock(t) for t in at))
            )
        if stale_by[g]:
            at = ts[stale[codes[stale] == g]][:3]
            failures.append(
                Failure("stale", int(stale_by[g]), f"runs of ≥ {th.stale_run} identical closes with volume", sym,
                        day.date(), tuple(_clock(t) for t in at))
            )
    return {groups[g]: (int(spikes_by[g]), int(stale_by[g])) for g in range(len(groups))}


def _alignment(good: pd.DataFrame, symbols: Sequence[str], th: Thresholds, failures: list[Failure]) -> dict:
    """Per day, the share of traded minutes on which every symbol has a bar."""
    if len(symbols) < 2 or good.empty:
        return {}
    per_minute = good[good["symbol"].isin(symbols)].groupby(["day", "ts"]).size()
    share = (per_minute == len(symbols)).groupby(level="day").mean()
    out = {}
    for day, value in share.items():
        out[day.date()] = float(value)
        if value < th.min_alignment:
            failures.append(
                Failure("alignment", int((per_minute.loc[day] < len(symbols)).sum()),
                        f"only {value:.1%} of minutes have all {len(symbols)} symbols (< {th.min_alignment:.0%})",
                        day=day.date())
            )
    return out


def _bar(share: float, width: int = 20) -> str:
    full, part = divmod(round(max(share, 0.0) * width * 8), 8)
    return ("█" * full + ("▏▎▍▌▋▊▉"[part - 1] if part else "")).ljust(width, "·")


def _clock(ts: object) -> str:
    """New York wall clock of a stamp, seconds shown only when off the minute."""
    t = pd.Timestamp(ts)
    if pd.isna(t):
        return "NaT"
    t = t.tz_convert(calendar.TZ)
    return t.strftime("%H:%M:%S.%f" if t.second or t.microsecond else "%H:%M")


def _date(value: object) -> dt.date | None:
    return None if pd.isna(value) else pd.Timestamp(value).date()


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None

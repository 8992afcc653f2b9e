"""QC rules, outcomes and the report, on seeded synthetic bars with injected faults."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ijules_core.bars.synthetic import Faults, SyntheticSource
from ijules_core.qc import BAR_SCHEMA, SEVERITY, Outcome, Thresholds, check_bars

DAY = dt.date(2026, 3, 2)
SYMBOLS = ["NVDA", "MSFT"]
CLEAN = SyntheticSource().fetch(SYMBOLS, DAY)


def qc(bars: pd.DataFrame, **kwargs):
    return check_bars(bars, symbols=SYMBOLS, days=[DAY], **kwargs)


def test_clean_session_continues_with_full_stats():
    report = qc(CLEAN)

    assert report.outcome is Outcome.CONTINUE and report.failures == ()
    assert [(p.symbol, p.bars, p.expected, p.missing_ratio) for p in report.partitions] == [
        ("MSFT", 390, 390, 0.0),
        ("NVDA", 390, 390, 0.0),
    ]
    assert report.alignment == {DAY: 1.0}


def test_early_close_expects_210_bars():
    day = dt.date(2026, 11, 27)  # the day after Thanksgiving
    report = check_bars(SyntheticSource().fetch(SYMBOLS, day), symbols=SYMBOLS, days=[day])

    assert report.outcome is Outcome.CONTINUE
    assert {p.expected for p in report.partitions} == {210}


@pytest.mark.parametrize(
    ("spec", "rule", "count", "outcome"),
    [
        ("missing:30", "completeness", 30, Outcome.BLOCK),
        ("duplicate:2", "unique_symbol_ts", 2, Outcome.BLOCK),
        ("spike", "spike", 1, Outcome.WARN),
        ("stale:15", "stale", 1, Outcome.WARN),
    ],
)
def test_each_injected_fault_is_caught_by_its_rule(spec, rule, count, outcome):
    bars = SyntheticSource(faults={f"MSFT@{DAY}": spec}).fetch(SYMBOLS, DAY)

    report = qc(bars)

    assert report.rule_counts() == {rule: count}
    assert [(f.rule, f.symbol, f.day) for f in report.failures] == [(rule, "MSFT", DAY)]
    assert report.outcome is outcome
    assert {p.symbol: p.outcome for p in report.partitions} == {"MSFT": outcome, "NVDA": Outcome.CONTINUE}


def test_faults_are_seeded_and_keys_combine():
    source = SyntheticSource(faults={"*": "missing:2", DAY.isoformat(): ["spike"], "NVDA": Faults(duplicate=1)})
    again = SyntheticSource(faults={"*": "missing:2", DAY.isoformat(): ["spike"], "NVDA": Faults(duplicate=1)})

    assert source.faults_for("NVDA", DAY) == Faults(missing=2, spike=1, duplicate=1)
    assert source.faults_for("MSFT", dt.date(2026, 3, 3)) == Faults(missing=2)
    pd.testing.assert_frame_equal(source.fetch(SYMBOLS, DAY), again.fetch(SYMBOLS, DAY))
    assert len(source.fetch(["MSFT"], dt.date(2026, 3, 3))) == 388


def test_unknown_fault_spec_fails_at_construction():
    with pytest.raises(ValueError, match="unknown fault 'gap:3'"):
        SyntheticSource(faults={"*": ["gap:3"]})


@pytest.mark.parametrize(
    ("environment", "outcome"),
    [("ci", Outcome.CONTINUE), ("staging", Outcome.CONTINUE), ("production", Outcome.BLOCK)],
)
def test_missing_threshold_depends_on_the_environment(environment, outcome):
    bars = SyntheticSource(faults={"MSFT": "missing:6"}).fetch(SYMBOLS, DAY)  # 1.5 % missing

    report = qc(bars, environment=environment)

    assert report.outcome is outcome
    assert report.partitions[0].missing_ratio == pytest.approx(6 / 390)


def test_thresholds_are_configurable():
    bars = SyntheticSource(faults={"MSFT": "missing:6"}).fetch(SYMBOLS, DAY)

    assert qc(bars, thresholds=Thresholds(max_missing_ratio=0.001)).outcome is Outcome.BLOCK
    with pytest.raises(ValueError, match="unknown environment 'dev'"):
        qc(bars, environment="dev")


@pytest.mark.parametrize(
    ("bars", "rule"),
    [
        (CLEAN.assign(close=CLEAN["close"].mask(CLEAN.index == 10)), "not_null"),
        (CLEAN.assign(volume=CLEAN["volume"].mask(CLEAN.index == 3)), "not_null"),
        (CLEAN.assign(low=CLEAN["low"].mask(CLEAN.index == 4, -0.5)), "positive_prices"),
        (CLEAN.assign(volume=CLEAN["volume"].mask(CLEAN.index == 5, -1)), "non_negative_volume"),
        (CLEAN.assign(high=CLEAN["high"].mask(CLEAN.index == 6, CLEAN["low"])), "high_low_bound"),
        (CLEAN.assign(ts=CLEAN["ts"].mask(CLEAN.index == 7, CLEAN["ts"] + pd.Timedelta(seconds=30))), "on_minute_grid"),
        (pd.concat([CLEAN, CLEAN.iloc[[8]]]).sort_values(["symbol", "ts"]), "unique_symbol_ts"),
    ],
)
def test_row_rules_block_and_name_the_partition(bars, rule):
    report = qc(bars.reset_index(drop=True))

    assert report.outcome is Outcome.BLOCK
    assert report.rule_counts() == {rule: 1}
    (failure,) = report.failures
    assert (failure.symbol, failure.day, failure.severity) == ("MSFT", DAY, Outcome.BLOCK)


def test_out_of_order_stamps_block():
    bars = CLEAN.copy()
    bars.iloc[[20, 21]] = bars.iloc[[21, 20]].to_numpy()

    report = qc(bars)

    assert report.rule_counts() == {"ts_increasing": 1} and report.outcome is Outcome.BLOCK


def test_bars_outside_the_session_block_unless_extended_hours():
    pre = CLEAN.iloc[[0]].assign(ts=pd.Timestamp("2026-03-02 13:00", tz="UTC"))  # 08:00 ET
    holiday = CLEAN.iloc[[1]].assign(ts=pd.Timestamp("2026-02-16 15:00", tz="UTC"))  # Presidents' Day
    bars = pd.concat([pre, CLEAN]).reset_index(drop=True)

    assert qc(bars).rule_counts() == {"inside_session": 1}
    assert qc(bars, extended_hours=True).outcome is Outcome.CONTINUE
    on_holiday = check_bars(pd.concat([holiday, CLEAN]), extended_hours=True)
    assert on_holiday.rule_counts() == {"inside_session": 1}
    assert on_holiday.failures[0].day == dt.date(2026, 2, 16)


@pytest.mark.parametrize(
    ("bars", "message"),
    [
        (CLEAN.drop(columns="vwap"), "vwap"),
        (CLEAN.assign(extra=1), "extra"),
        (CLEAN.assign(volume=CLEAN["volume"].astype("float64")), "Int64"),
        (CLEAN.assign(ts=CLEAN["ts"].dt.tz_localize(None)), "datetime64"),
    ],
)
def test_wrong_schema_blocks_with_pandera_s_reason(bars, message):
    report = qc(bars)

    assert report.outcome is Outcome.BLOCK
    assert [f.rule for f in report.failures] == ["schema"]
    assert message in report.failures[0].detail


def test_a_missing_symbol_and_misaligned_symbols():
    only_nvda = CLEAN[CLEAN["symbol"] == "NVDA"]
    report = check_bars(only_nvda, symbols=["NVDA", "MSFT", "AAPL"], days=[DAY])
    assert {(f.rule, f.symbol) for f in report.failures} == {("missing_symbol", "MSFT"), ("missing_symbol", "AAPL")}

    odd = CLEAN[~((CLEAN["symbol"] == "NVDA") & (CLEAN["ts"].dt.minute % 2 == 0))]
    odd = odd[~((odd["symbol"] == "MSFT") & (odd["ts"].dt.minute % 2 == 1))]
    relaxed = qc(odd, thresholds=Thresholds(max_missing_ratio=0.6))
    assert relaxed.rule_counts() == {"alignment": 390} and relaxed.outcome is Outcome.WARN
    assert relaxed.alignment == {DAY: 0.0}
    assert {p.outcome for p in relaxed.partitions} == {Outcome.WARN}


def test_an_empty_batch_blocks():
    assert check_bars(CLEAN.iloc[:0]).outcome is Outcome.BLOCK
    assert qc(CLEAN.iloc[:0]).rule_counts() == {"missing_symbol": 780}


def test_report_serialises_and_renders():
    bars = SyntheticSource(faults={DAY.isoformat(): ["missing:30", "spike"], "MSFT": "stale:15"}).fetch(SYMBOLS, DAY)
    report = qc(bars)

    data = json.loads(json.dumps(report.to_dict()))
    assert data["outcome"] == "BLOCK" and data["environment"] == "ci"
    assert data["rule_counts"] == {"spike": 2, "stale": 1, "completeness": 60}
    assert data["partitions"][0] == {
        "symbol": "MSFT", "day": "2026-03-02", "bars": 360, "expected": 390, "spikes": 1, "stale_runs": 1,
        "outcome": "BLOCK", "missing_ratio": round(30 / 390, 6),
    }
    assert {f["severity"] for f in data["failures"]} == {"BLOCK", "WARN"}

    md = report.to_markdown()
    assert md.startswith("### QC BLOCK")
    assert "| MSFT | 2026-03-02 | 360 | 390 | 7.7% | 1 | 1 | BLOCK |" in md
    assert "MSFT 2026-03-02 ██████████████████▌·  92.3%" in md
    assert "- BLOCK `completeness` MSFT 2026-03-02: 30 of 390 minutes missing" in md


def test_every_rule_has_a_severity():
    assert set(SEVERITY.values()) == {Outcome.BLOCK, Outcome.WARN}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(CLEAN) - 1), st.sampled_from(["open", "high", "low", "close", "volume"]),
                  st.sampled_from([-1.0, 0.0, 1e-3, 1e6, float("nan")])),
        max_size=3,
    )
)
def test_pandera_schema_and_qc_agree_on_row_rules(edits):
    """The schema of record and the vectorised counts are the same rules."""
    bars = CLEAN.copy()
    for row, col, value in edits:
        bars.loc[row, col] = pd.NA if col == "volume" and value != value else (int(value) if col == "volume" else value)
    row_rules = {"schema", "not_null", "positive_prices", "non_negative_volume", "high_low_bound", "unique_symbol_ts",
                 "ts_increasing", "on_minute_grid", "inside_session"}

    report = check_bars(bars)
    try:
        BAR_SCHEMA.validate(bars, lazy=True)
        schema_ok = True
    except pa.errors.SchemaErrors:
        schema_ok = False

    assert schema_ok == (not row_rules & report.rule_counts().keys())

"""Small PNG charts for reports, and how to embed them in Markdown (Dagster UI, files on disk)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only
import matplotlib.pyplot as plt  # noqa: E402


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def completeness_chart(days: Sequence[str], by_symbol: Mapping[str, Sequence[float]], threshold: float) -> bytes:
    """Share of expected bars per day, one line per symbol, with the QC threshold drawn in."""
    fig, ax = plt.subplots(figsize=(7, 2.6))
    for symbol, shares in by_symbol.items():
        ax.plot(range(len(days)), [100 * s for s in shares], marker="o", ms=3, label=symbol)
    ax.axhline(100 * (1 - threshold), color="red", lw=0.8, ls="--", label="QC threshold")
    ax.set_xticks(range(len(days)), days, rotation=60, fontsize=7)
    ax.set_ylabel("bars / expected (%)")
    ax.set_ylim(min(80, ax.get_ylim()[0]), 101)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    return _png(fig)


def equity_drawdown_chart(ts_ns, equity, title: str = "") -> bytes:
    """Equity curve over bar closes with its drawdown underneath (New York time on the x axis)."""
    import numpy as np
    import pandas as pd

    when = pd.to_datetime(np.asarray(ts_ns), utc=True).tz_convert("America/New_York")
    eq = np.asarray(equity, dtype=float)
    dd = eq - np.maximum.accumulate(eq)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4), sharex=True, height_ratios=[3, 1])
    x = np.arange(len(eq))  # bar index: no flat lines across nights and weekends
    top.plot(x, eq, lw=1)
    top.set_ylabel("equity ($)")
    top.set_title(title, fontsize=9)
    top.grid(alpha=0.3)
    bottom.fill_between(x, dd, 0, color="tab:red", alpha=0.4)
    bottom.set_ylabel("drawdown ($)")
    bottom.grid(alpha=0.3)
    ticks = np.linspace(0, len(x) - 1, num=min(6, len(x)), dtype=int) if len(x) else []
    bottom.set_xticks(ticks, [when[i].strftime("%m-%d %H:%M") for i in ticks], fontsize=7)
    return _png(fig)


def equity_curves_chart(ts_ns, curves: Mapping[str, Sequence[float]], title: str = "") -> bytes:
    """Several equity curves over the same bar closes (e.g. a model against its baselines)."""
    import numpy as np
    import pandas as pd

    when = pd.to_datetime(np.asarray(ts_ns), utc=True).tz_convert("America/New_York")
    fig, ax = plt.subplots(figsize=(8, 3.2))
    for name, equity in curves.items():
        ax.plot(np.arange(len(equity)), equity, lw=1.4 if name == "model" else 0.9, label=name)
    ticks = np.linspace(0, len(when) - 1, num=min(6, len(when)), dtype=int) if len(when) else []
    ax.set_xticks(ticks, [when[i].strftime("%m-%d %H:%M") for i in ticks], fontsize=7)
    ax.set_ylabel("equity ($)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)

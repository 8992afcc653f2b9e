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

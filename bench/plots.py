"""PNG plots for the benchmark reports (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"ours": "tab:blue", "default": "tab:orange"}
STYLES = {"p50": "-", "p95": "--", "p99": ":"}


def latency(results: Dict[str, Dict], levels: Sequence[int], paths: Sequence[str], out: Path) -> None:
    """p50/p95/p99 by concurrency, one panel per path, one colour per stack."""
    fig, axes = plt.subplots(1, len(paths), figsize=(6 * len(paths), 4.5))
    for ax, path in zip(axes, paths):
        for label, result in results.items():
            rows = [r for r in result["rows"] if r["path"] == path]
            for stat, style in STYLES.items():
                ax.plot([r["concurrency"] for r in rows], [r[stat] for r in rows], style, marker="o",
                        color=COLOURS.get(label), label=f"{label} {stat}")
        ax.set(title=path, xlabel="concurrent conversations", ylabel="latency, ms", xscale="log", yscale="log")
        ax.set_xticks(list(levels))
        ax.set_xticklabels([str(c) for c in levels])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def accuracy_bars(measures: List[Tuple[str, Optional[float], Optional[float]]], out: Path) -> None:
    """Grouped bars: (measure, ours, default); None is drawn as an 'n/a' label."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.38
    for offset, (label, index) in ((-width / 2, ("ours", 1)), (width / 2, ("default", 2))):
        for x, row in enumerate(measures):
            value = row[index]
            if value is None:
                ax.text(x + offset, 0.02, "n/a", ha="center", va="bottom", fontsize=9, rotation=90)
                continue
            ax.bar(x + offset, value, width, color=COLOURS[label], label=label if x == 0 else None)
            ax.text(x + offset, value + 0.01, f"{value:.3f}", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(measures)))
    ax.set_xticklabels([m[0] for m in measures])
    ax.set(ylim=(0, 1.2), ylabel="held-out set", title="Understanding: ours vs Rasa default pipeline")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLOURS[k]) for k in ("ours", "default")]
    ax.legend(handles, ["ours", "Rasa default"], loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def confusion(pairs: List[Tuple[str, str]], labels: Sequence[str], title: str, out: Path) -> None:
    """Heatmap of (gold, predicted) counts, rows normalised to the share of each gold label."""
    counts = Counter(pairs)
    matrix = [[counts.get((g, p), 0) for p in labels] for g in labels]
    shares = [[c / (sum(row) or 1) for c in row] for row in matrix]
    fig, ax = plt.subplots(figsize=(0.55 * len(labels) + 3, 0.5 * len(labels) + 2.5))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if shares[i][j] > 0.5 else "black")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set(xlabel="predicted", ylabel="gold", title=title)
    fig.colorbar(image, ax=ax, fraction=0.04, label="share of the gold label")
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def load_timeline(points: List[Tuple[float, float, bool]], out: Path) -> None:
    """Each message of the load run: when it was sent (s) against its latency (ms); errors in red."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for ok, colour, label in ((True, "tab:blue", "answered"), (False, "tab:red", "error")):
        chosen = [(t, ms) for t, ms, good in points if good == ok]
        if chosen:
            ax.scatter(*zip(*chosen), s=6, alpha=0.5, color=colour, label=f"{label} ({len(chosen)})")
    ax.set(xlabel="sent at, s after the start", ylabel="latency, ms", title="Load run: latency of every message")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def scale_out(rows: List[Dict], out: Path) -> None:
    """Throughput and p50 by number of Rasa processes, one line per concurrency level."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for c in sorted({r["concurrency"] for r in rows}):
        mine = sorted((r for r in rows if r["concurrency"] == c), key=lambda r: r["processes"])
        counts = [r["processes"] for r in mine]
        left.plot(counts, [r["throughput"] for r in mine], marker="o", label=f"{c} conversations")
        right.plot(counts, [r["p50"] for r in mine], marker="o", label=f"{c} conversations")
    for ax, title, unit in ((left, "throughput", "messages/s"), (right, "p50 latency", "ms")):
        ax.set(title=title, xlabel="Rasa processes", ylabel=unit)
        ax.set_xticks(sorted({r["processes"] for r in rows}))
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)

"""PNG plots for the simulator CLIs (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["plot_block_summary", "plot_key_rate_vs_distance", "plot_qber_vs_intercept"]

Curves = Mapping[str, tuple[Sequence[float], Sequence[float]]]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_key_rate(ax: Any, curves: Curves, title: str) -> None:
    for label, (distance, rate) in curves.items():
        points = [(d, r) for d, r in zip(distance, rate, strict=True) if r > 0]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.semilogy(xs, ys, label=label, linewidth=2)
    ax.set_xlabel("fibre length (km)")
    ax.set_ylabel("secret key rate (bits per pulse)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)


def _draw_qber(
    ax: Any,
    fraction: Sequence[float],
    measured: Sequence[float],
    predicted: Sequence[float],
    abort_threshold: float | None,
    title: str,
) -> None:
    ax.plot(fraction, predicted, label="model: E0 + x·(1/4 − e_d/2)", linewidth=2)
    ax.plot(fraction, measured, "o", label="simulated (signal pulses)")
    if abort_threshold is not None:
        ax.axhline(abort_threshold, color="tab:red", linestyle="--", label="abort threshold")
    ax.set_xlabel("fraction of pulses intercepted and resent by Eve")
    ax.set_ylabel("QBER of sifted bits")
    ax.set_title(title)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(0.3, max(measured, default=0.0) * 1.1))
    ax.grid(True, alpha=0.3)
    ax.legend()


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_key_rate_vs_distance(
    curves: Curves,
    path: Path,
    *,
    title: str = "Decoy-state BB84 key rate (GYS parameters)",
) -> None:
    """Key rate per pulse against distance, log y; one line per named curve (zeros dropped)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    _draw_key_rate(ax, curves, title)
    ax.legend()
    _save(plt, fig, path)


def plot_qber_vs_intercept(
    fraction: Sequence[float],
    measured: Sequence[float],
    predicted: Sequence[float],
    path: Path,
    *,
    abort_threshold: float | None = 0.11,
    title: str = "QBER against Eve's intercept-resend fraction",
) -> None:
    """Measured sifted QBER (markers) and the model (line) against Eve's fraction."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    _draw_qber(ax, fraction, measured, predicted, abort_threshold, title)
    _save(plt, fig, path)


def plot_block_summary(
    curves: Curves,
    block_point: tuple[float, float] | None,
    fraction: Sequence[float],
    measured: Sequence[float],
    predicted: Sequence[float],
    path: Path,
    *,
    block_label: str = "this block (finite key)",
    abort_threshold: float | None = 0.11,
) -> None:
    """Two panels: the asymptotic key rate with this block's finite-key rate marked, and the
    QBER against Eve's intercept-resend fraction at the same distance."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.0, 4.6), dpi=100)
    _draw_key_rate(left, curves, "Key rate against distance (lines: asymptotic model)")
    if block_point is not None and block_point[1] > 0:
        left.semilogy([block_point[0]], [block_point[1]], "k*", markersize=14, label=block_label)
    left.legend(fontsize="small")
    _draw_qber(right, fraction, measured, predicted, abort_threshold, "QBER against Eve's fraction")
    _save(plt, fig, path)

"""The PNG plots: written, non-trivial, and tolerant of empty or all-zero curves."""

from __future__ import annotations

from pathlib import Path

from simulators.plots import plot_block_summary, plot_key_rate_vs_distance, plot_qber_vs_intercept

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    data = path.read_bytes()
    return data.startswith(PNG_MAGIC) and len(data) > 5_000


def test_all_three_plots_write_pngs(tmp_path: Path) -> None:
    curves = {"a": ([0.0, 10.0, 20.0], [1e-3, 1e-4, 0.0]), "empty": ([0.0], [0.0])}
    plot_key_rate_vs_distance(curves, tmp_path / "k.png")
    plot_qber_vs_intercept([0.0, 1.0], [0.03, 0.27], [0.033, 0.266], tmp_path / "q.png")
    plot_block_summary(curves, None, [0.0, 1.0], [0.03, 0.27], [0.033, 0.266], tmp_path / "b.png")
    plot_block_summary(
        curves, (10.0, 3e-4), [0.0, 1.0], [0.03, 0.4], [0.033, 0.266], tmp_path / "c.png"
    )
    for name in ("k", "q", "b", "c"):
        assert _is_png(tmp_path / f"{name}.png")

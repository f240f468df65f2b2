"""Figures of studies: accuracy heatmaps with confidence intervals and best/tied marks."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._inputs import _check_columns, _order
from ._style import _figure, _styled

__all__ = ["accuracy_heatmap"]


#: Columns of a summary that are statistics, not configuration.
_STAT_COLUMNS = (
    "mean", "std", "sem", "ci_low", "ci_high", "n", "rank", "best", "tied", "block",
    "p_value", "diverged", "median", "min", "max", "count",
)  # fmt: skip


def _half_width(df: pd.DataFrame) -> np.ndarray | None:
    if {"ci_low", "ci_high"} <= set(df.columns):
        return (df["ci_high"].to_numpy(float) - df["ci_low"].to_numpy(float)) / 2
    if "std" in df.columns:
        return df["std"].to_numpy(float)
    return None


@_styled
def accuracy_heatmap(
    summary: pd.DataFrame,
    value: str = "mean",
    row: str = "init",
    col: str = "activation",
    by: str | None = "optimizer",
    row_order: Sequence[str] | None = None,
    col_order: Sequence[str] | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str = "mean validation accuracy",
) -> Figure:
    """Heatmaps of mean validation accuracy (initializer × activation), one per optimizer.

    Each cell is annotated with ``mean ± half-width`` of its confidence
    interval (``ci_low``/``ci_high``, else ``std``); ``★`` marks the best
    configuration and ``=`` those statistically tied with it (columns
    ``best`` and ``tied``; without them the best cell of each panel is starred).

    Parameters
    ----------
    summary : DataFrame
        One row per configuration: the ``row``, ``col`` (and ``by``) columns,
        ``value`` and optionally ``ci_low``, ``ci_high``, ``std``, ``n``,
        ``best``, ``tied`` (as :meth:`Study.summary` gives).
    value : str
        The column to colour by.
    row, col, by : str
        Columns for the heatmap rows, columns and panels (``by=None``: one panel).
    row_order, col_order : sequences, optional
    vmin, vmax : float, optional
        Colour limits (default: the data's range).
    title : str

    Returns
    -------
    Figure
        One heatmap axes per ``by`` value, plus one shared colorbar.

    Notes
    -----
    When other columns vary too (several learning rates per cell, say), each
    cell shows its best configuration by ``value`` and the panel title says
    which columns were maximized over.
    """
    cols = [row, col, value, *([by] if by else [])]
    _check_columns(summary, cols, "summary")
    df = summary.copy()
    df[value] = df[value].astype(float)
    panels = _order(df[by], None, by) if by else [None]
    rows = _order(df[row], row_order, row)
    columns = _order(df[col], col_order, col)
    config_cols = [
        c
        for c in df.columns
        if c not in {row, col, by, value, *_STAT_COLUMNS}
        and df[c].dtype.kind in "OUSbifu"
        and not c.startswith(("mean", "median", "min", "max", "count"))
    ]
    finite = df[value][np.isfinite(df[value])]
    lo = float(finite.min()) if vmin is None and len(finite) else (vmin if vmin is not None else 0)
    hi = float(finite.max()) if vmax is None and len(finite) else (vmax if vmax is not None else 1)
    if hi <= lo:
        lo, hi = lo - 0.05, hi + 0.05
    n = len(panels)
    fig, axes = _figure(1, n, (0.95 * len(columns) * n + 1.4 + 0.9 * n, 0.6 * len(rows) + 1.5))
    image = None
    cmap = mpl.colormaps["cividis"]
    norm = mpl.colors.Normalize(lo, hi)
    for a, panel in zip(axes[0], panels, strict=True):
        part = df if panel is None else df[df[by] == panel]
        # columns that differ inside a cell: the cell shows the best of their values
        cells = part.groupby([row, col], sort=False)
        varied = [c for c in config_cols if cells[c].nunique(dropna=False).max() > 1]
        part = part.sort_values(value, ascending=False, na_position="last")
        part = part.drop_duplicates([row, col], keep="first")
        grid = np.full((len(rows), len(columns)), np.nan)
        for _, rec in part.iterrows():
            if rec[row] in rows and rec[col] in columns:
                grid[rows.index(rec[row]), columns.index(rec[col])] = rec[value]
        image = a.imshow(grid, cmap=cmap, norm=norm, aspect="auto")
        half = _half_width(part)
        has_marks = "best" in part.columns
        best_mask = (
            part["best"].fillna(False).astype(bool).to_numpy()
            if has_marks
            else (part[value] == part[value].max()).to_numpy()
        )
        tied_mask = (
            part["tied"].fillna(False).astype(bool).to_numpy()
            if "tied" in part.columns
            else np.zeros(len(part), bool)
        )
        for k, (_, rec) in enumerate(part.iterrows()):
            if rec[row] not in rows or rec[col] not in columns:
                continue
            i, j = rows.index(rec[row]), columns.index(rec[col])
            v = rec[value]
            text = "n/a" if not np.isfinite(v) else f"{v:.2f}"
            if half is not None and np.isfinite(half[k]) and np.isfinite(v):
                text += f"\n±{half[k]:.2f}"
            mark = "★" if best_mask[k] else ("=" if tied_mask[k] else "")
            if mark:
                text = f"{mark} {text}"
            shade = norm(v) if np.isfinite(v) else 0
            a.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7.5,
                color="black" if shade > 0.55 else "white",
                fontweight="bold" if best_mask[k] else "normal",
            )
        a.set_xticks(range(len(columns)), [str(c) for c in columns], rotation=30, ha="right")
        a.set_yticks(range(len(rows)), [str(r) for r in rows])
        a.set_xlabel(col)
        a.tick_params(length=0)
        for s in a.spines.values():
            s.set_visible(False)
        t = "" if panel is None else f"{by} = {panel}"
        if varied:
            t += ("\n" if t else "") + f"best over {', '.join(varied)}"
        a.set_title(t, fontsize=9)
    axes[0, 0].set_ylabel(row)
    fig.colorbar(image, ax=list(axes[0]), shrink=0.85, label=value)
    fig.suptitle(f"{title}  (★ best, = tied with the best)")
    return fig

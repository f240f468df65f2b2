"""Figures of studies: accuracy heatmaps with confidence intervals and best/tied marks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._inputs import _check_columns, _order
from ._style import FONT, OKABE_ITO, PAGE_WIDTH, _cells, _figure, _panel_grid, _styled

__all__ = ["accuracy_heatmap", "metric_curve"]


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
    by_order: Sequence[str] | None = None,
    width: float | None = None,
) -> Figure:
    """Heatmaps of mean validation accuracy (initializer × activation), one per optimizer.

    Each cell is annotated with ``mean ± half-width`` of its confidence
    interval (``ci_low``/``ci_high``, else ``std``); ``★`` marks the best
    configuration and ``≈`` those statistically tied with it (columns
    ``best`` and ``tied``; without them the best cell of each panel is starred);
    a configuration of one seed reads ``n = 1`` (no test, no mark).

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
    row_order, col_order, by_order : sequences, optional
        The order of rows, columns and panels (default: first appearance).
    vmin, vmax : float, optional
        Colour limits (default: the data's range).
    title : str
    width : float, optional
        At most this wide, in inches (default :data:`PAGE_WIDTH`): cells narrow to fit.

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
    panels = _order(df[by], by_order, by) if by else [None]
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
    label_room = 0.3 + 0.085 * max(len(str(r)) for r in rows)  # row labels, in inches
    room = (width or PAGE_WIDTH) - label_room - 1.2 - 0.25 * (n - 1)
    cell = min(1.15, max(0.62, room / (len(columns) * n)))
    size = (cell * len(columns) * n + label_room + 1.2 + 0.25 * (n - 1), 0.55 * len(rows) + 2.1)
    fig, axes = _figure(1, n, size)
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
            one = "n" in part.columns and part["n"].to_numpy()[k] < 2
            if one:
                text += "\nn = 1"
            elif half is not None and np.isfinite(half[k]) and np.isfinite(v):
                text += f"\n±{half[k]:.2f}"
            mark = "★" if best_mask[k] and not one else ("≈" if tied_mask[k] else "")
            if mark:
                text = f"{mark} {text}"
            shade = norm(v) if np.isfinite(v) else 0
            a.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=FONT,
                color="black" if shade > 0.55 else "white",
                fontweight="bold" if best_mask[k] else "normal",
            )
        a.set_xticks(range(len(columns)), [str(c) for c in columns], rotation=30, ha="right")
        a.set_yticks(range(len(rows)), [str(r) for r in rows])
        a.set_xlabel(col.strip())
        a.tick_params(length=0)
        for s in a.spines.values():
            s.set_visible(False)
        t = "" if panel is None else f"{by.strip()} {panel}"
        if varied:
            t += ("\n" if t else "") + f"best over {', '.join(varied)}"
        a.set_title(t)
    axes[0, 0].set_ylabel(row.strip())
    fig.colorbar(image, ax=list(axes[0]), shrink=0.85, label=value)
    fig.suptitle(f"{title}  (★ best, ≈ tied with the best)")
    return fig


@_styled
def metric_curve(
    summary: pd.DataFrame,
    x: str,
    line: str,
    col: str | None = None,
    row: str | None = None,
    x_order: Sequence | None = None,
    orders: Mapping[str, Sequence] | None = None,
    metric: str = "val_acc",
    width: float | None = None,
) -> Figure:
    """Mean metric against a swept setting (the learning rate): one line per compared level.

    Each point is one configuration's mean over seeds with its confidence interval
    (``ci_low`` to ``ci_high``) as an error bar; ★ marks the best of its comparison
    group (column ``best``).  A setting spanning a factor of ten or more gets a log axis.

    Parameters
    ----------
    summary : DataFrame
        One row per configuration: ``x``, ``line`` (and ``col``, ``row``) columns,
        ``mean``, optionally ``ci_low``, ``ci_high`` and ``best``.
    x : str
        The numeric setting of the x-axis.
    line, col, row : str
        Columns whose values are the lines, the panel columns and the panel rows.
    x_order, orders : the x values, and each column's values, in order.
    metric : str
        What ``mean`` is (the axis label).
    width : float, optional
        Figure width in inches (default :data:`PAGE_WIDTH`).

    Returns
    -------
    Figure
    """
    _check_columns(summary, [x, line, "mean", *(c for c in (col, row) if c)], "summary")
    orders = dict(orders or {})
    cols = _order(summary[col], orders.get(col), col) if col else [None]
    rows = _order(summary[row], orders.get(row), row) if row else [None]
    lines = _order(summary[line], orders.get(line), line)
    xs = [float(v) for v in (x_order or sorted(set(summary[x].astype(float))))]
    logx = min(xs) > 0 and max(xs) / min(xs) >= 10
    total = width or PAGE_WIDTH
    pw = (total - 1.0 - 2.3 - 0.3 * (len(cols) - 1)) / len(cols)
    fig, axes = _panel_grid(
        len(rows),
        len(cols),
        panel=(pw, min(2.8, 0.85 * pw + 0.3)),
        margins=(1.0, 2.3, 0.8, 0.75),
        space=(0.3, 0.8),
        sharey=True,
    )
    colors = {v: OKABE_ITO[i % 8] for i, v in enumerate(lines)}
    for i, j, r, c, part in _cells(summary, row, rows, col, cols):
        a = axes[i, j]
        for v in lines:
            g = part[part[line] == v].sort_values(x, key=lambda s: s.astype(float))
            if g.empty:
                continue
            xv, m = g[x].astype(float).to_numpy(), g["mean"].astype(float).to_numpy()
            err = None
            if {"ci_low", "ci_high"} <= set(g.columns):
                err = np.vstack([m - g["ci_low"].to_numpy(float), g["ci_high"].to_numpy(float) - m])
                err = np.where(np.isfinite(err), np.maximum(err, 0), 0)
            a.errorbar(xv, m, yerr=err, color=colors[v], marker="o", ms=4, lw=1.4, capsize=2,
                       label=str(v))  # fmt: skip
            if "best" in g.columns:
                hit = g["best"].fillna(False).astype(bool).to_numpy()
                a.plot(xv[hit], m[hit], "*", color=colors[v], ms=16, mec="k", mew=0.6)
        if logx:
            a.set_xscale("log")
        a.set_xticks(xs, [f"{v:g}" for v in xs])
        a.minorticks_off()
        head = " · ".join(f"{k.strip()} {val}" for k, val in ((col, c), (row, r)) if k and val)
        a.set_title(head, y=1.0)
        if i == len(rows) - 1:
            a.set_xlabel(x)
        if j == 0:
            a.set_ylabel(f"mean {metric}")
    handles = [mpl.lines.Line2D([], [], color=colors[v], marker="o", label=str(v)) for v in lines]
    handles.append(
        mpl.lines.Line2D([], [], ls="", marker="*", ms=14, mfc="w", mec="k", label="★ best")
    )
    top = 1 - 0.75 / fig.get_figheight()
    fig.legend(handles=handles, title=line.strip(), loc="upper right", bbox_to_anchor=(1, top))
    fig.suptitle(f"mean {metric} against {x}: one line per {line.strip()}, bars the 95% CI",
                 y=1 - 0.06 / fig.get_figheight(), va="top")  # fmt: skip
    return fig

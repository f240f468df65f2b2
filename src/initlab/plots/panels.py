"""Small multiples from tidy tables: a figure described as panels of curves and histograms.

A figure is a list of :class:`Panel`; each panel draws :class:`Lines` (curves
of one column against another, one per group, in the vocabulary of seaborn's
``lineplot``: ``hue`` picks the colour, ``style`` the line style, ``units``
draws one thin line per unit with their median thick) and :class:`Hist`
(histograms of samples).  :func:`panels` lays them out side by side in the
shared style; the experiments' figures are written this way, so each paper
says *what* it shows and this module alone says *how*.

Examples
--------
>>> import pandas as pd
>>> from initlab import plots
>>> df = pd.DataFrame({"layer": [1, 2, 3] * 2, "var": [1, 0.5, 0.25, 1, 1, 1],
...                    "init": ["xavier"] * 3 + ["he"] * 3})
>>> fig = plots.panels(
...     [plots.Panel("variance per layer", [plots.Lines(df, "layer", "var", hue="init")],
...                  logy=True, hlines=(1,))],
...     title="two initializations")
>>> len(fig.axes), len(fig.axes[0].lines)
(1, 3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ._inputs import _check_columns
from ._style import _LINESTYLES, OKABE_ITO, _figure, _styled

__all__ = ["Lines", "Hist", "Panel", "panels"]


@dataclass(frozen=True)
class Lines:
    """Curves of ``y`` against ``x``, one per group of rows.

    Parameters
    ----------
    data : DataFrame
        Tidy: one row per point.
    x, y : str
        Columns.
    hue : str, optional
        Column whose values get the palette's colours, in order of first
        appearance (the same value has the same colour in every layer of a panel).
    style : str, optional
        Column whose values get line styles (solid, dashed, dotted, dash-dot).
    units : str, optional
        Column naming repeated measurements (models, seeds): each unit is a thin
        line and the median over units at each ``x`` a thick one.
    yerr : str, optional
        Column of error-bar half-widths.
    marker, ls : str, optional
        Marker and line style for every curve (``ls=""``: points only).
    color : str, optional
        One colour for every curve instead of ``hue``'s.
    cmap : str, optional
        A colormap name: ``hue``'s values, sorted, are spread along it
        (for ordered values such as layers) instead of the palette's colours.
    label : str, optional
        Legend text, a format string over the ``hue`` and ``style`` columns
        (``"{depth} layers, {init}"``); by default their values.  ``""``: none.
    size : float
        Marker size.
    """

    data: pd.DataFrame
    x: str
    y: str
    hue: str | None = None
    style: str | None = None
    units: str | None = None
    yerr: str | None = None
    marker: str | None = None
    ls: str | None = None
    color: str | None = None
    cmap: str | None = None
    label: str | None = None
    size: float = 4.0


@dataclass(frozen=True)
class Hist:
    """Step histograms (densities), one per entry of ``values``: ``{label: samples}``."""

    values: Mapping[str, np.ndarray]
    bins: int = 50


@dataclass(frozen=True)
class Panel:
    """One panel: a title, what it draws and how its axes look.

    ``hlines`` are thin reference lines at these ``y``; ``diagonal`` draws
    ``y = x`` over the data's range; ``xlim``/``ylim`` fix the limits.
    """

    title: str
    layers: Sequence[Lines | Hist]
    xlabel: str = ""
    ylabel: str = ""
    logx: bool = False
    logy: bool = False
    hlines: Sequence[float] = ()
    diagonal: bool = False
    xlim: tuple[float, float] | None = None
    ylim: tuple[float, float] | None = None
    legend_title: str | None = None
    legend: Mapping[str, Any] = field(default_factory=dict)


def _palette(layers: Sequence[Lines | Hist]) -> dict[Any, str]:
    """One colour per ``hue`` value over all the curves of a panel."""
    values: list = []
    ordered: dict = {}
    for layer in layers:
        if isinstance(layer, Lines) and layer.hue is not None:
            if layer.cmap is None:
                values += list(dict.fromkeys(layer.data[layer.hue]))
            else:
                ramp = sorted(set(layer.data[layer.hue]))
                cmap = mpl.colormaps[layer.cmap]
                ordered.update({v: cmap(i / max(len(ramp) - 1, 1)) for i, v in enumerate(ramp)})
    colors = {v: OKABE_ITO[i % len(OKABE_ITO)] for i, v in enumerate(dict.fromkeys(values))}
    return {**colors, **ordered}


def _groups(layer: Lines) -> list[tuple[dict, pd.DataFrame]]:
    keys = [k for k in (layer.hue, layer.style) if k is not None]
    if not keys:
        return [({}, layer.data)]
    return [
        (dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True)), g)
        for key, g in layer.data.groupby(keys, sort=False)
    ]


def _label(layer: Lines, key: dict) -> str | None:
    if layer.label is not None:
        return layer.label.format(**key) or None
    return ", ".join(map(str, key.values())) or None


def _draw_lines(ax, layer: Lines, colors: dict) -> None:
    cols = [layer.x, layer.y, *(c for c in (layer.hue, layer.style, layer.units, layer.yerr) if c)]
    _check_columns(layer.data, cols, "Lines data")
    styles = {}
    if layer.style is not None:
        values = dict.fromkeys(layer.data[layer.style])
        styles = {v: _LINESTYLES[i % len(_LINESTYLES)] for i, v in enumerate(values)}
    for key, g in _groups(layer):
        color = layer.color or colors.get(key.get(layer.hue), OKABE_ITO[3])
        ls = layer.ls if layer.ls is not None else styles.get(key.get(layer.style), "-")
        kw = dict(color=color, ls=ls, marker=layer.marker, ms=layer.size, label=_label(layer, key))
        if layer.units is not None:
            for _, unit in g.groupby(layer.units, sort=False):
                ax.plot(unit[layer.x], unit[layer.y], color=color, ls=ls, lw=0.5, alpha=0.5)
            median = g.groupby(layer.x, sort=True)[layer.y].median()
            ax.plot(median.index, median.to_numpy(), lw=2, **kw)
        elif layer.yerr is not None:
            ax.errorbar(g[layer.x], g[layer.y], yerr=g[layer.yerr], capsize=2, **kw)
        else:
            ax.plot(g[layer.x], g[layer.y], **kw)


def _draw_hist(ax, layer: Hist) -> None:
    for i, (label, values) in enumerate(layer.values.items()):
        v = np.asarray(values, dtype=float).ravel()
        v = v[np.isfinite(v)]
        color = OKABE_ITO[(3 + i) % len(OKABE_ITO)]
        ax.hist(v, bins=layer.bins, histtype="step", density=True, color=color, label=label)


def _finish(ax, panel: Panel) -> None:
    """Scales, reference lines, labels, title and legend of one panel."""
    if panel.logx:
        ax.set_xscale("log")
    if panel.logy:
        ax.set_yscale("log")
    for y in panel.hlines:
        ax.axhline(y, color="0.3", lw=0.6, ls=":")
    if panel.diagonal:
        lo, hi = ax.get_xlim()
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8, ls=":")
    if panel.xlim is not None:
        ax.set_xlim(*panel.xlim)
    if panel.ylim is not None:
        ax.set_ylim(*panel.ylim)
    ax.set_xlabel(panel.xlabel)
    ax.set_ylabel(panel.ylabel)
    ax.set_title(panel.title, fontsize=9)
    if ax.get_legend_handles_labels()[1]:
        ax.legend(title=panel.legend_title, **{"fontsize": 7, **panel.legend})


@_styled
def panels(
    panels: Sequence[Panel], title: str = "", panel_size: tuple[float, float] = (3.6, 3.0)
) -> Figure:
    """A figure of ``panels`` side by side, in the shared style.

    Parameters
    ----------
    panels : sequence of Panel
    title : str
        The figure's title.
    panel_size : (width, height)
        Inches per panel.

    Returns
    -------
    Figure
        One axes per panel, in order.
    """
    panels = list(panels)
    if not panels or not all(isinstance(p, Panel) for p in panels):
        raise TypeError("panels must be a non-empty sequence of plots.Panel")
    fig, axes = _figure(1, len(panels), (panel_size[0] * len(panels), panel_size[1]))
    for ax, panel in zip(axes[0], panels, strict=True):
        colors = _palette(panel.layers)
        for layer in panel.layers:
            if isinstance(layer, Lines):
                _draw_lines(ax, layer, colors)
            elif isinstance(layer, Hist):
                _draw_hist(ax, layer)
            else:
                raise TypeError(f"a panel draws Lines or Hist, got {type(layer).__name__}")
        _finish(ax, panel)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig

"""The one style of every initlab figure: rc settings, colours, figures and panel grids.

Figures are built with :class:`matplotlib.figure.Figure`, never through
``pyplot``; :func:`_styled` draws a function's figure inside :data:`STYLE`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Colormap, LinearSegmentedColormap, ListedColormap
from matplotlib.figure import Figure

from ..errors import ConfigError

#: The blog's colormap, reproduced on purpose: ``LinearSegmentedColormap.from_list``
#: over red, yellow, green.  Not colour-blind safe; use it for the blog's figures only.
BLOG_CMAP = LinearSegmentedColormap.from_list("blog", ["red", "yellow", "green"])


#: Okabe & Ito's (2008) eight colours, distinguishable with every common colour-vision
#: deficiency; black moved last and the pale yellow late, where few plots reach them.
OKABE_ITO = (
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#009E73",  # bluish green
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)


#: The smallest text of a figure, in points: 11 pt at :data:`DPI` is 15 px, the body
#: text of the report, so a figure shown at its natural size reads like the page.
FONT = 11

#: Pixels per inch of the figures as the report embeds them (and of ``savefig``).
DPI = 100

#: Width of the report's text column in inches at :data:`DPI` (1136 px): a figure this
#: wide fills the page without being scaled (and its text keeps its size).
PAGE_WIDTH = 11.36

#: rc settings every figure of this module is drawn with.
STYLE = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "font.size": FONT,
    "axes.titlesize": FONT + 1,
    "axes.labelsize": FONT,
    "xtick.labelsize": FONT,
    "ytick.labelsize": FONT,
    "legend.fontsize": FONT,
    "legend.title_fontsize": FONT,
    "figure.titlesize": FONT + 2,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "image.cmap": "cividis",
}


_LINESTYLES = ("-", "--", ":", "-.")


def _styled(func: Callable) -> Callable:
    """Draw ``func``'s figure inside :data:`STYLE`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def _figure(nrows: int = 1, ncols: int = 1, size: tuple[float, float] | None = None, **kw):
    """A new figure and a 2-D array of axes (never through pyplot)."""
    if size is None:
        size = (3.2 * ncols, 2.8 * nrows)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _panel_grid(
    nrows: int,
    ncols: int,
    panel: tuple[float, float],
    margins: tuple[float, float, float, float],
    space: tuple[float, float],
    **kw,
):
    """A figure of equal panels with fixed margins, all sizes in inches (never through pyplot).

    A layout engine measures every tick label of every panel, twice, at each
    draw: about half the drawing time of a many-panel figure.  A regular grid
    of small panels does not need it.

    Parameters
    ----------
    nrows, ncols : int
    panel : (width, height)
        Size of one panel.
    margins : (left, right, bottom, top)
        Room around the grid for labels and titles.
    space : (wspace, hspace)
        Room between panels.
    **kw
        Passed to :meth:`Figure.subplots` (``sharex``, ``sharey``).

    Returns
    -------
    fig, axes
        ``axes`` is a 2-D array.
    """
    (pw, ph), (left, right, bottom, top), (ws, hs) = panel, margins, space
    width = left + right + ncols * pw + (ncols - 1) * ws
    height = bottom + top + nrows * ph + (nrows - 1) * hs
    fig = Figure(figsize=(width, height))
    gridspec = dict(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=ws / pw,  # as fractions of a panel's size
        hspace=hs / ph,
    )
    axes = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw=gridspec, **kw)
    return fig, axes


def _cells(df, row: str | None, rows, col: str | None, cols):
    """The cells of a grid of small multiples: ``(i, j, row value, col value, df rows)``."""
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            part = df
            if row:
                part = part[part[row] == r]
            if col:
                part = part[part[col] == c]
            yield i, j, r, c, part


def _suptitle(fig, text: str, **kw):
    """A figure title 0.06 inch below the top edge (for figures without a layout engine)."""
    return fig.suptitle(text, y=1 - 0.06 / fig.get_figheight(), va="top", **kw)


def _panel_title(ax, text: str, **kw):
    """An axes title at a fixed height.

    Giving ``y`` stops matplotlib from measuring every tick label of the axes
    at each draw to lift an automatic title clear of top ticks (which these
    figures never have): a third of the drawing time of a grid of small panels.
    """
    return ax.set_title(text, y=1.0, **kw)


def _single_axes(ax, size=(5.0, 3.6)):
    if ax is None:
        fig, axes = _figure(1, 1, size)
        return fig, axes[0, 0]
    if not hasattr(ax, "figure") or not hasattr(ax, "plot"):
        raise TypeError(f"ax must be a matplotlib Axes or None, got {type(ax).__name__}")
    return ax.figure, ax


def class_cmap(cmap: str | Colormap | None, n_classes: int) -> Colormap:
    """The colormap for ``n_classes`` classes.

    Parameters
    ----------
    cmap : None, "blog", a matplotlib colormap name, or a Colormap
        None gives :data:`OKABE_ITO` (colour-blind safe; ``tab20`` beyond 8
        classes), ``"blog"`` the blog's red-yellow-green :data:`BLOG_CMAP`.
    n_classes : int
    """
    if isinstance(cmap, Colormap):
        return cmap
    if cmap is None:
        if n_classes <= len(OKABE_ITO):
            return ListedColormap(list(OKABE_ITO[:n_classes]), name="okabe_ito")
        return mpl.colormaps["tab20"].resampled(n_classes)
    if isinstance(cmap, str):
        if cmap.lower() == "blog":
            return BLOG_CMAP
        try:
            return mpl.colormaps[cmap]
        except KeyError:
            import difflib

            close = difflib.get_close_matches(cmap, list(mpl.colormaps), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            raise ConfigError(
                f"unknown colormap {cmap!r}{hint} Use None (Okabe-Ito), 'blog' or a "
                "matplotlib colormap name"
            ) from None
    raise TypeError(f"cmap must be None, a name or a Colormap, got {type(cmap).__name__}")


def _color_norm(n_classes: int, cmap: Colormap):
    """Map class codes 0..K-1 to K equal bins spread over all of ``cmap``'s colours."""
    return mpl.colors.BoundaryNorm(np.arange(-0.5, n_classes + 0.5), cmap.N)


def _metric_label(metric: str) -> str:
    split, _, kind = metric.partition("_")
    split = {"train": "training", "val": "validation"}.get(split, split)
    kind = {"loss": "loss", "acc": "accuracy"}.get(kind, kind)
    return f"{split} {kind}".strip()

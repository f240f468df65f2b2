"""Figures for the blog's plots and beyond: each function returns a matplotlib ``Figure``.

From the blog post:

* :func:`dataset` -- the data as a scatter in the blog's red-yellow-green
  colormap (the 4-class and the mod-2 views);
* :func:`loss_curve` -- training and validation loss per epoch for one run;
  :func:`loss_band` -- the mean over seeds with a confidence band, for a study;
* :func:`mistakes` -- each point sized by how wrong its prediction is
  (``s = 15 * (|sign(pred - true)| + 0.1)``), coloured by prediction;
* :func:`update_grid` -- one small panel per parameter with its update
  ``W(t+1) - W(t)`` per epoch (the 18 panels of the [2, 2, 4] network).

Beyond the blog:

* :func:`boundary_grid` -- decision boundaries as small multiples (rows
  initializers, columns activations);
* :func:`accuracy_heatmap` -- mean validation accuracy per initializer and
  activation, one panel per optimizer, annotated with mean ± CI and the
  best/tied marks;
* :func:`layer_histograms` -- per-layer histograms of activations and
  back-propagated gradients at initialization and after training (Glorot &
  Bengio 2010, figures 3-7); :func:`variance_curves` -- per-layer variances;
* :func:`animate_training` -- a GIF of the decision boundary and the loss
  during training, shown inline in notebooks.

Figures are built with :class:`matplotlib.figure.Figure`, never through
``pyplot``: nothing is shown, nothing is registered globally, and the module
works with any backend (Agg included).  In a notebook, a returned figure
displays itself (run ``%matplotlib inline`` first).  Palettes are
colour-blind safe (Okabe & Ito 2008, ``cividis``) except where the blog's
colormap is reproduced on purpose (``cmap="blog"``).
"""

from __future__ import annotations

import base64
import functools
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import Colormap, LinearSegmentedColormap, ListedColormap
from matplotlib.figure import Figure

from .datasets import Dataset

__all__ = [
    "BLOG_CMAP",
    "OKABE_ITO",
    "STYLE",
    "TrainingAnimation",
    "accuracy_heatmap",
    "animate_training",
    "boundary_grid",
    "class_cmap",
    "dataset",
    "layer_histograms",
    "loss_band",
    "loss_curve",
    "mistakes",
    "update_grid",
    "variance_curves",
]

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

#: rc settings every figure of this module is drawn with.
STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "axes.prop_cycle": mpl.cycler(color=list(OKABE_ITO)),
    "image.cmap": "cividis",
}

_LINESTYLES = ("-", "--", ":", "-.")

#: Columns of a summary that are statistics, not configuration.
_STAT_COLUMNS = (
    "mean", "std", "sem", "ci_low", "ci_high", "n", "rank", "best", "tied", "block",
    "p_value", "diverged", "median", "min", "max", "count",
)  # fmt: skip


def _styled(func: Callable) -> Callable:
    """Draw ``func``'s figure inside :data:`STYLE`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- helpers


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


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value.lower()


def _check_columns(df: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing}; it has: {', '.join(map(str, df.columns))}"
        )
    if df.empty:
        raise ValueError(f"{what} is empty: nothing to plot")
    return df


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _order(values: pd.Series | Sequence, order: Sequence | None, what: str) -> list:
    """Distinct values in first-appearance order, or ``order`` checked against them."""
    seen = list(dict.fromkeys(values))
    if order is None:
        return seen
    unknown = [v for v in order if v not in seen]
    if unknown:
        raise ValueError(
            f"{what} order names {unknown}, which the data lacks; "
            f"it has: {', '.join(map(str, seen))}"
        )
    return list(order)


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
            raise ValueError(
                f"unknown colormap {cmap!r}{hint} Use None (Okabe-Ito), 'blog' or a "
                "matplotlib colormap name"
            ) from None
    raise TypeError(f"cmap must be None, a name or a Colormap, got {type(cmap).__name__}")


def _color_norm(n_classes: int, cmap: Colormap):
    """Map class codes 0..K-1 to K equal bins spread over all of ``cmap``'s colours."""
    return mpl.colors.BoundaryNorm(np.arange(-0.5, n_classes + 0.5), cmap.N)


def _is_fitted(net) -> bool:
    return hasattr(net, "coefs_")


def _check_net(net, what: str = "net"):
    from .network import FFNetwork

    if not isinstance(net, FFNetwork):
        raise TypeError(f"{what} must be an initlab FFNetwork, got {type(net).__name__}")
    if not _is_fitted(net):
        raise ValueError(f"{what} is not fitted yet; call {what}.fit(X, y) first")
    return net


def _net_title(net) -> str:
    return f"{net.activation} + {net.init}"


def _xy(data, X=None, y=None, split: str = "train"):
    """``(X, y)`` from a Dataset (by split) or from arrays."""
    if isinstance(data, Dataset):
        split = _choice("split", split, ("train", "val", "both"))
        if split == "train":
            return np.asarray(data.X_train), np.asarray(data.y_train)
        if split == "val":
            return np.asarray(data.X_val), np.asarray(data.y_val)
        return np.asarray(data.X), np.asarray(data.y)
    Xa = np.asarray(data if X is None else X)
    if Xa.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {Xa.shape}")
    ya = np.asarray(y)
    if ya.shape != (len(Xa),):
        raise ValueError(f"y must have one label per row of X ({len(Xa)}), got shape {ya.shape}")
    return Xa, ya


def _check_2d(X: np.ndarray, what: str) -> None:
    if X.shape[1] != 2:
        raise ValueError(
            f"{what} needs 2 input features to draw a plane, got {X.shape[1]}; "
            "use a 2-D data set (blog, blobs, moons, circles, xor, spiral, gauss)"
        )


def _mesh(X: np.ndarray, resolution: int, margin: float = 0.08):
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = (hi - lo) * margin + 1e-9
    xs = np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution)
    ys = np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return gx, gy, np.column_stack([gx.ravel(), gy.ravel()])


def _codes(proba: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Predicted class codes from probabilities ``(N, K)`` (or one sigmoid unit), reshaped."""
    if proba.shape[1] == 1:
        codes = (proba[:, 0] > 0.5).astype(int)
    else:
        codes = np.argmax(proba, axis=1)
    return codes.reshape(shape)


def _boundary(ax, net, X_grid, gx, gy, cmap, n_classes, proba=None):
    """Predicted-class regions of ``net`` (or of given probabilities) as an image."""
    if proba is None:
        proba = net.predict_proba(X_grid)
    # an image, not contourf: as sharp at this resolution and several times faster
    return ax.imshow(
        _codes(proba, gx.shape),
        extent=(gx[0, 0], gx[0, -1], gy[0, 0], gy[-1, 0]),
        origin="lower",
        interpolation="nearest",
        aspect="auto",
        cmap=cmap,
        norm=_color_norm(n_classes, cmap),
        alpha=0.35,
    )


def _metric_label(metric: str) -> str:
    split, _, kind = metric.partition("_")
    split = {"train": "training", "val": "validation"}.get(split, split)
    kind = {"loss": "loss", "acc": "accuracy"}.get(kind, kind)
    return f"{split} {kind}".strip()


# --------------------------------------------------------------------------- the data


@_styled
def dataset(
    data: Dataset | np.ndarray,
    y: np.ndarray | None = None,
    labels: str = "4class",
    split: str = "both",
    cmap: str | Colormap | None = "blog",
    ax=None,
) -> Figure:
    """The data set as a scatter, coloured by class (the blog's first figures).

    Parameters
    ----------
    data : Dataset or array (n_samples, 2)
        A :class:`~initlab.datasets.Dataset`, or features ``X`` with ``y``.
    y : array, optional
        Labels when ``data`` is an array.
    labels : {"4class", "mod2", "both"}
        ``"4class"`` colours by the original classes (any number of them),
        ``"mod2"`` by ``class % 2``, the blog's binary, non-linearly separable
        relabelling of its four blobs; ``"both"`` draws the two side by side.
    split : {"both", "train", "val"}
        Which part of a Dataset to draw; with ``"both"`` training points are
        circles and validation points triangles.
    cmap : "blog", None or a colormap
        The blog's red-yellow-green by default; None for Okabe-Ito.
    ax : Axes, optional
        Draw into this axes (not with ``labels="both"``).

    Returns
    -------
    Figure

    Examples
    --------
    >>> from initlab import datasets, plots
    >>> fig = plots.dataset(datasets.load("blog"), labels="both")
    >>> len(fig.axes)
    2
    """
    labels = _choice("labels", labels, ("4class", "mod2", "both", "classes"))
    if labels == "both":
        if ax is not None:
            raise ValueError("labels='both' draws two panels; it cannot draw into one ax")
        fig, axes = _figure(1, 2, (8.4, 3.8))
        for a, view in zip(axes[0], ("4class", "mod2"), strict=True):
            dataset(data, y, labels=view, split=split, cmap=cmap, ax=a)
        return fig
    fig, ax = _single_axes(ax, (4.6, 3.8))
    if isinstance(data, Dataset):
        parts = {"train": (data.X_train, data.y_train), "val": (data.X_val, data.y_val)}
        split = _choice("split", split, ("both", "train", "val"))
        if split != "both":
            parts = {split: parts[split]}
        classes = np.asarray(data.classes)
        name = data.name
    else:
        X, yy = _xy(data, y=y)
        classes, codes = np.unique(yy, return_inverse=True)
        parts = {"data": (X, codes)}
        name = "data"
    _check_2d(next(iter(parts.values()))[0], "dataset()")
    if labels == "mod2":
        if classes.dtype.kind not in "iu":
            raise ValueError(
                f"labels='mod2' needs integer class labels, got {classes.dtype} labels "
                f"{classes[:4].tolist()}"
            )
        parts = {k: (X, classes[c] % 2) for k, (X, c) in parts.items()}
        shown = np.array([0, 1])
    else:
        shown = classes
    K = len(shown)
    colormap = class_cmap(cmap, K)
    norm = _color_norm(K, colormap)
    markers = {"train": "o", "val": "^", "data": "o"}
    for part, (X, codes) in parts.items():
        ax.scatter(
            X[:, 0],
            X[:, 1],
            c=codes,
            cmap=colormap,
            norm=norm,
            s=14 if part != "val" else 18,
            marker=markers[part],
            edgecolors="k" if part == "val" else "none",
            linewidths=0.4,
            label=part if len(parts) > 1 else None,
        )
    handles = [
        mpl.lines.Line2D(
            [], [], marker="o", ls="", color=colormap(norm(k)), label=str(shown[k]), markersize=5
        )
        for k in range(K)
    ]
    leg = ax.legend(handles=handles, title="class", loc="best")
    if len(parts) > 1:
        ax.add_artist(leg)
        shapes = [
            mpl.lines.Line2D([], [], marker="o", ls="", color="0.4", label="train", markersize=5),
            mpl.lines.Line2D(
                [], [], marker="^", ls="", mfc="0.8", mec="k", label="validation", markersize=5
            ),
        ]
        ax.legend(handles=shapes, loc="lower right")
    view = "mod 2 (binary)" if labels == "mod2" else f"{K} classes"
    ax.set_title(f"{name}: {view}")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    return fig


# --------------------------------------------------------------------------- loss curves


def _history(obj, model: int) -> tuple[dict[str, np.ndarray], str]:
    """A ``{metric: (epochs + 1,)}`` history and a title from a net, result, dict or frame."""
    from .engine import TrainResult
    from .network import FFNetwork

    if isinstance(obj, FFNetwork):
        _check_net(obj)
        return {k: np.asarray(v, float) for k, v in obj.history_.items()}, _net_title(obj)
    if isinstance(obj, TrainResult):
        if not obj.history:
            raise ValueError("this TrainResult has no history; train with record=True")
        M = next(iter(obj.history.values())).shape[1]
        if not 0 <= model < M:
            raise ValueError(f"model must be in 0..{M - 1}, got {model}")
        return {k: np.asarray(v[:, model], float) for k, v in obj.history.items()}, ""
    if isinstance(obj, pd.DataFrame):
        df = obj.sort_values("epoch") if "epoch" in obj.columns else obj
        return {c: df[c].to_numpy(float) for c in df.columns if c != "epoch"}, ""
    if isinstance(obj, Mapping):
        return {k: np.asarray(v, float) for k, v in obj.items()}, ""
    raise TypeError(
        "loss_curve takes a fitted FFNetwork, a TrainResult, a history dict or a DataFrame, "
        f"got {type(obj).__name__}"
    )


@_styled
def loss_curve(
    net_or_history,
    metrics: Sequence[str] = ("train_loss", "val_loss"),
    model: int = 0,
    logy: bool = False,
    ax=None,
) -> Figure:
    """Loss (or accuracy) per epoch of one run; epoch 0 is the initial network.

    Parameters
    ----------
    net_or_history : FFNetwork, TrainResult, dict or DataFrame
        A fitted network (its ``history_``), an engine result (model
        ``model`` of the population), a dict of per-epoch arrays, or a frame
        with an ``epoch`` column and one column per metric.
    metrics : sequence of str
        Which curves; those missing (no validation data) are skipped.
    model : int
        Which model of a TrainResult's population.
    logy : bool
        Logarithmic loss axis.
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    history, title = _history(net_or_history, model)
    metrics = _as_list(metrics)
    present = [m for m in metrics if m in history]
    if not present:
        raise ValueError(
            f"none of the metrics {metrics} is in this history; it has: {', '.join(history)}"
        )
    fig, ax = _single_axes(ax)
    for i, m in enumerate(present):
        values = history[m]
        ax.plot(np.arange(len(values)), values, label=_metric_label(m), ls=_LINESTYLES[i % 4])
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy" if all(m.endswith("acc") for m in present) else "loss")
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.set_title(title or "loss per epoch")
    return fig


def _t_quantile(n: np.ndarray, level: float) -> np.ndarray:
    """Student t quantile for ``n`` samples (NaN below 2).

    ``scipy.special.stdtrit`` is ``scipy.stats.t.ppf`` without importing
    ``scipy.stats``, which alone takes about a second.
    """
    from scipy import special

    with np.errstate(invalid="ignore"):
        return np.where(n > 1, special.stdtrit(np.maximum(n - 1, 1), 0.5 + level / 2), np.nan)


@_styled
def loss_band(
    curves: pd.DataFrame,
    by: str | Sequence[str] = ("activation", "init"),
    metric: str = "val_loss",
    band: str = "ci",
    level: float = 0.95,
    runs: pd.DataFrame | None = None,
    facet: str | None = None,
    logy: bool | None = None,
    ax=None,
) -> Figure:
    """Mean curve over seeds, with a band, one line per configuration.

    Parameters
    ----------
    curves : DataFrame
        Long format, one row per run and epoch: ``epoch``, ``metric`` and
        either the ``by`` columns or a ``run_hash`` that ``runs`` maps to them.
    by : str or list of str
        Columns whose combinations are the lines (seeds are averaged over).
    metric : str
        ``val_loss``, ``train_loss``, ``val_acc``, ...
    band : {"ci", "std", "range", "none"}
        ``ci``: the ``level`` confidence interval of the mean (Student t over
        the seeds), ``std``: ± one standard deviation, ``range``: min to max.
    runs : DataFrame, optional
        One row per run with ``run_hash`` and the ``by`` (and ``facet``)
        columns, merged into ``curves``.
    facet : str, optional
        A column whose values get one panel each (e.g. ``"activation"``).
    logy : bool or None
        Logarithmic y axis; None (default): for losses, not for accuracies.
    ax : Axes, optional
        Only without ``facet``.

    Returns
    -------
    Figure

    Notes
    -----
    Diverged runs (inf or NaN loss) are left out of an epoch's mean; the
    legend gives each line's number of seeds ``n`` and how many diverged.
    """
    by = _as_list(by)
    band = _choice("band", band, ("ci", "std", "range", "none"))
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    df = curves
    need = ["epoch", metric]
    if runs is not None:
        _check_columns(curves, ["run_hash", *need], "curves")
        extra = [c for c in [*by, *([facet] if facet else [])] if c not in curves.columns]
        _check_columns(runs, ["run_hash", *extra], "runs")
        df = curves.merge(runs[["run_hash", *extra]].drop_duplicates("run_hash"), on="run_hash")
    _check_columns(df, [*need, *by, *([facet] if facet else [])], "curves")
    df = df.copy()
    df[metric] = df[metric].astype(float).where(np.isfinite(df[metric].astype(float)))
    run_key = "run_hash" if "run_hash" in df.columns else None
    values_all = df[metric].to_numpy()
    positive = values_all[np.isfinite(values_all) & (values_all > 0)]
    if logy is None:
        logy = metric.endswith("loss") and positive.size > 0
    # bands stay inside the metric's range: accuracies in [0, 1], losses above 0
    floor = 0.0 if not logy else (float(positive.min()) / 2 if positive.size else 1e-12)
    ceiling = 1.0 if metric.endswith("acc") else np.inf
    if facet is None:
        fig, ax = _single_axes(ax, (5.4, 3.8))
        panels = [(None, df, ax)]
    else:
        if ax is not None:
            raise ValueError("facet draws several panels; it cannot draw into one ax")
        values = _order(df[facet], None, facet)
        ncols = min(len(values), 4)
        nrows = math.ceil(len(values) / ncols)
        # fixed room for the tick labels and titles (see _panel_grid): the
        # y tick labels and the label sit left of the first column only
        fig, axes = _panel_grid(
            nrows,
            ncols,
            panel=(2.95, 2.2),
            margins=(0.8, 0.15, 0.5, 0.6),
            space=(0.2, 0.75),
            sharey=True,
        )
        for a in axes.flat[len(values) :]:
            a.set_visible(False)
        panels = [(v, df[df[facet] == v], a) for v, a in zip(values, axes.flat, strict=False)]
    groups = list(dict.fromkeys(map(tuple, df[by].to_numpy()))) if by else [()]
    styles = {g: (OKABE_ITO[i % 8], _LINESTYLES[(i // 8) % 4]) for i, g in enumerate(groups)}
    for value, part, a in panels:
        grouped = part.groupby(by, sort=False) if by else [((), part)]
        for key, g in grouped:
            key = key if isinstance(key, tuple) else (key,)
            stats = g.groupby("epoch")[metric].agg(["mean", "std", "count", "min", "max"])
            x, mean = stats.index.to_numpy(), stats["mean"].to_numpy()
            n_seeds = g[run_key].nunique() if run_key else int(stats["count"].max())
            if run_key:
                n_div = int(g.groupby(run_key)[metric].apply(lambda s: s.isna().any()).sum())
            else:
                n_div = int(stats["count"].max() - stats["count"].min())
            color, ls = styles[key]
            label = " / ".join(map(str, key)) or metric
            label += f" (n={n_seeds}" + (f", {n_div} diverged)" if n_div else ")")
            a.plot(x, mean, color=color, ls=ls, label=label, lw=1.4)
            if band == "ci":
                half = _t_quantile(stats["count"].to_numpy(), level) * stats["std"].to_numpy()
                half = half / np.sqrt(stats["count"].to_numpy())
                lo, hi = mean - half, mean + half
            elif band == "std":
                lo, hi = mean - stats["std"].to_numpy(), mean + stats["std"].to_numpy()
            elif band == "range":
                lo, hi = stats["min"].to_numpy(), stats["max"].to_numpy()
            if band != "none":
                lo, hi = np.clip(lo, floor, ceiling), np.clip(hi, floor, ceiling)
                a.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
        a.set_xlabel("epoch")
        if logy:
            a.set_yscale("log")
        if value is not None:
            _panel_title(a, f"{facet} = {value}")
    first = panels[0][2]
    first.set_ylabel(_metric_label(metric))
    band_text = {
        "ci": f"{level:.0%} CI of the mean",
        "std": "± 1 std",
        "range": "min–max",
        "none": "",
    }[band]
    if facet is None:
        first.set_title(
            f"{_metric_label(metric)}: mean over seeds" + (f", {band_text}" * bool(band_text))
        )
        first.legend(title=" / ".join(by) or None, loc="best")
    else:
        _suptitle(fig, f"{_metric_label(metric)}: mean over seeds, band {band_text}")
        first.legend(title=" / ".join(by) or None, loc="best")
    return fig


# --------------------------------------------------------------------------- the blog's checks


@_styled
def mistakes(
    net,
    X: np.ndarray | Dataset,
    y: np.ndarray | None = None,
    split: str = "train",
    cmap: str | Colormap | None = "blog",
    ax=None,
) -> Figure:
    """The blog's scatter of mistakes: small dots where right, large where wrong.

    Each point's area is ``s = 15 * (|sign(pred - true)| + 0.1)`` as in the
    blog: 1.5 where the prediction is right and 16.5 where it is wrong
    (generalized to any labels as ``15 * ((pred != true) + 0.1)``); colour is
    the predicted class.

    Parameters
    ----------
    net : FFNetwork
        Fitted.
    X : array (n_samples, 2) or Dataset
    y : array, optional
        True labels (not with a Dataset).
    split : {"train", "val", "both"}
        Which part of a Dataset.
    cmap : "blog", None or a colormap
    ax : Axes, optional

    Returns
    -------
    Figure
        The scatter is ``fig.axes[0].collections[0]`` (its ``get_sizes()`` are
        the areas above).
    """
    _check_net(net)
    X, y = _xy(X, y=y, split=split) if isinstance(X, Dataset) else _xy(X, y=y)
    _check_2d(X, "mistakes()")
    pred = net.predict(X)
    wrong = pred != y
    sizes = 15 * (wrong.astype(float) + 0.1)
    classes = np.asarray(net.classes_)
    codes = np.searchsorted(classes, pred)
    K = len(classes)
    fig, ax = _single_axes(ax, (4.6, 3.8))
    colormap = class_cmap(cmap, K)
    norm = _color_norm(K, colormap)
    ax.scatter(X[:, 0], X[:, 1], c=codes, s=sizes, cmap=colormap, norm=norm)
    ax.set_title(
        f"{_net_title(net)}: {int(wrong.sum())} of {len(y)} wrong (accuracy {1 - wrong.mean():.2f})"
    )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    handles = [
        mpl.lines.Line2D(
            [], [], marker="o", ls="", color=colormap(norm(k)), label=str(classes[k]), markersize=5
        )
        for k in range(K)
    ]
    ax.legend(handles=handles, title="predicted", loc="best")
    return fig


def _update_order(names: Sequence[str]) -> list[tuple[int, str, int]]:
    """``(layer, kind, index)`` per parameter, in the blog's order: weights then biases."""
    keys = []
    for i, name in enumerate(names):
        kind, layer = name[0], int(name[1 : name.index("[")])
        keys.append((0 if kind == "W" else 1, layer, i))
    keys.sort()
    return [(layer, "W" if k == 0 else "b", i) for k, layer, i in keys]


@_styled
def update_grid(
    net,
    max_panels_per_layer: int = 12,
    ncols: int | None = None,
    sharey: bool = True,
    random_state: int = 0,
) -> Figure:
    """One small panel per parameter: its update ``W(t+1) - W(t)`` at each epoch.

    The blog's grid: 18 panels for the [2, 2, 4] network, the 12 weights then
    the 6 biases in row-major order; a curve hugging zero is a parameter that
    does not learn (tanh or ReLU with zero initialization).  For larger
    networks a seeded random subset of at most ``max_panels_per_layer``
    parameters per layer is drawn, each panel labelled with its name
    (``"W2[3,1]"``: layer 2, input unit 3, output unit 1).

    Parameters
    ----------
    net : FFNetwork
        Fitted with ``record_params=True`` (``blog_network`` does).
    max_panels_per_layer : int
        Panels per layer (weights and biases together) before sampling.
    ncols : int, optional
        Grid width; 3 (the blog's) up to 18 panels, else 6.
    sharey : bool
        One symmetric y scale for every panel, so that panels compare: ± 1.3
        times the largest per-panel 95th percentile of the absolute updates
        (rare early spikes run off the panel rather than flatten the others).
    random_state : int
        Seed of the sampled subset.

    Returns
    -------
    Figure
    """
    _check_net(net)
    if getattr(net, "param_history_", None) is None:
        raise ValueError(
            "update_grid needs the parameter history: fit the network with record_params=True"
        )
    if isinstance(max_panels_per_layer, bool) or not isinstance(
        max_panels_per_layer, numbers.Integral
    ):
        raise ValueError(
            f"max_panels_per_layer must be an integer >= 1, got {max_panels_per_layer!r}"
        )
    if max_panels_per_layer < 1:
        raise ValueError(
            f"max_panels_per_layer must be an integer >= 1, got {max_panels_per_layer}"
        )
    history = np.asarray(net.param_history_, float)
    if history.shape[0] < 2:
        raise ValueError("update_grid needs at least one epoch of training")
    names = list(net.param_names_)
    order = _update_order(names)
    rng = np.random.default_rng(random_state)
    chosen: list[int] = []
    sampled = False
    for layer in sorted({lay for lay, _, _ in order}):
        idx = [i for lay, _, i in order if lay == layer]
        if len(idx) > max_panels_per_layer:
            sampled = True
            keep = set(rng.choice(idx, size=max_panels_per_layer, replace=False).tolist())
            idx = [i for i in idx if i in keep]
        chosen += idx
    # back to the blog's order (weights of every layer, then biases) after sampling
    rank = {i: r for r, (_, _, i) in enumerate(order)}
    chosen.sort(key=rank.__getitem__)
    updates = np.diff(history, axis=0)  # (epochs, P): update received at epoch t
    n = len(chosen)
    if ncols is None:
        ncols = 3 if n <= 18 else 6
    nrows = math.ceil(n / ncols)
    # fixed margins (see _panel_grid): many small panels lay out several times faster.
    # Not sharex/sharey: every limit change of a shared axis visits all its siblings
    # (quadratic in the panels); every panel gets the same limits and ticks instead.
    fig, axes = _panel_grid(
        nrows,
        ncols,
        panel=(1.73, 0.81),
        margins=(0.6, 0.1, 0.5, 0.5),
        space=(0.21 if sharey else 0.55, 0.37),  # unshared y: room for tick labels
    )
    epochs = np.arange(1, updates.shape[0] + 1)
    # a robust shared scale: the largest per-panel 95th percentile of |update|, so that
    # one early spike does not flatten every other panel (spikes run off the panel)
    sizes = np.abs(np.where(np.isfinite(updates[:, chosen]), updates[:, chosen], 0.0))
    lim = float(np.percentile(sizes, 95, axis=0).max()) * 1.3
    lim = lim if lim > 0 else 1.0
    pad = 0.05 * (epochs[-1] - epochs[0])  # matplotlib's default margin
    for k, (a, p) in enumerate(zip(axes.flat, chosen, strict=False)):
        color = OKABE_ITO[3] if names[p].startswith("W") else OKABE_ITO[4]
        a.axhline(0, color="0.75", lw=0.6)
        a.plot(epochs, updates[:, p], color=color, lw=1.0)
        _panel_title(a, names[p], fontsize=8, pad=2)
        a.set_xlim(epochs[0] - pad, epochs[-1] + pad)
        a.yaxis.set_major_locator(mpl.ticker.MaxNLocator(3, symmetric=True))
        a.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4, integer=True))
        # tick labels on the outer panels only: the lowest panel of each column
        # and, with a shared y scale, the first column
        a.tick_params(
            labelsize=6, labelbottom=k + ncols >= n, labelleft=not sharey or k % ncols == 0
        )
        if sharey:
            a.set_ylim(-lim, lim)
    for a in axes.flat[n:]:
        a.set_visible(False)
    fig.supxlabel("epoch", fontsize=8)
    fig.supylabel("update  W(t+1) − W(t)", fontsize=8)
    what = f"{n} of {len(names)} parameters (sampled)" if sampled else f"{n} parameters"
    _suptitle(fig, f"{_net_title(net)}: update per epoch, {what}", fontsize=10)
    return fig


# --------------------------------------------------------------------------- beyond the blog


@_styled
def boundary_grid(
    nets: Mapping[tuple[str, str], Any],
    data: Dataset,
    resolution: int = 120,
    points: str = "both",
    row_order: Sequence[str] | None = None,
    col_order: Sequence[str] | None = None,
    cmap: str | Colormap | None = None,
) -> Figure:
    """Decision boundaries as small multiples: rows initializers, columns activations.

    Parameters
    ----------
    nets : dict ``{(init, activation): fitted FFNetwork}``
        A missing combination is drawn as an empty, labelled panel.
    data : Dataset
        A 2-feature data set; its training points are drawn as circles, its
        validation points as triangles.
    resolution : int
        Grid points per axis of the predicted-class background.
    points : {"both", "train", "val", "none"}
    row_order, col_order : sequences, optional
        Initializers and activations in the order to draw them (default:
        first appearance in ``nets``).
    cmap : None, "blog" or a colormap
        Class colours (Okabe-Ito by default).

    Returns
    -------
    Figure
        ``len(inits) * len(activations)`` axes; each title gives the
        validation accuracy.
    """
    if not isinstance(nets, Mapping) or not nets:
        raise ValueError("nets must be a non-empty dict {(init, activation): fitted FFNetwork}")
    for key, net in nets.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"nets keys must be (init, activation) pairs, got {key!r}")
        _check_net(net, f"nets[{key!r}]")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an initlab Dataset, got {type(data).__name__}")
    points = _choice("points", points, ("both", "train", "val", "none"))
    if not isinstance(resolution, numbers.Integral) or resolution < 2:
        raise ValueError(f"resolution must be an integer >= 2, got {resolution!r}")
    _check_2d(data.X_train, "boundary_grid()")
    inits = _order([k[0] for k in nets], row_order, "row")
    acts = _order([k[1] for k in nets], col_order, "column")
    K = data.n_classes
    colormap = class_cmap(cmap, K)
    norm = _color_norm(K, colormap)
    gx, gy, grid = _mesh(data.X, resolution)
    # fixed margins (see _panel_grid): room for the row labels on the left, the
    # title, the column labels and the first row's panel titles on top
    # (not sharex/sharey, which is quadratic in the panels: each image sets its
    # panel's limits to the same grid extent)
    fig, axes = _panel_grid(
        len(inits),
        len(acts),
        panel=(2.3, 1.9),
        margins=(0.3, 0.1, 0.1, 0.7),
        space=(0.12, 0.25),
    )
    for r, init in enumerate(inits):
        for c, act in enumerate(acts):
            a = axes[r, c]
            net = nets.get((init, act))
            if net is None:
                a.text(0.5, 0.5, "not run", ha="center", va="center", transform=a.transAxes)
            else:
                _boundary(a, net, grid, gx, gy, colormap, K)
                if points in ("both", "train"):
                    a.scatter(*data.X_train.T, c=data.y_train, cmap=colormap, norm=norm, s=4, lw=0)
                if points in ("both", "val"):
                    a.scatter(
                        *data.X_val.T,
                        c=data.y_val,
                        cmap=colormap,
                        norm=norm,
                        s=9,
                        marker="^",
                        edgecolors="k",
                        linewidths=0.3,
                    )
                acc = net.score(data.X_val, data.y_val)
                flag = " (diverged)" if net.diverged_ else ""
                _panel_title(a, f"val acc {acc:.2f}{flag}", fontsize=8, pad=2)
            a.set_xticks([])
            a.set_yticks([])
            if r == 0:
                a.annotate(
                    act,
                    (0.5, 1.0),
                    xycoords="axes fraction",
                    xytext=(0, 13),  # points: above the panel title
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontweight="bold",
                )
            if c == 0:
                a.set_ylabel(init, fontweight="bold")
    _suptitle(fig, f"decision boundaries on {data.name}: rows initializers, columns activations")
    return fig


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


def _unflatten(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    out, start = [], 0
    for s in shapes:
        size = int(np.prod(s))
        out.append(flat[start : start + size].reshape(s))
        start += size
    return out


def _with_history(net, X, y, X_val=None, y_val=None):
    """``net`` fitted with its parameter history (refitting a clone if needed, same seed)."""
    from sklearn.base import clone

    from .network import FFNetwork

    if not isinstance(net, FFNetwork):
        raise TypeError(f"expected an initlab FFNetwork, got {type(net).__name__}")
    if _is_fitted(net) and getattr(net, "param_history_", None) is not None:
        return net
    seed = net.seed_ if _is_fitted(net) else net.random_state
    if seed is None:
        seed = 0
    if y is None:
        raise ValueError("y is needed to train the network (it is not fitted with its history)")
    other = clone(net).set_params(record_params=True, random_state=seed)
    return other.fit(X, y, X_val, y_val)


def _params_at(net, epoch: int) -> list[np.ndarray]:
    """The network's parameters after ``epoch`` epochs, in the engine's ``(1, ...)`` layout."""
    pop = net.population_
    return _unflatten(np.asarray(net.param_history_[epoch]), pop.param_shapes())


@_styled
def layer_histograms(
    net_or_config,
    X: np.ndarray | Dataset,
    y: np.ndarray | None = None,
    bins: int = 40,
    layers: Sequence[int] | None = None,
) -> Figure:
    """Per-layer histograms of activations and gradients, at initialization and after training.

    The classic figure of Glorot & Bengio (2010, "Understanding the
    difficulty of training deep feedforward neural networks", figures 3-7):
    saturating units pile up at ±1 (or 0 and 1), dead ReLUs at 0, and
    back-propagated gradients shrink or grow layer by layer.

    Parameters
    ----------
    net_or_config : FFNetwork
        Fitted with ``record_params=True`` (the initial weights are
        ``param_history_[0]``), or any FFNetwork, which is then (re)fitted on
        ``(X, y)`` with the same seed and its history recorded.
    X : array or Dataset
        Inputs the histograms are computed on (a Dataset: its training part).
    y : array
        Labels, for the gradients (and for fitting).
    bins : int
    layers : sequence of int, optional
        Hidden layers to draw, 1-based (default: all).

    Returns
    -------
    Figure
        2 × 2 axes: rows activations ``a = f(z)`` and per-sample gradients
        ``dL/dz``; columns at initialization and after training; one line per
        hidden layer.
    """
    if isinstance(X, Dataset):
        if y is not None:
            raise ValueError("give y only with an array X, not with a Dataset")
        X, y = np.asarray(X.X_train), np.asarray(X.y_train)
    X, y = _xy(X, y=y)
    net = _with_history(net_or_config, X, y)
    pop = net.population_
    n_hidden = pop.n_layers - 1
    if n_hidden < 1:
        raise ValueError("layer_histograms needs a network with at least one hidden layer")
    layers = list(range(1, n_hidden + 1)) if layers is None else list(layers)
    bad = [
        lay for lay in layers if not (isinstance(lay, numbers.Integral) and 1 <= lay <= n_hidden)
    ]
    if bad:
        raise ValueError(
            f"layers {bad} out of range; this network's hidden layers are 1..{n_hidden}"
        )
    yy = np.searchsorted(net.classes_, y)
    states = {"at initialization": 0, f"after {net.n_iter_} epochs": net.n_iter_}
    traces = {k: pop.trace(_params_at(net, e), X, yy) for k, e in states.items()}
    fig, axes = _figure(2, 2, (8.2, 5.6), sharex="row")
    N = len(X)
    for c, (state, tr) in enumerate(traces.items()):
        for r, (key, label) in enumerate((("a", "activation value"), ("delta", "gradient dL/dz"))):
            a = axes[r, c]
            vals = {
                lay: tr[key][lay - 1][0].ravel() * (N if key == "delta" else 1) for lay in layers
            }
            allv = np.concatenate([v[np.isfinite(v)] for v in vals.values()])
            if allv.size == 0:
                a.text(0.5, 0.5, "no finite values", ha="center", transform=a.transAxes)
                continue
            lo, hi = (
                np.percentile(allv, [0.5, 99.5]) if key == "delta" else (allv.min(), allv.max())
            )
            if hi <= lo:
                lo, hi = lo - 0.5, hi + 0.5
            edges = np.linspace(lo, hi, bins + 1)
            for i, lay in enumerate(layers):
                v = vals[lay][np.isfinite(vals[lay])]
                a.hist(
                    np.clip(v, lo, hi),
                    bins=edges,
                    histtype="step",
                    lw=1.3,
                    color=OKABE_ITO[i % 8],
                    ls=_LINESTYLES[(i // 8) % 4],
                    density=True,
                    label=f"layer {lay} (std {v.std():.2g})",
                )
            a.set_title(f"{'activations' if key == 'a' else 'gradients'} {state}")
            a.set_xlabel(label + (" per sample" if key == "delta" else ""))
            a.legend(loc="best")
        axes[0, c].set_ylabel("density") if c == 0 else None
        axes[1, c].set_ylabel("density") if c == 0 else None
    fig.suptitle(f"{_net_title(net)}: activations and back-propagated gradients per layer")
    return fig


@_styled
def variance_curves(
    diagnostics: pd.DataFrame,
    columns: Sequence[str] | None = None,
    x: str = "layer",
    by: str | Sequence[str] | None = None,
    logy: bool = True,
    ax=None,
) -> Figure:
    """Per-layer variance curves (how activations and gradients scale with depth).

    Parameters
    ----------
    diagnostics : DataFrame
        One row per layer (and per configuration): the ``x`` column and the
        variance columns, as from ``initlab.diagnostics.propagation``.
    columns : list of str, optional
        The curves; default every numeric column whose name contains ``var``.
    x : str
        The depth column.
    by : str or list of str, optional
        Columns naming configurations (e.g. ``"init"``): one colour each, the
        variance columns told apart by line style.
    logy : bool
        Logarithmic variance axis (variances vanish or explode geometrically).
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    by = _as_list(by)
    _check_columns(diagnostics, [x, *by], "diagnostics")
    if columns is None:
        columns = [
            c
            for c in diagnostics.columns
            if "var" in str(c).lower() and pd.api.types.is_numeric_dtype(diagnostics[c])
        ]
        if not columns:
            raise ValueError(
                "diagnostics has no variance column (a numeric column with 'var' in its name); "
                f"it has: {', '.join(map(str, diagnostics.columns))}; pass columns=[...]"
            )
    columns = _as_list(columns)
    _check_columns(diagnostics, columns, "diagnostics")
    fig, ax = _single_axes(ax, (5.4, 3.8))
    groups = diagnostics.groupby(by, sort=False) if by else [((), diagnostics)]
    for gi, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        g = g.groupby(x, sort=True)[columns].mean()
        for ci, col in enumerate(columns):
            label = " / ".join(map(str, key))
            label = f"{label}: {col}" if label else col
            if by:
                color, ls = OKABE_ITO[gi % 8], _LINESTYLES[ci % 4]
            else:
                color, ls = OKABE_ITO[ci % 8], "-"
            vals = g[col].to_numpy(float)
            ax.plot(g.index.to_numpy(), vals, marker="o", ms=3, color=color, ls=ls, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel("variance")
    ax.set_title("variance per layer")
    ax.legend(loc="best")
    return fig


# --------------------------------------------------------------------------- animation


@dataclass
class TrainingAnimation:
    """A GIF written by :func:`animate_training`; displays itself inline in notebooks."""

    path: Path
    n_frames: int
    epochs: list[int]

    def _repr_html_(self) -> str:
        data = base64.b64encode(Path(self.path).read_bytes()).decode("ascii")
        return f'<img src="data:image/gif;base64,{data}" alt="training animation"/>'

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def _frame_epochs(epochs: int, frames: int) -> list[int]:
    """Frame epochs, denser at the start where the boundary moves most (square-root spacing)."""
    t = np.linspace(0, 1, frames) ** 2
    return sorted(set(np.round(t * epochs).astype(int).tolist()))


@_styled
def animate_training(
    config,
    data: Dataset,
    epochs: int | None = None,
    path: str | os.PathLike = "training.gif",
    frames: int = 30,
    fps: float = 6,
    resolution: int = 80,
    dpi: int = 72,
) -> TrainingAnimation:
    """A GIF of the decision boundary and the loss curves while a network trains.

    The network is trained once with its parameter history recorded; each
    frame redraws the boundary from the parameters at that epoch, so the
    animation shows exactly the run ``config.fit`` gives.

    Parameters
    ----------
    config : FFNetwork or dict
        An FFNetwork (fitted or not) or its parameters as a dict.
    data : Dataset
        2 features.
    epochs : int, optional
        Training length (default: the network's ``epochs``).
    path : path
        Where to write the GIF (its directory must exist).
    frames : int
        At most this many frames, denser in the first epochs.
    fps : float
        Frames per second.
    resolution : int
        Grid points per axis of the boundary.
    dpi : int

    Returns
    -------
    TrainingAnimation
        With ``path``, ``n_frames`` and the frame ``epochs``; it shows
        inline as the last expression of a notebook cell.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    from .network import FFNetwork

    if isinstance(config, Mapping):
        net = FFNetwork(**config)
    elif isinstance(config, FFNetwork):
        net = config
    else:
        raise TypeError(f"config must be an FFNetwork or a dict of its parameters, got {config!r}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an initlab Dataset, got {type(data).__name__}")
    _check_2d(data.X_train, "animate_training()")
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"epochs must be an integer >= 1, got {epochs!r}")
        net = net.__class__(**{**net.get_params(), "epochs": int(epochs)})
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 2:
        raise ValueError(f"frames must be an integer >= 2, got {frames!r}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps!r}")
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.suffix.lower() != ".gif":
        raise ValueError(f"path must end in .gif, got {path.name!r}")
    if _is_fitted(net) and getattr(net, "param_history_", None) is not None:
        fitted = net
    else:  # train a copy, so the caller's network is left as it was
        seed = net.seed_ if _is_fitted(net) else net.random_state
        fresh = net.__class__(**{**net.get_params(), "random_state": seed})
        fitted = _with_history(fresh, data.X_train, data.y_train, data.X_val, data.y_val)
    n_epochs = fitted.n_iter_
    frame_epochs = _frame_epochs(n_epochs, frames)
    K = data.n_classes
    colormap = class_cmap(None, K)
    norm = _color_norm(K, colormap)
    gx, gy, grid = _mesh(data.X, resolution)
    pop = fitted.population_
    history = fitted.history_
    images = []
    fig, axes = _figure(1, 2, (8.0, 3.5))
    ax_b, ax_l = axes[0]
    ax_l.plot(np.arange(n_epochs + 1), history["train_loss"], color=OKABE_ITO[3], label="training")
    if "val_loss" in history:
        ax_l.plot(
            np.arange(n_epochs + 1),
            history["val_loss"],
            color=OKABE_ITO[4],
            ls="--",
            label="validation",
        )
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("loss")
    ax_l.legend(loc="upper right")
    (marker,) = ax_l.plot([], [], "o", color="k", ms=5)
    fig.suptitle(f"{_net_title(fitted)} on {data.name}")
    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    image = _boundary(
        ax_b,
        None,
        grid,
        gx,
        gy,
        colormap,
        K,
        proba=pop.predict_proba(_params_at(fitted, 0), grid)[0],
    )
    ax_b.scatter(*data.X_train.T, c=data.y_train, cmap=colormap, norm=norm, s=5, lw=0)
    ax_b.set_xticks([])
    ax_b.set_yticks([])
    which = "val" if "val_acc" in history else "train"
    for k, e in enumerate(frame_epochs):
        # only the data change from frame to frame: the image, the marker and the title
        proba = pop.predict_proba(_params_at(fitted, e), grid)[0]
        image.set_data(_codes(proba, gx.shape))
        ax_b.set_title(f"epoch {e}: {which} acc {history[which + '_acc'][e]:.2f}")
        marker.set_data([e], [history["train_loss"][e]])
        images.append(_render(canvas))
        if k == 0:  # freeze the layout found for the first frame, so nothing jitters
            fig.set_layout_engine("none")
    frames_pil = [Image.fromarray(im).convert("P", palette=Image.Palette.ADAPTIVE) for im in images]
    duration = int(round(1000 / fps))
    frames_pil[0].save(
        path,
        save_all=True,
        append_images=frames_pil[1:],
        duration=[duration] * (len(frames_pil) - 1) + [duration * 4],  # linger on the result
        loop=0,
    )
    return TrainingAnimation(path=path, n_frames=len(frames_pil), epochs=frame_epochs)


def _render(canvas) -> np.ndarray:
    """The figure of an Agg canvas as an RGB array."""
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()

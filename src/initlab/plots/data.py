"""Figures of the data: the data set, the blog's mistakes scatter, decision boundaries."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib.colors import Colormap
from matplotlib.figure import Figure

from ..datasets import Dataset
from ..errors import ConfigError
from ._inputs import _check_2d, _check_net, _choice, _net_title, _order, _xy
from ._style import (
    FONT,
    PAGE_WIDTH,
    _color_norm,
    _figure,
    _panel_grid,
    _panel_title,
    _single_axes,
    _styled,
    _suptitle,
    class_cmap,
)

__all__ = ["dataset", "mistakes", "mistakes_pair", "boundary_grid"]


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
            raise ConfigError("labels='both' draws two panels; it cannot draw into one ax")
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
            raise ConfigError(
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


@_styled
def mistakes_pair(
    panels: Mapping[str, tuple[Any, Dataset]], split: str = "val", width: float | None = None
) -> Figure:
    """The blog's mistakes scatter (:func:`mistakes`) of several runs side by side.

    ``panels`` maps a panel title to ``(fitted network, its Dataset)`` (a None
    network is drawn as "not retrained"); ``split`` is the part of the data drawn.
    """
    if not isinstance(panels, Mapping) or not panels:
        raise ConfigError("panels must be a non-empty dict {title: (fitted FFNetwork, Dataset)}")
    n = len(panels)
    total = width or 4.6 * n
    fig, axes = _figure(1, n, (total, min(4.6, total / n * 0.8)))
    for a, (title, (net, data)) in zip(axes[0], panels.items(), strict=True):
        if net is None:
            a.text(0.5, 0.5, "not retrained", ha="center", va="center", transform=a.transAxes)
            a.set_title(title)
            continue
        mistakes(net, data, split=split, ax=a)
        X, y = _xy(data, split=split)
        wrong = int((net.predict(X) != y).sum())
        a.set_title(f"{title}\n{wrong} of {len(y)} wrong", fontsize=FONT)
    return fig


@_styled
def boundary_grid(
    nets: Mapping[tuple[str, str], Any],
    data: Dataset,
    resolution: int = 120,
    points: str = "both",
    row_order: Sequence[str] | None = None,
    col_order: Sequence[str] | None = None,
    cmap: str | Colormap | None = None,
    title: str | None = None,
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
    title : str, optional
        The figure's title (default: what the rows and columns are).

    Returns
    -------
    Figure
        ``len(inits) * len(activations)`` axes; each title gives the
        validation accuracy (and "diverged" for a run that did).
    """
    if not isinstance(nets, Mapping) or not nets:
        raise ConfigError("nets must be a non-empty dict {(init, activation): fitted FFNetwork}")
    for key, net in nets.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ConfigError(f"nets keys must be (init, activation) pairs, got {key!r}")
        _check_net(net, f"nets[{key!r}]")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an initlab Dataset, got {type(data).__name__}")
    points = _choice("points", points, ("both", "train", "val", "none"))
    if not isinstance(resolution, numbers.Integral) or resolution < 2:
        raise ConfigError(f"resolution must be an integer >= 2, got {resolution!r}")
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
    # panels as wide as the page allows (PAGE_WIDTH), at most 2.6 inches
    # and at most about 9 inches high in all
    side = min(2.6, (PAGE_WIDTH - 0.45 - 0.12 * (len(acts) - 1)) / len(acts), 9.0 / len(inits))
    fig, axes = _panel_grid(
        len(inits),
        len(acts),
        panel=(side, side * 0.8),
        margins=(0.35, 0.1, 0.1, 0.95),
        space=(0.12, 0.35),
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
                flag = ", diverged" if net.diverged_ else ""
                _panel_title(a, f"{acc:.2f}{flag}", pad=2)
            a.set_xticks([])
            a.set_yticks([])
            if r == 0:
                a.annotate(
                    act,
                    (0.5, 1.0),
                    xycoords="axes fraction",
                    xytext=(0, 17),  # points: above the panel title
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontweight="bold",
                )
            if c == 0:
                a.set_ylabel(init, fontweight="bold")
    _suptitle(
        fig,
        (title or f"decision boundaries on {data.name}: rows initializers, columns activations")
        + "; above each: validation accuracy",
    )
    return fig

"""Figures of what each layer does: signal propagation, its evolution, Jacobian spectra.

The figures of :mod:`initlab.diagnostics`, and per-layer histograms and
variances of activations and gradients.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..datasets import Dataset
from ..errors import ConfigError
from ._inputs import _as_list, _check_columns, _net_title, _params_at, _with_history, _xy
from ._style import _LINESTYLES, OKABE_ITO, _figure, _single_axes, _styled
from .panels import Lines, Panel
from .panels import panels as _panels

__all__ = ["layer_histograms", "variance_curves", "propagation", "record", "spectrum"]


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
            raise ConfigError("give y only with an array X, not with a Dataset")
        X, y = np.asarray(X.X_train), np.asarray(X.y_train)
    X, y = _xy(X, y=y)
    net = _with_history(net_or_config, X, y)
    pop = net.population_
    n_hidden = pop.n_layers - 1
    if n_hidden < 1:
        raise ConfigError("layer_histograms needs a network with at least one hidden layer")
    layers = list(range(1, n_hidden + 1)) if layers is None else list(layers)
    bad = [
        lay for lay in layers if not (isinstance(lay, numbers.Integral) and 1 <= lay <= n_hidden)
    ]
    if bad:
        raise ConfigError(
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
            raise ConfigError(
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


def _hidden(df: pd.DataFrame, what: str) -> pd.DataFrame:
    _check_columns(df, ["model", "layer", "kind"], what)
    return df[df["kind"] == "hidden"]


def propagation(
    df: pd.DataFrame,
    columns: Sequence[str] = ("z_var", "a_var", "grad_var", "dW_var"),
    title: str | None = None,
) -> Figure:
    """Per-layer curves of :func:`initlab.diagnostics.propagation` columns, one panel each.

    Each model is a thin line and the median over models a thick one; a
    column whose medians are all positive is drawn on a log scale (variances
    vanish or explode geometrically with depth).

    Parameters
    ----------
    df : DataFrame
        From :func:`~initlab.diagnostics.propagation` (or ``layer_stats``,
        ``diagnose``): the columns ``model``, ``layer``, ``kind`` and ``columns``.
    columns : sequence of str
    title : str, optional

    Returns
    -------
    Figure
        One axes per column.

    Examples
    --------
    >>> from initlab import diagnostics, plots
    >>> X = diagnostics.gaussian_inputs(32, 16)
    >>> df = diagnostics.propagation((16,) * 4, "tanh", "xavier", X, n_models=2)
    >>> len(plots.propagation(df, columns=("a_var", "grad_var")).axes)
    2
    """
    from ..diagnostics import COLUMNS

    unknown = [c for c in columns if c not in df.columns]
    if unknown:
        raise ConfigError(f"unknown column(s) {unknown}; choose from {COLUMNS[5:]}")
    hidden = _hidden(df, "df")
    panels = []
    for col in columns:
        median = hidden.groupby("layer")[col].median().dropna()
        panels.append(
            Panel(
                col,
                [Lines(hidden, "layer", col, units="model")],
                xlabel="layer",
                logy=bool(len(median)) and bool((median > 0).all()),
            )
        )
    return _panels(panels, title=title or "", panel_size=(3.2, 2.8))


def record(
    df: pd.DataFrame,
    columns: Sequence[str] = ("a_var", "grad_var", "saturated", "dead"),
    title: str | None = None,
) -> Figure:
    """How :func:`initlab.diagnostics.record` columns evolve during training, one line per layer.

    The first model's hidden layers, coloured from the first (dark) to the
    last (light); columns that are all NaN (``dead`` for tanh) are left out.

    Returns
    -------
    Figure
        One axes per column drawn.
    """
    _check_columns(df, ["epoch"], "df")
    hidden = _hidden(df, "df")
    hidden = hidden[hidden["model"] == 0]
    columns = [c for c in columns if c in hidden.columns and hidden[c].notna().any()]
    if not columns:
        raise ConfigError("nothing to plot: the chosen columns are all NaN or missing")
    panels = [
        Panel(
            col,
            [Lines(hidden, "epoch", col, hue="layer", cmap="cividis", label="layer {layer}")],
            xlabel="epoch",
            legend={"fontsize": 6},
        )
        for col in columns
    ]
    return _panels(panels, title=title or "", panel_size=(3.2, 2.8))


@_styled
def spectrum(singular_values: np.ndarray, label: str = "", ax=None) -> Figure:
    """Histogram of Jacobian singular values, all models and inputs pooled.

    Parameters
    ----------
    singular_values : array
        From :func:`initlab.diagnostics.jacobian_singular_values`.
    label : str
        Legend entry; draw several spectra into one ``ax`` to compare them.
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    fig, ax = _single_axes(ax, (4.0, 3.0))
    s = np.asarray(singular_values, dtype=float).ravel()
    s = s[np.isfinite(s)]
    if s.size == 0:
        raise ConfigError("no finite singular values to plot")
    n = len(ax.patches)
    ax.hist(
        s, bins=60, histtype="step", density=True, color=OKABE_ITO[(3 + n) % 8], label=label or None
    )
    ax.set_xlabel("singular value of the input-output Jacobian")
    ax.set_ylabel("density")
    if label:
        ax.legend()
    return fig

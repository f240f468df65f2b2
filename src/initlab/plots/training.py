"""Figures of training: loss curves and bands over seeds, per-parameter updates, animation."""

from __future__ import annotations

import base64
import math
import numbers
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..datasets import Dataset
from ..errors import ConfigError
from ._inputs import (
    _as_list,
    _check_2d,
    _check_columns,
    _check_net,
    _choice,
    _is_fitted,
    _net_title,
    _order,
    _params_at,
    _with_history,
)
from ._style import (
    _LINESTYLES,
    FONT,
    OKABE_ITO,
    _cells,
    _color_norm,
    _figure,
    _metric_label,
    _panel_grid,
    _panel_title,
    _single_axes,
    _styled,
    _suptitle,
    class_cmap,
)
from .data import _boundary, _codes, _mesh

__all__ = [
    "loss_curve",
    "loss_band",
    "loss_grid",
    "update_grid",
    "TrainingAnimation",
    "animate_training",
]


def _history(obj, model: int) -> tuple[dict[str, np.ndarray], str]:
    """A ``{metric: (epochs + 1,)}`` history and a title from a net, result, dict or frame."""
    from ..engine import TrainResult
    from ..network import FFNetwork

    if isinstance(obj, FFNetwork):
        _check_net(obj)
        return {k: np.asarray(v, float) for k, v in obj.history_.items()}, _net_title(obj)
    if isinstance(obj, TrainResult):
        if not obj.history:
            raise ConfigError("this TrainResult has no history; train with record=True")
        M = next(iter(obj.history.values())).shape[1]
        if not 0 <= model < M:
            raise ConfigError(f"model must be in 0..{M - 1}, got {model}")
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
        raise ConfigError(
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
        raise ConfigError(f"level must be in (0, 1), got {level}")
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
    if logy is None:
        logy = metric.endswith("loss") and bool((values_all[np.isfinite(values_all)] > 0).any())
    fig, panels = _facets(df, facet, ax)
    groups = list(dict.fromkeys(map(tuple, df[by].to_numpy()))) if by else [()]
    styles = {g: (OKABE_ITO[i % 8], _LINESTYLES[(i // 8) % 4]) for i, g in enumerate(groups)}
    for value, part, a in panels:
        grouped = part.groupby(by, sort=False) if by else [((), part)]
        for key, g in grouped:
            key = key if isinstance(key, tuple) else (key,)
            label = " / ".join(map(str, key)) or metric
            _band_line(a, g, metric, band, level, logy, run_key, styles[key], label)
        a.set_xlabel("epoch")
        if logy:
            a.set_yscale("log")
        if value is not None:
            _panel_title(a, f"{facet} = {value}")
    first = panels[0][2]
    first.set_ylabel(_metric_label(metric))
    text = _band_title(metric, band, level, logy)
    if facet is None:
        first.set_title(text)
    else:
        _suptitle(fig, text)
    first.legend(title=" / ".join(by) or None, loc="best")
    return fig


def _band_title(metric: str, band: str, level: float, logy: bool) -> str:
    center = "geometric mean" if logy else "mean"
    band_text = {
        "ci": f"{level:.0%} CI of the {center}",
        "std": "× / ÷ geometric std" if logy else "± 1 std",
        "range": "min–max",
        "none": "",
    }[band]
    return f"{_metric_label(metric)}: {center} over seeds" + (
        f", band {band_text}" * bool(band_text)
    )


def _band_line(a, g, metric, band, level, logy, run_key, style, label, **kw):
    """One configuration's curve over seeds, with its band, into ``a``.

    On a log axis the mean and the band are computed on the logarithm (a geometric
    mean, the band a factor × / ÷ around it), so a band never crosses zero and
    stays on the axis; accuracies stay inside [0, 1].
    """
    g = g.copy()
    if logy:
        with np.errstate(divide="ignore", invalid="ignore"):
            g[metric] = np.log(g[metric].where(g[metric] > 0))
    stats = g.groupby("epoch")[metric].agg(["mean", "std", "count", "min", "max"])
    x, mean = stats.index.to_numpy(), stats["mean"].to_numpy()
    n_seeds, n_div = _seeds_and_diverged(g, stats, run_key, metric)
    color, ls = style
    label += f" (n={n_seeds}" + (f", {n_div} diverged)" if n_div else ")")
    lo = hi = None
    if band != "none":
        lo, hi = _band(stats, band, level)
    if logy:
        with np.errstate(over="ignore"):  # an exploding run's band: inf, off the axis
            mean = np.exp(mean)
            lo, hi = (None, None) if lo is None else (np.exp(lo), np.exp(hi))
    ceiling = 1.0 if metric.endswith("acc") else np.inf
    line = a.plot(x, mean, color=color, ls=ls, label=label, lw=1.6, **kw)
    if lo is not None:
        a.fill_between(x, np.maximum(lo, 0), np.minimum(hi, ceiling), color=color, alpha=0.18, lw=0)
    return line


@_styled
def loss_grid(
    curves: pd.DataFrame,
    runs: pd.DataFrame,
    line: str,
    col: str | None = None,
    row: str | None = None,
    orders: Mapping[str, Sequence] | None = None,
    metric: str = "val_loss",
    band: str = "ci",
    level: float = 0.95,
    width: float | None = None,
    title: str | None = None,
) -> Figure:
    """Curves of several configurations overlaid, one panel per cell of a grid.

    The report's loss figure: the compared levels (``line``, e.g. the seven
    optimizers) share one panel per remaining cell (``col`` across, ``row``
    down, e.g. activation × learning rate), so they compare in one picture.

    Parameters
    ----------
    curves : DataFrame
        Long format: ``run_hash``, ``epoch``, ``metric``.
    runs : DataFrame
        ``run_hash`` and the ``line``, ``col`` and ``row`` columns (labels).
    line, col, row : str
        Columns of ``runs``: the lines of a panel, the panel columns, the panel rows.
    orders : mapping column -> values, optional
        The order of each column's values (default: first appearance).
    metric, band, level : as :func:`loss_band` (losses: geometric mean, log axis).
    width : float, optional
        Figure width in inches (default: 2.8 inches per panel).
    title : str, optional

    Returns
    -------
    Figure
    """
    band = _choice("band", band, ("ci", "std", "range", "none"))
    orders = dict(orders or {})
    need = [c for c in (line, col, row) if c]
    _check_columns(curves, ["run_hash", "epoch", metric], "curves")
    _check_columns(runs, ["run_hash", *need], "runs")
    df = curves.merge(runs[["run_hash", *need]].drop_duplicates("run_hash"), on="run_hash")
    df[metric] = df[metric].astype(float).where(np.isfinite(df[metric].astype(float)))
    values = df[metric].to_numpy()
    logy = metric.endswith("loss") and bool((values[np.isfinite(values)] > 0).any())
    cols = _order(runs[col], orders.get(col), col) if col else [None]
    rows = _order(runs[row], orders.get(row), row) if row else [None]
    lines = _order(runs[line], orders.get(line), line)
    styles = {v: (OKABE_ITO[i % 8], _LINESTYLES[(i // 8) % 4]) for i, v in enumerate(lines)}
    ncols = len(cols)
    pw = 2.8 if width is None else (width - 1.1 - 0.25 * (ncols - 1) - 2.0) / ncols
    fig, axes = _panel_grid(
        len(rows),
        ncols,
        panel=(pw, min(2.6, 0.8 * pw + 0.4)),
        margins=(0.95, 2.15, 0.75, 0.75),
        space=(0.25, 0.35),
        sharey=True,
        sharex=True,
    )
    for i, j, r, c, part in _cells(df, row, rows, col, cols):
        a = axes[i, j]
        for v in lines:
            g = part[part[line] == v]
            if not g.empty:
                _band_line(a, g, metric, band, level, logy, "run_hash", styles[v], str(v))
        if logy:
            a.set_yscale("log")
        if i == 0 and col:
            _panel_title(a, f"{col.strip()} {c}" if j == 0 else str(c))
        if i == len(rows) - 1:
            a.set_xlabel("epoch")
        if j == 0:
            a.set_ylabel(f"{row.strip()} {r}" if row else _metric_label(metric))
    finite = values[np.isfinite(values) & (values > 0)] if logy else values[np.isfinite(values)]
    if finite.size:  # a robust range: exploding runs leave the axis instead of flattening it
        lo, hi = np.quantile(finite, [0.005, 0.95])
        if logy:
            axes[0, 0].set_ylim(lo / 1.5, hi * 4)
        elif hi > lo:
            axes[0, 0].set_ylim(lo - 0.1 * (hi - lo), hi + 0.5 * (hi - lo))
    handles = [
        mpl.lines.Line2D([], [], color=styles[v][0], ls=styles[v][1], lw=2, label=str(v))
        for v in lines
    ]
    fig.legend(
        handles=handles,
        title=line.strip(),
        loc="upper right",
        bbox_to_anchor=(1, 1 - 0.75 / fig.get_figheight()),
    )
    _suptitle(fig, title or _band_title(metric, band, level, logy))
    return fig


def _facets(df: pd.DataFrame, facet: str | None, ax):
    """The figure and its ``(facet value, rows, axes)`` panels: one, or one per value."""
    if facet is None:
        fig, ax = _single_axes(ax, (5.4, 3.8))
        return fig, [(None, df, ax)]
    if ax is not None:
        raise ConfigError("facet draws several panels; it cannot draw into one ax")
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
    return fig, [(v, df[df[facet] == v], a) for v, a in zip(values, axes.flat, strict=False)]


def _seeds_and_diverged(g: pd.DataFrame, stats: pd.DataFrame, run_key, metric: str):
    """How many seeds a line averages, and how many of them diverged (NaN somewhere)."""
    if run_key:
        n_div = int(g.groupby(run_key)[metric].apply(lambda s: s.isna().any()).sum())
        return g[run_key].nunique(), n_div
    return int(stats["count"].max()), int(stats["count"].max() - stats["count"].min())


def _band(stats: pd.DataFrame, band: str, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of a band around the per-epoch mean over seeds."""
    mean, std = stats["mean"].to_numpy(), stats["std"].to_numpy()
    if band == "ci":
        count = stats["count"].to_numpy()
        half = _t_quantile(count, level) * std / np.sqrt(count)
        return mean - half, mean + half
    if band == "std":
        return mean - std, mean + std
    return stats["min"].to_numpy(), stats["max"].to_numpy()  # range


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
    max_layers: int | None = None,
    width: float | None = None,
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
    max_layers : int, optional
        Draw at most this many layers, evenly spaced from the first to the last
        (a deep network's grid stays a glance, not a page).
    width : float, optional
        Figure width in inches (the panels share it); default: 1.73 inch panels.

    Returns
    -------
    Figure
    """
    _check_net(net)
    if getattr(net, "param_history_", None) is None:
        raise ConfigError(
            "update_grid needs the parameter history: fit the network with record_params=True"
        )
    if isinstance(max_panels_per_layer, bool) or not isinstance(
        max_panels_per_layer, numbers.Integral
    ):
        raise ConfigError(
            f"max_panels_per_layer must be an integer >= 1, got {max_panels_per_layer!r}"
        )
    if max_panels_per_layer < 1:
        raise ConfigError(
            f"max_panels_per_layer must be an integer >= 1, got {max_panels_per_layer}"
        )
    history = np.asarray(net.param_history_, float)
    if history.shape[0] < 2:
        raise ConfigError("update_grid needs at least one epoch of training")
    names = list(net.param_names_)
    order = _update_order(names)
    rng = np.random.default_rng(random_state)
    chosen: list[int] = []
    sampled = False
    layers = sorted({lay for lay, _, _ in order})
    if max_layers is not None and len(layers) > max_layers:
        picks = np.unique(np.round(np.linspace(0, len(layers) - 1, max_layers)).astype(int))
        layers = [layers[i] for i in picks]
        sampled = True
    for layer in layers:
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
    ws = 0.21 if sharey else 0.75  # unshared y: room for tick labels
    pw = 1.73 if width is None else (width - 1.35 - (ncols - 1) * ws) / ncols
    fig, axes = _panel_grid(
        nrows,
        ncols,
        panel=(pw, max(0.81, 0.47 * pw)),
        margins=(1.25, 0.1, 0.75, 0.55),
        space=(ws, 0.5),
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
        _panel_title(a, names[p], fontsize=FONT, pad=2)
        a.set_xlim(epochs[0] - pad, epochs[-1] + pad)
        a.yaxis.set_major_locator(mpl.ticker.MaxNLocator(3, symmetric=True))
        a.xaxis.set_major_locator(mpl.ticker.MaxNLocator(4, integer=True))
        # tick labels on the outer panels only: the lowest panel of each column
        # and, with a shared y scale, the first column
        a.tick_params(labelbottom=k + ncols >= n, labelleft=not sharey or k % ncols == 0)
        if sharey:
            a.set_ylim(-lim, lim)
    for a in axes.flat[n:]:
        a.set_visible(False)
    fig.supxlabel("epoch")
    fig.supylabel("W(t+1) − W(t)")
    what = f"{n} of {len(names)} parameters (sampled)" if sampled else f"{n} parameters"
    _suptitle(fig, f"{_net_title(net)}: update per epoch, {what}")
    return fig


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

    from ..network import FFNetwork

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
            raise ConfigError(f"epochs must be an integer >= 1, got {epochs!r}")
        net = net.__class__(**{**net.get_params(), "epochs": int(epochs)})
    if isinstance(frames, bool) or not isinstance(frames, numbers.Integral) or frames < 2:
        raise ConfigError(f"frames must be an integer >= 2, got {frames!r}")
    if not fps > 0:
        raise ConfigError(f"fps must be positive, got {fps!r}")
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: directory {path.parent} does not exist")
    if path.suffix.lower() != ".gif":
        raise ConfigError(f"path must end in .gif, got {path.name!r}")
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

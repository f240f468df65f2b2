"""Figures of mean-field theory: the order-to-chaos phase diagram with the named initializers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import activations, initializers, meanfield
from ..initializers import Initializer
from ._style import _figure, _single_axes, _styled

__all__ = ["edge_of_chaos", "phase_diagram", "trainability"]


#: Legend text and marker of the usual initializers (others: their name and a circle).
_MARKERS = {
    "lecun_normal": ("LeCun", "o"),
    "lecun_uniform": ("LeCun", "o"),
    "xavier_normal": ("Xavier/Glorot", "s"),
    "xavier_uniform": ("Xavier/Glorot", "s"),
    "he_normal": ("He/Kaiming", "^"),
    "he_uniform": ("He/Kaiming", "^"),
    "torch_gain": ("torch gain$^2$", "D"),
    "orthogonal": ("orthogonal", "v"),
    "zeros": ("zeros", "x"),
    "random": ("random N(0,1)", ">"),
}


@_styled
def phase_diagram(
    activation: str | activations.Activation,
    sigma_w2_grid: Sequence[float] | np.ndarray | None = None,
    sigma_b2_grid: Sequence[float] | np.ndarray | None = None,
    *,
    width: int = 100,
    fan_out: int | None = None,
    marker_sigma_b2: float = 0.0,
    inits: Sequence[str | Initializer] = ("lecun_normal", "xavier_normal", "he_normal", "random"),
    order: int = meanfield.DEFAULT_ORDER,
    ax=None,
) -> Figure:
    """Heat map of ``log chi_1`` with the edge of chaos and the named initializers.

    Drawn from :func:`initlab.meanfield.phase_diagram`.  Blue is ordered
    (``chi_1 < 1``), red chaotic (``chi_1 > 1``); the black contour is the critical
    line ``chi_1 = 1`` (Poole et al., 2016, Fig. 1; Schoenholz et al., 2017, Fig. 1).
    Each initializer in ``inits`` is a labelled marker at its ``sigma_w^2``
    (:func:`~initlab.meanfield.named_init_sigma_w2` for a layer of ``width`` inputs
    and ``fan_out`` outputs) and ``sigma_b^2 = marker_sigma_b2`` (biases zero by
    default).  Points off the right edge of the chart, such as ``random``
    (``sigma_w^2 = width``),
    are drawn at the edge with an arrow and their value.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2_grid, sigma_b2_grid : array_like, optional
        Grid; by default ``sigma_w^2`` from 0.05 to ``max(4, 1.25 x largest on-chart
        initializer)`` and ``sigma_b^2`` from 0 to 0.5.
    width, fan_out : int
        Layer size used to place the initializers.
    marker_sigma_b2 : float
        The ``sigma_b^2`` at which the markers stand.
    inits : sequence of str or Initializer
        Registered names, or initializer objects (labelled by their ``name``):
        ``initializers.variance_scaling(act.gain**2, "fan_in", name="torch_gain")``
        marks torch's ``calculate_gain``.
    order : int
        Quadrature nodes (see :mod:`initlab.meanfield`).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
        Markers are ``Line2D`` objects whose ``gid`` is the initializer name.

    Examples
    --------
    >>> from initlab import plots
    >>> fig = plots.phase_diagram("tanh", [0.5, 1.0, 2.0], [0.0, 0.1], width=256)
    >>> sorted(line.get_gid() for line in fig.axes[0].lines if line.get_gid())
    ['he_normal', 'lecun_normal', 'random', 'xavier_normal']
    """
    act = activations.get(activation)
    fan_out = width if fan_out is None else fan_out
    places = {
        initializers.get(n).name: meanfield.named_init_sigma_w2(n, act, width, fan_out)
        for n in inits
    }
    if sigma_w2_grid is None:
        near = [s for key, s in places.items() if key != "random" and s < 50.0]
        sigma_w2_grid = np.linspace(0.05, max(4.0, 1.25 * max(near, default=0.0)), 80)
    if sigma_b2_grid is None:
        sigma_b2_grid = np.linspace(0.0, 0.5, 41)
    pd = meanfield.phase_diagram(act, sigma_w2_grid, sigma_b2_grid, order=order)
    fig, ax = _single_axes(ax, (7.0, 5.5))
    log_chi = np.log(np.maximum(pd.chi1, 1e-300))
    lim = 1.0  # one colour scale for every activation: chi_1 from 1/e to e
    mesh = ax.pcolormesh(
        pd.sigma_w2,
        pd.sigma_b2,
        np.clip(log_chi, -lim, lim),
        cmap="RdBu_r",
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-lim, vmax=lim),
        shading="auto",
    )
    fig.colorbar(mesh, ax=ax, extend="both", label=r"$\log\chi_1$  (<0 ordered, >0 chaotic)")
    handles = []
    if log_chi.min() < 0.0 < log_chi.max() and min(log_chi.shape) > 1:
        ax.contour(pd.sigma_w2, pd.sigma_b2, log_chi, levels=[0.0], colors="k", linewidths=2)
        handles.append(Line2D([], [], color="k", lw=2, label=r"edge of chaos $\chi_1 = 1$"))

    x_lo, x_hi = float(pd.sigma_w2.min()), float(pd.sigma_w2.max())
    y_lo, y_hi = float(pd.sigma_b2.min()), float(pd.sigma_b2.max())
    span = (y_hi - y_lo) or 1.0
    y = float(np.clip(marker_sigma_b2, y_lo, y_hi))
    stacked: dict[float, int] = {}  # initializers sharing a sigma_w^2 get staggered labels
    for key, s in places.items():
        label, marker = _MARKERS.get(key, (key, "o"))
        text = f"{label}: $\\sigma_w^2$={s:.3g}"
        on_chart = x_lo <= s <= x_hi
        x = s if on_chart else (x_hi if s > x_hi else x_lo)
        k = stacked[round(x, 9)] = stacked.get(round(x, 9), -1) + 1
        (line,) = ax.plot(
            [x],
            [y],
            ls="none",
            clip_on=False,
            zorder=5 + k,
            gid=key,
            marker=marker if on_chart else (">" if s > x_hi else "<"),
            ms=13 - 3 * k,
            mfc="none" if k == 0 else "w",
            mec="k",
            mew=1.5,
            label=text if on_chart else f"{text} (off chart)",
        )
        handles.append(line)
        if on_chart:
            ax.annotate(
                label,
                xy=(x, y),
                xytext=(x + 0.02 * (x_hi - x_lo), y + (0.08 + 0.07 * k) * span),
                fontsize=8,
                arrowprops={"arrowstyle": "-", "color": "0.3", "lw": 0.8},
            )
        else:  # pinned to the edge with an arrow pointing off the chart
            ax.annotate(
                f"{label}\n$\\sigma_w^2$ = {s:.3g}",
                xy=(x, y),
                xytext=(x - 0.18 * (x_hi - x_lo) * np.sign(s - x), y + (0.3 + 0.07 * k) * span),
                ha="center",
                fontsize=8,
                arrowprops={"arrowstyle": "->", "color": "k"},
            )
    ax.set_ylim(y_lo - 0.04 * span, y_hi)
    box = {"fc": "w", "alpha": 0.8, "lw": 0}
    ax.text(0.03, 0.95, r"ordered $\chi_1<1$", transform=ax.transAxes, va="top", bbox=box)
    ax.text(
        0.97, 0.95, r"chaotic $\chi_1>1$", transform=ax.transAxes, va="top", ha="right", bbox=box
    )
    ax.set_xlabel(r"$\sigma_w^2$ = fan_in $\cdot$ Var[W]")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(f"Mean-field phase diagram: {act.name} (width {width})")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize=7)
    return fig


@_styled
def edge_of_chaos(
    activation: str | activations.Activation = "gelu",
    sigma_b2s: Sequence[float] = (0.0, 0.1, 0.2, 0.5),
    *,
    compare: Sequence[str] = ("gelu", "silu", "mish", "tanh"),
    sigma_w2_grid: Sequence[float] | np.ndarray | None = None,
    sigma_b2_grid: Sequence[float] | np.ndarray | None = None,
    q0: float = 1.0,
) -> Figure:
    """Where chi_1 crosses 1 continuously, and where it jumps (an unstable fixed point).

    Left: ``chi_1`` at the fixed point reached from ``q0`` against ``sigma_w^2`` for
    ``activation`` at each bias variance of ``sigma_b2s``
    (:func:`initlab.meanfield.phase_diagram`); jumps of
    :func:`~initlab.meanfield.edge_of_chaos` are marked with a cross.  Right: the
    critical line ``sigma_w^2(sigma_b^2)`` of each activation in ``compare``, solid
    where :func:`~initlab.meanfield.edge_of_chaos` finds a continuous crossing, dotted
    at the jump where it finds none.

    Examples
    --------
    >>> from initlab import plots
    >>> fig = plots.edge_of_chaos("gelu", [0.0, 0.3], compare=["gelu"],
    ...                           sigma_b2_grid=[0.0, 0.3])
    >>> len(fig.axes)
    2
    """
    act = activations.get(activation)
    if sigma_w2_grid is None:
        sigma_w2_grid = np.linspace(1.0, 3.5, 501)
    if sigma_b2_grid is None:
        sigma_b2_grid = np.linspace(0.0, 1.0, 21)
    fig, axes = _figure(1, 2, (10.0, 3.8))
    left, right = axes[0]
    pd = meanfield.phase_diagram(act, sigma_w2_grid, sigma_b2s, q0=q0)
    for i, sb in enumerate(pd.sigma_b2):
        color = f"C{i}"
        chi = pd.chi1[i]
        # break the line where chi_1 jumps, so the jump is not drawn as a steep segment
        steps = np.abs(np.diff(chi)) > 0.02
        y = chi.copy()
        y[1:][steps] = np.nan
        left.plot(pd.sigma_w2, y, color=color, label=f"$\\sigma_b^2$ = {sb:g}")
        for jump in meanfield.edge_of_chaos(act, float(sb), q0=q0).jumps:
            left.plot([jump.sigma_w2] * 2, [jump.chi1_below, jump.chi1_above], ":", color=color)
            left.plot([jump.sigma_w2], [1.0], "x", color=color, ms=8, mew=2)
    left.axhline(1.0, color="k", lw=0.8)
    left.set_xlabel(r"$\sigma_w^2$")
    left.set_ylabel(r"$\chi_1$ at the fixed point reached")
    left.set_title(f"{act.name}: $\\chi_1$ (x: jump, no edge of chaos), $q_0$ = {q0:g}")
    left.legend(fontsize=7)
    for i, name in enumerate(compare):
        edges = [meanfield.edge_of_chaos(name, float(sb), q0=q0) for sb in sigma_b2_grid]
        sb = np.array([e.sigma_b2 for e in edges])
        found = np.array([e.sigma_w2 if e.found else np.nan for e in edges])
        jump = np.array([e.jumps[0].sigma_w2 if e.jumps else np.nan for e in edges])
        right.plot(found, sb, "-", color=f"C{i}", lw=2, label=f"{name}: edge of chaos")
        if np.isfinite(jump).any():
            right.plot(jump, sb, ":", color=f"C{i}", lw=2, label=f"{name}: jump (none)")
    right.set_xlabel(r"$\sigma_w^2$")
    right.set_ylabel(r"$\sigma_b^2$")
    right.set_title(r"critical line: solid where $\chi_1$ crosses 1, dotted where it jumps")
    right.legend(fontsize=7)
    return fig


@_styled
def trainability(
    accuracy,
    boundary,
    *,
    names: Sequence[str] | None = None,
    metric: str = "val_acc",
    threshold: float | None = None,
    title: str = "",
) -> Figure:
    """Accuracy after a fixed budget over ``(sigma_w^2, depth)``, with the theory's depth.

    Schoenholz et al. (2017), Figs. 5-6: one heat map per activation, the measured
    boundary of the trainable region (dots; open where it lies beyond the deepest
    network tried), the fitted ``c xi`` curve (solid) and ``6 xi`` (dashed), and the
    critical ``sigma_w^2`` (vertical line).

    Parameters
    ----------
    accuracy : pandas.DataFrame
        Columns ``activation``, ``sigma_w2``, ``depth`` and ``metric`` (means over seeds).
    boundary : pandas.DataFrame
        One row per activation and ``sigma_w2``: ``boundary``, ``censored`` (bool),
        ``xi`` (the theory's depth scale), ``c`` (the fitted factor), ``critical``.
    names : sequence of str, optional
        The activations, one panel each, in this order (default: as they appear).
    threshold : float, optional
        The accuracy that counts as trained (shown in the colour bar).
    """
    names = list(dict.fromkeys(accuracy["activation"])) if names is None else list(names)
    fig, axes = _figure(1, len(names), (5.2 * len(names), 4.0))
    for ax, name in zip(axes[0], names, strict=True):
        acc = accuracy[accuracy["activation"] == name]
        grid = acc.pivot_table(index="depth", columns="sigma_w2", values=metric)
        mesh = ax.pcolormesh(
            grid.columns.to_numpy(float),
            grid.index.to_numpy(float),
            grid.to_numpy(),
            shading="nearest",
            cmap="cividis",
            vmin=0.0,
            vmax=1.0,
        )
        label = metric + (f" (trained: > {threshold:g})" if threshold is not None else "")
        fig.colorbar(mesh, ax=ax, label=label)
        b = boundary[boundary["activation"] == name].sort_values("sigma_w2")
        top = float(grid.index.max())
        sw = np.linspace(b["sigma_w2"].min(), b["sigma_w2"].max(), 400)
        xi = np.interp(sw, b["sigma_w2"], np.minimum(b["xi"], 1e6))
        c = float(b["c"].iloc[0])
        ax.plot(sw, np.minimum(c * xi, 10 * top), "w-", lw=2, label=f"{c:.1f} $\\xi$ (fit)")
        ax.plot(sw, np.minimum(6 * xi, 10 * top), "w--", lw=1.2, label=r"6 $\xi$")
        inside = b[~b["censored"]]
        ax.plot(inside["sigma_w2"], inside["boundary"], "o", color="#E69F00", label="boundary")
        beyond = b[b["censored"]]
        ax.plot(beyond["sigma_w2"], beyond["boundary"], "o", mfc="none", color="#E69F00")
        ax.axvline(float(b["critical"].iloc[0]), color="#D55E00", lw=1, ls=":")
        ax.set_ylim(float(grid.index.min()) * 0.9, top * 1.05)
        ax.set_xlabel(r"$\sigma_w^2$")
        ax.set_ylabel("depth (hidden layers)")
        ax.set_title(f"{name}: trainable depth vs $\\sigma_w^2$")
        ax.legend(fontsize=7, loc="upper right", facecolor="0.5", framealpha=0.6)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig

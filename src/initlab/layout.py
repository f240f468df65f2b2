"""How a study's results are laid out: which axis is compared, which are facets, in what order.

A study varies some settings (its *axes*) and compares some of them (its
``compare``).  :func:`plan` turns that design into a :class:`Layout`, the one
answer the terminal tables and the report both draw from:

* settings that vary *together* are one axis: a setting fixed by another
  (minibatch's batch size by the optimizer, the blog's biases by the
  initializer, a leaky slope by its activation) travels with it;
* the **compared** axes vary inside a comparison group; every combination of
  the other varied axes (the **group** axes) is one comparison group, with
  one best configuration (★) and those tied with it (≈);
* one group axis runs **across** (table columns, panel columns: the
  activation when it varies), the others are **facets** (one table or one row
  of panels per level);
* a numeric axis swept at several values (the learning rate) is the **curve**
  axis: the x-axis of a figure;
* nothing is "best over" an axis the study varies unless asked
  (``best_over``): those axes are compared too, and a cell shows its best.

The order of every axis's levels is the study's own order of definition
(:meth:`initlab.study.Study.order`); levels seen in the results but not in the
definition follow in order of appearance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import runs as _runs
from . import stats as _stats
from .errors import ConfigError

__all__ = ["Axis", "Layout", "plan", "label", "norm"]

#: Fields drawn as a curve (an x-axis) when several of their values are swept.
CURVE_KINDS = ("float",)


def norm(value: Any) -> str:
    """A value as a comparable key: ``[16, 16]``, ``(16, 16)`` and ``"16-16"`` alike, ``1`` and
    ``1.0`` alike, None, NaN and ``"-"`` (a hyperparameter a configuration lacks) alike."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (list, tuple)):
        return "-".join(map(str, value)) or "0"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def label(column: str, value: Any, recipe: str | None = None) -> str:
    """How a level is written in tables and figures.

    Architectures read as depth × width (``"24 × 16"``), or their widths when
    they differ (``"8, 16, 8"``; ``"12 layers, 8–32"`` beyond six); every other
    value as :func:`initlab.runs.label` writes it (the recipe's own name beside).

    >>> label("hidden", "16-16-16")
    '3 × 16'
    >>> label("hidden", (8, 16, 8))
    '8, 16, 8'
    """
    if column == "hidden":
        widths = [int(w) for w in norm(value).split("-") if w and w != "0"]
        if not widths:
            return "no hidden layer"
        if len(set(widths)) == 1:
            return f"{len(widths)} × {widths[0]}"
        if len(widths) <= 6:
            return ", ".join(map(str, widths))
        return f"{len(widths)} layers, {min(widths)}–{max(widths)}"
    if isinstance(value, str) and value == "-":
        return "-"
    try:
        return _runs.label(column, value, recipe)
    except (ConfigError, ValueError):
        return _runs.label("dataset", value)  # not a run field: plain formatting


@dataclass(frozen=True)
class Axis:
    """One varied axis: its column, the columns that vary with it, its levels in order."""

    column: str
    levels: tuple
    together: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [self.column, *self.together]

    def __len__(self) -> int:
        return len(self.levels)


@dataclass(frozen=True)
class Layout:
    """The comparisons of a study (see the module docstring); build it with :func:`plan`."""

    compared: tuple[Axis, ...]
    groups: tuple[Axis, ...]
    best_over: tuple[Axis, ...] = ()
    order: Mapping[str, tuple] = field(default_factory=dict)
    recipe: str | None = None

    # -- roles -----------------------------------------------------------------------------
    @property
    def across(self) -> Axis | None:
        """The group axis laid across (columns): the activation if it varies, else the last."""
        for a in self.groups:
            if a.column == "activation":
                return a
        return self.groups[-1] if self.groups else None

    @property
    def facets(self) -> tuple[Axis, ...]:
        """The group axes other than :attr:`across`: one table / row of panels per level."""
        return tuple(a for a in self.groups if a is not self.across)

    @property
    def curve(self) -> Axis | None:
        """A numeric axis swept at several values (the x-axis of a curve), if any."""
        for a in (*self.compared, *self.groups):
            try:
                kind = _runs.get_field(a.column).kind
            except ConfigError:
                continue
            if kind in CURVE_KINDS and len(a) >= 2:
                return a
        return None

    @property
    def lines(self) -> tuple[Axis, ...]:
        """The compared axes drawn as lines of one panel (all but the curve axis)."""
        return tuple(a for a in self.compared if a is not self.curve)

    @property
    def compared_columns(self) -> list[str]:
        """What :func:`initlab.stats.summarize` compares within a block (best-over included)."""
        return [c for a in (*self.compared, *self.best_over) for c in a.columns]

    def levels(self, column: str, present: Sequence | None = None) -> list:
        """The levels of ``column`` in the study's order (only those ``present``, if given)."""
        declared = list(self.order.get(column, ()))
        return declared if present is None else _ordered(declared, present)

    def name(self, axes: Sequence[Axis]) -> str:
        return " / ".join(a.column for a in axes)

    def level_label(self, axes: Sequence[Axis], key: Sequence) -> str:
        return " / ".join(label(a.column, v, self.recipe) for a, v in zip(axes, key, strict=True))

    # -- statistics ------------------------------------------------------------------------
    def summarize(self, runs: pd.DataFrame, metric: str, alpha: float = 0.05) -> pd.DataFrame:
        """:func:`initlab.stats.summarize` with this layout's comparison groups, in its order."""
        out = _stats.summarize(runs, metric, alpha=alpha, compared=self.compared_columns)
        return self.sort(out)

    def sort(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows in the study's order: facets, then across, then the compared levels."""
        keys = []
        for a in (*self.facets, *([self.across] if self.across else []), *self.compared):
            if a.column in frame.columns:
                rank = {norm(v): i for i, v in enumerate(self.levels(a.column, frame[a.column]))}
                keys.append(frame[a.column].map(lambda v, rank=rank: rank[norm(v)]))
        if not keys:
            return frame.reset_index(drop=True)
        order = np.lexsort([k.to_numpy() for k in reversed(keys)])
        return frame.iloc[order].reset_index(drop=True)

    # -- cells -----------------------------------------------------------------------------
    def facet_keys(self, frame: pd.DataFrame) -> list[tuple]:
        """Every combination of the facets' levels present in ``frame``, in order."""
        return self._keys(self.facets, frame)

    def compared_keys(self, frame: pd.DataFrame, axes: Sequence[Axis] | None = None) -> list:
        return self._keys(self.compared if axes is None else axes, frame)

    def _keys(self, axes: Sequence[Axis], frame: pd.DataFrame) -> list[tuple]:
        if not axes:
            return [()]
        levels = [self.levels(a.column, frame[a.column]) for a in axes]
        present = {tuple(norm(v) for v in row) for row in frame[[a.column for a in axes]].values}
        return [k for k in itertools.product(*levels) if tuple(map(norm, k)) in present]

    def select(self, frame: pd.DataFrame, axes: Sequence[Axis], key: Sequence) -> pd.DataFrame:
        """The rows of ``frame`` at the levels ``key`` of ``axes``."""
        mask = np.ones(len(frame), bool)
        for a, v in zip(axes, key, strict=True):
            mask &= frame[a.column].map(norm).to_numpy() == norm(v)
        return frame[mask]

    def cells(self, summary: pd.DataFrame) -> Iterator[tuple[tuple, pd.DataFrame]]:
        """``(facet key, rows)`` per facet: one table / heatmap panel each."""
        for key in self.facet_keys(summary):
            yield key, self.select(summary, self.facets, key)

    def best_of(self, rows: pd.DataFrame, higher_is_better: bool = True) -> pd.Series | None:
        """The row with the best mean (the one a cell shows when axes are best-over)."""
        if rows.empty:
            return None
        m = rows["mean"].to_numpy(float)
        if np.isnan(m).all():
            return rows.iloc[0]
        return rows.iloc[int(np.nanargmax(m) if higher_is_better else np.nanargmin(m))]

    def title(self, key: Sequence) -> str:
        """``"hidden 24 × 16"`` for a facet key (empty for none)."""
        return ", ".join(
            f"{a.column} {label(a.column, v, self.recipe)}"
            for a, v in zip(self.facets, key, strict=True)
        )

    def describe(self) -> str:
        """One sentence: what is compared, in which groups, best over what."""
        what = self.name(self.compared) or "every configuration"
        text = f"{what} compared"
        if self.groups:
            text += f" within each {' × '.join(a.column for a in self.groups)}"
        if self.best_over:
            text += f", best over {', '.join(a.column for a in self.best_over)}"
        return text


def _ordered(declared: Sequence, present: Sequence) -> list:
    """The ``present`` values, those ``declared`` first in their order, then the others in
    order of appearance (values compared by :func:`norm`)."""
    keys = {}
    for v in present:
        keys.setdefault(norm(v), v)
    out = [keys[norm(v)] for v in declared if norm(v) in keys]
    seen = {norm(v) for v in out}
    return out + [v for k, v in keys.items() if k not in seen]


def _axes_of(frame: pd.DataFrame, order: Mapping[str, Sequence]) -> list[Axis]:
    """The varied axes of a results or summary frame, settings that vary together merged."""
    cfg = _stats.config_columns(frame)
    keys = frame[cfg].copy()
    for c in cfg:
        keys[c] = keys[c].map(norm)
    varied = [c for c in cfg if keys[c].nunique() > 1]
    rank = {c: i for i, c in enumerate(order)}
    varied.sort(key=lambda c: rank.get(c, len(rank) + cfg.index(c)))
    axes: list[list[str]] = []
    for c in varied:
        try:
            owner = _runs.get_field(c).owner
        except ConfigError:
            owner = ""
        home = next((a for a in axes if owner and owner in a), None)
        if home is None:  # fixed by an earlier axis (minibatch's batch size): one axis
            home = next((a for a in axes if keys.groupby(a)[c].nunique().max() <= 1), None)
        if home is None:
            axes.append([c])
        else:
            home.append(c)
    return [
        Axis(a[0], tuple(_ordered(order.get(a[0], ()), frame[a[0]].tolist())), tuple(a[1:]))
        for a in axes
    ]


def plan(
    frame: pd.DataFrame,
    compare: Sequence[str] = ("init", "bias_init"),
    order: Mapping[str, Sequence] | None = None,
    best_over: Sequence[str] = (),
    recipe: str | None = None,
) -> Layout:
    """The layout of a study's results.

    Parameters
    ----------
    frame : DataFrame
        The study's runs (or its summary): configuration columns.
    compare : the settings the study compares (:attr:`Study.compare`).  When
        none of them varies, the first varied axis is compared.
    order : mapping column -> levels
        The study's order of definition (:meth:`Study.order`); by default the
        order of first appearance in ``frame``.
    best_over : settings to take the best over (a cell shows its best level),
        though the study varies them.
    recipe : the study's recipe, for the names levels are written with.

    Raises
    ------
    ConfigError
        ``best_over`` names a setting the study does not vary.
    """
    order = dict(order or {})
    for c in _stats.config_columns(frame):
        if c not in order:
            order[c] = list(dict.fromkeys(frame[c].tolist()))
    axes = _axes_of(frame, order)

    def _on(a: Axis, names) -> bool:
        return any(c in names for c in a.columns)

    varied = [c for a in axes for c in a.columns]
    for c in best_over:
        if c not in varied:
            raise ConfigError(
                f"cannot take the best over {c!r}: the study does not vary it; it varies "
                f"{', '.join(a.column for a in axes) or 'nothing'}",
                "best_over",
            )
    over = tuple(a for a in axes if _on(a, best_over))
    rest = [a for a in axes if a not in over]
    compared = tuple(a for a in rest if _on(a, compare))
    if not compared and rest:
        # nothing the study compares varies: compare along its first axis (not the data)
        pick = next((a for a in rest if a.column != "dataset"), rest[0])
        compared = (pick,)
    groups = tuple(a for a in rest if a not in compared)
    levels = {a.column: a.levels for a in axes}
    full = {c: tuple(v) for c, v in order.items()} | levels
    return Layout(compared, groups, over, full, recipe)

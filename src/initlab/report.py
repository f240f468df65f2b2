"""One self-contained HTML report of a study: winners, heatmaps, loss bands, boundaries, runs.

:func:`build` regenerates the report of a stored study from the store alone
(``initlab report --store initlab.db --study NAME -o report.html``);
:func:`render` writes it from anything that looks like a study (a
:class:`~initlab.study.Study`, or :func:`from_frames` over the tables of
:func:`initlab.sweep`).

The page holds:

* the winners: the best configuration and those statistically tied with it;
* heatmaps of mean validation accuracy (initializer × activation, one per
  optimizer), and loss bands over seeds;
* decision boundaries of every initializer × activation (2-feature data), and
  the per-parameter update grids of the best and the worst run -- runs are
  deterministic, so these few are retrained from their stored configuration
  (the report checks they reproduce the stored accuracy);
* a sortable table of configurations and of runs;
* provenance: versions, command, configuration, seeds, machine, date.

Images are embedded as base64 PNG and the table sorter is a few lines of
inline JavaScript: the file opens offline, alone, anywhere.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import json
import math
import numbers
import os
import platform
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import engine as _engine
from . import plots, stats

__all__ = ["build", "render", "from_frames", "summarize", "check_output_path", "FrameStudy"]

#: Outcome columns of a run, in the order the runs table shows them.
OUTCOMES = (
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "diverged",
    "diverged_epoch",
    "time_s",
)
#: Runs listed in the runs table at most (the configuration table is always complete).
MAX_TABLE_RUNS = 3000
#: Resolution of embedded figures: the plots' own (text at the page's size, 1:1).
DPI = plots.DPI


# --------------------------------------------------------------------------- inputs


def check_output_path(out_path: str | os.PathLike) -> Path:
    """The output path, or a clear error if its directory is missing or not writable.

    Checked before any work is done, so a typo fails in a second, not after training.
    """
    path = Path(out_path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"output path {str(path)!r} is a directory; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        raise FileNotFoundError(
            f"cannot write {str(path)!r}: directory {str(parent)!r} does not exist"
        )
    if not parent.is_dir():
        raise NotADirectoryError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise PermissionError(f"cannot write {str(path)!r}: permission denied")
    return path


def _config_columns(results: pd.DataFrame) -> list[str]:
    """The columns that say what a run was, seed excluded (a configuration's identity)."""
    return stats.config_columns(results)


def _key(values: pd.DataFrame) -> pd.Series:
    """A key per row, equal for equal configurations (NaN, None and "-" alike, 1 and 1.0
    alike): a 64-bit hash of the normalized values."""

    def norm(v):
        # the study's summary writes "-" for a missing hyperparameter, the runs NaN or None
        if (
            v is None
            or (isinstance(v, float) and math.isnan(v))
            or (isinstance(v, str) and v == "-")
        ):
            return "∅"
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v)

    # each column's distinct values normalized once, then the row hashed (64 bits, in C):
    # linear in rows, and no per-row Python string work
    normalized = {}
    for col in values.columns:
        codes, uniques = pd.factorize(values[col], use_na_sentinel=True)
        names = np.array([norm(u) for u in uniques] + ["∅"], dtype=object)  # -1: NaN/None
        normalized[col] = names[codes]
    if not normalized:
        return pd.Series(np.zeros(len(values), np.uint64), index=values.index)
    frame = pd.DataFrame(normalized, index=values.index)
    return pd.util.hash_pandas_object(frame, index=False)


def summarize(
    results: pd.DataFrame, metric: str = "val_acc", compared: Sequence[str] = ("init", "bias_init")
) -> pd.DataFrame:
    """The study's statistics (:func:`initlab.stats.summarize`) for bare tables, best first.

    Used when the report is made from :func:`initlab.sweep` frames: the same
    bootstrap intervals, paired tests and blocks as :meth:`Study.summary`.
    """
    out = stats.summarize(results, metric, compared=compared)
    return out.sort_values(["block", "rank"], kind="stable").reset_index(drop=True)


@dataclass
class FrameStudy:
    """A study made of bare tables (e.g. from :func:`initlab.sweep`), for :func:`render`.

    It offers what the report needs from a :class:`~initlab.study.Study`:
    ``name``, ``config``, ``results()``, ``curves(hashes)``, ``summary(metric,
    runs)``, ``network(row)`` and ``dataset(name)``.
    """

    name: str
    runs: pd.DataFrame
    curve_frame: pd.DataFrame | None = None
    config: dict = field(default_factory=dict)
    data: Any = None  # a Dataset, or a dict name -> Dataset

    def results(self) -> pd.DataFrame:
        return self.runs

    def curves(self, hashes=None) -> pd.DataFrame:
        if self.curve_frame is None:
            return pd.DataFrame()
        if hashes is None:
            return self.curve_frame
        return self.curve_frame[self.curve_frame["run_hash"].isin(set(hashes))]

    def summary(self, metric: str = "val_acc", runs: pd.DataFrame | None = None) -> pd.DataFrame:
        runs = self.runs if runs is None else runs
        return _layout_of(self, runs).summarize(runs, metric)

    def network(self, row):
        from .runs import RunSpec

        return RunSpec.from_row(row).network()

    def dataset(self, label: str):
        from . import datasets

        if isinstance(self.data, Mapping) and label in self.data:
            return self.data[label]
        if self.data is not None and getattr(self.data, "label", None) == label:
            return self.data
        return datasets.load(label)


def from_frames(
    name: str,
    runs: pd.DataFrame,
    curves: pd.DataFrame | None = None,
    config: dict | None = None,
    data=None,
) -> FrameStudy:
    """A study-like object over the tables of :func:`initlab.sweep`, for :func:`render`.

    ``curves`` may key runs by ``run_hash`` or by ``run`` (the row index of
    ``runs``, as ``sweep(..., curves=True)`` returns them).
    """
    runs = runs.copy()
    if "run_hash" not in runs.columns:
        runs["run_hash"] = [f"run{i}" for i in range(len(runs))]
    if curves is not None:
        curves = curves.copy()
        if "run_hash" not in curves.columns:
            if "run" not in curves.columns:
                raise ValueError("curves need a 'run_hash' or a 'run' column naming their run")
            curves["run_hash"] = runs["run_hash"].to_numpy()[curves["run"].to_numpy()]
    return FrameStudy(name, runs, curves, dict(config or {}), data)


# --------------------------------------------------------------------------- figures


def _png(fig, dpi: int = DPI) -> str:
    """A figure as a base64 PNG data URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches=None)  # the figures lay themselves out
    # no fig.clear(): clearing axes one by one costs more than drawing them; the
    # figure is never pyplot-registered, so dropping the reference frees it
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


@dataclass
class _Figure:
    title: str
    uri: str
    caption: str = ""


def _safe(what: str, notes: list[str], make: Callable[[], Any]):
    """Run a figure maker; a failure becomes a note in the report instead of no report."""
    try:
        return make()
    except Exception as exc:  # noqa: BLE001 - the report must still be written
        notes.append(f"{what}: not drawn ({type(exc).__name__}: {exc})")
        return None


@dataclass
class _Job:
    """One figure of the report, drawn independently of the others (possibly in a worker).

    ``make(notes, reproduced)`` retrains what it needs and returns a Figure
    (or None, having said why in ``notes``); retrained runs append their
    ``(stored, retrained)`` metric to ``reproduced``.  ``cost`` is a rough
    relative drawing time, to hand the largest figures out first.
    """

    section: str
    what: str
    title: str
    caption: str
    make: Callable[[list[str], list[tuple[float, float]]], Any]
    cost: float = 1.0


@dataclass
class _Drawn:
    """What a job gives back: the PNG (None if not drawn), its notes and reproductions."""

    uri: str | None
    notes: list[str]
    reproduced: list[tuple[float, float]]


def _draw(job: _Job) -> _Drawn:
    notes: list[str] = []
    reproduced: list[tuple[float, float]] = []
    fig = _safe(job.what, notes, lambda: job.make(notes, reproduced))
    uri = None if fig is None else _safe(job.what, notes, lambda: _png(fig))
    return _Drawn(uri, notes, reproduced)


# The jobs of the report being drawn; forked workers inherit them and receive indices
# (the jobs close over the study and its tables, which need not be picklable).
_JOBS: list[_Job] = []


def _draw_index(i: int) -> _Drawn:
    return _draw(_JOBS[i])


def _check_workers(workers) -> None:
    ok = workers is None or (
        isinstance(workers, numbers.Integral) and not isinstance(workers, bool) and workers >= 1
    )
    if not ok:
        raise ValueError(
            f"workers must be None (one per CPU) or an integer >= 1 (1: no worker "
            f"processes), got {workers!r}"
        )


def _n_workers(n_jobs: int, workers: int | None) -> int:
    """Worker processes to use: 1 (serial) unless forking is available and safe."""
    import multiprocessing
    import threading

    _check_workers(workers)
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    n = min(n_jobs, cpus, 4) if workers is None else min(n_jobs, int(workers))
    # Linux only: macOS offers fork, but system libraries there do not survive it
    if n <= 1 or not sys.platform.startswith("linux"):
        return 1
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    # forking a process with other threads running (a web server, dask) can deadlock
    # the child, and torch and jax keep thread pools that do not survive a fork
    if threading.active_count() > 1 or any(m in sys.modules for m in ("torch", "jax")):
        return 1
    return n


def _draw_all(jobs: Sequence[_Job], workers: int | None = None) -> list[_Drawn]:
    """Draw every job, in forked worker processes where possible; results in job order.

    The figures are independent and matplotlib is single-threaded, so each
    worker process draws whole figures (retraining included).  Workers are
    forked: they share the parent's imported modules, study and tables, and
    start in milliseconds.  Anything that stops the pool (a worker killed, a
    process limit) falls back to drawing in this process.
    """
    import gc

    n = _n_workers(len(jobs), workers)
    # The objects alive now (the study, its tables, the modules) outlive the drawing:
    # frozen, the garbage collector stops rescanning them while figures come and go
    # (a tenth of the drawing time), and forked workers do not copy their pages.
    freeze = gc.get_freeze_count() == 0  # (the caller's own frozen objects stay frozen)
    if freeze:
        gc.freeze()
    try:
        if n > 1:
            drawn = _draw_forked(jobs, n)
            if drawn is not None:
                return drawn
        return [_draw(job) for job in jobs]
    finally:
        if freeze:
            gc.unfreeze()


def _draw_forked(jobs: Sequence[_Job], n: int) -> list[_Drawn] | None:
    """The jobs drawn by ``n`` forked workers, or None if the pool broke."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _JOBS
    _JOBS = list(jobs)
    # the largest figures first, so that no worker is left with one at the end
    order = sorted(range(len(jobs)), key=lambda i: -jobs[i].cost)
    try:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork")) as pool:
            futures = {i: pool.submit(_draw_index, i) for i in order}
            return [futures[i].result() for i in range(len(jobs))]
    except Exception:  # noqa: BLE001 - BrokenProcessPool, OSError: draw them here instead
        return None
    finally:
        _JOBS = []


def _retrain(study, row: Mapping[str, Any], record: bool = True, data=None):
    """The run of ``row`` trained again (runs are deterministic), and its data set."""
    net = study.network(row)
    if record:
        net.set_params(record_params=True)
    if data is None:
        data = study.dataset(row["dataset"]) if "dataset" in row else study.dataset(None)
    stored = row.get("data_id") if hasattr(row, "get") else None
    if isinstance(stored, str) and stored != data.id:
        raise ValueError(
            f"the data set {row.get('dataset')!r} is not the one this run was trained on "
            f"(its identity was {stored}, now {data.id}: a data file changed?); not retrained"
        )
    net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    return net, data


@dataclass
class _Cells:
    """The summary written as the figures show it: each configuration's line (the
    compared levels), column (the axis across) and panel (facets, and the curve axis
    when it is compared), with each one's order."""

    frame: pd.DataFrame  # the summary plus the columns named below (labels)
    line: str
    col: str | None
    panel: str | None
    orders: dict[str, list]


def _cells(layout, summary: pd.DataFrame) -> _Cells:
    curve = layout.curve
    panel_axes = [
        *layout.facets,
        *([curve] if curve is not None and curve in layout.compared else []),
    ]
    across = [layout.across] if layout.across is not None else []
    roles = (("line", list(layout.lines)), ("col", across), ("panel", panel_axes))
    out = summary.copy()
    names: dict[str, str | None] = {}
    orders: dict[str, list] = {}
    for role, axes in roles:
        if not axes and role != "line":
            names[role] = None
            continue
        name = layout.name(axes) or "configuration"
        if name in summary.columns:  # the levels' labels beside the values: same name, shown,
            name += "\u00a0"  # and a no-break space that keeps the column apart
        keys = layout.compared_keys(summary, axes) if axes else [()]
        orders[name] = [layout.level_label(axes, k) or "all" for k in keys]
        cols = [a.column for a in axes]
        out[name] = (
            [layout.level_label(axes, k) for k in summary[cols].itertuples(index=False)]
            if axes
            else "all"
        )
        names[role] = name
    return _Cells(out, names["line"], names["col"], names["panel"], orders)


def _chosen(cells: _Cells, higher: bool) -> pd.DataFrame:
    """The configuration each (panel, column, line) shows: the best of its best-over levels."""
    f = cells.frame
    by = [c for c in (cells.panel, cells.col, cells.line) if c]
    key = f["mean"].fillna(-np.inf if higher else np.inf)
    order = f.assign(_k=key).sort_values("_k", ascending=not higher, kind="stable")
    return order.drop_duplicates(by, keep="first").drop(columns="_k")


def _runs_of(configs: pd.DataFrame, results: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """The runs of ``configs`` (summary rows), with the ``labels`` columns of their row."""
    config = [c for c in _config_columns(results) if c in configs.columns]
    keys = _key(configs[config]).to_numpy()
    index = {k: i for i, k in enumerate(keys)}
    at = _key(results[config]).map(index)
    runs = results[at.notna().to_numpy()].copy()
    rows = at.dropna().astype(int).to_numpy()
    for c in labels:
        runs[c] = configs[c].to_numpy()[rows]
    return runs


def _teaching(row: Mapping[str, Any], n_classes: int | None, metric: str) -> str:
    """Why a worst run is worth a look, in words (what its figures show)."""
    if row.get("init") == "zeros":
        return (
            "zero initialization: every unit of a layer starts equal and receives the same "
            "update, so the symmetry is never broken (the hidden layer acts as one unit; "
            "updates that stay at zero are parameters that never learn)"
        )
    if bool(row.get("diverged")):
        return (
            f"diverged at epoch {row.get('diverged_epoch')}: the loss or the weights became "
            "non-finite (the step is too large for this network)"
        )
    acc = row.get("val_acc")
    if n_classes and acc is not None and np.isfinite(acc) and acc <= 1 / n_classes + 0.05:
        return f"no better than chance (1/{n_classes} = {1 / n_classes:.2f}): it did not learn"
    return f"the lowest mean {metric} of the study"


def _worst_config(summary: pd.DataFrame, higher: bool) -> pd.Series:
    """The configuration with the worst mean; among equally bad ones, a zero init first
    (its symmetry is the lesson the blog draws)."""
    m = summary["mean"].astype(float)
    worst = m.min() if higher else m.max()
    tied = summary[np.isclose(m, worst, rtol=0, atol=1e-9)]
    if tied.empty:
        tied = summary.iloc[[int(np.nanargmin(m) if higher else np.nanargmax(m))]]
    zeros = tied[tied["init"] == "zeros"] if "init" in tied.columns else tied.iloc[:0]
    return (zeros if not zeros.empty else tied).iloc[0]


def _median_run(runs: pd.DataFrame, metric: str) -> pd.Series:
    ordered = runs.sort_values([metric, "seed"], kind="stable", na_position="last")
    return ordered.iloc[(len(ordered) - 1) // 2]


def _jobs(study, results, summary, layout, curves_of, notes, metric) -> list[_Job]:
    """The report's figures, as independent jobs, in the order the page shows them."""
    higher = not metric.endswith("loss")
    cells = _cells(layout, summary)
    finite = summary[np.isfinite(summary["mean"].astype(float))]
    best_cfg = None
    if not finite.empty:
        best_cfg = finite.iloc[
            int(np.argmax(finite["mean"]) if higher else np.argmin(finite["mean"]))
        ]
    few, shown = _few_panels(cells, best_cfg)
    jobs = [_with_caption(_heatmap_job(few, metric), shown)]
    if layout.curve is not None:
        jobs.append(_curve_job(layout, cells, metric))
    chosen = _chosen(cells, higher)
    if "run_hash" in results.columns:
        job = _loss_job(results, _chosen(few, higher), few, curves_of)
        if job is not None:
            jobs.append(_with_caption(job, shown))
    if best_cfg is None:
        return jobs
    data = _safe("data set", notes, lambda: _dataset_of(study, best_cfg))
    if data is None:
        return jobs
    if data.n_features == 2:
        jobs.append(_boundary_job(study, results, chosen, cells, best_cfg, data))
    else:
        notes.append(f"decision boundaries: skipped, the data has {data.n_features} features")
    best_runs = _runs_of(best_cfg.to_frame().T, results, [])
    best = best_runs.sort_values(metric, ascending=not higher, kind="stable").iloc[0]
    worst_cfg = _worst_config(finite, higher)
    worst = _median_run(_runs_of(worst_cfg.to_frame().T, results, []), metric)
    same = worst.get("dataset") == best_cfg.get("dataset")
    worst_data = data if same else _safe("data set", notes, lambda: _dataset_of(study, worst))
    if worst_data is None:
        return jobs
    why = _teaching(worst, worst_data.n_classes, metric)
    if data.n_features == 2 and worst_data.n_features == 2:
        jobs.append(_mistakes_job(study, (best, data), (worst, worst_data), why))
    for which, row, d, caption in (
        ("best", best, data, "the best configuration's best seed"),
        ("worst", worst, worst_data, why),
    ):
        jobs.append(_updates_job(study, which, row, caption, d, metric))
    return jobs


#: Facet levels drawn at most in the heatmaps and the loss curves (a sweep of 40 learning
#: rates would draw 40 panels and read every seed's curve of each); the curve against the
#: swept setting and the tables show every level.
MAX_PANELS = 6


def _few_panels(cells: _Cells, best_cfg) -> tuple[_Cells, str]:
    """``cells`` with at most :data:`MAX_PANELS` panel levels (evenly spaced in the study's
    order, the best configuration's always among them), and a caption saying so."""
    levels = cells.orders.get(cells.panel, []) if cells.panel else []
    if len(levels) <= MAX_PANELS:
        return cells, ""
    best = None if best_cfg is None else cells.frame.loc[best_cfg.name, cells.panel]
    picks = set(np.linspace(0, len(levels) - 1, MAX_PANELS - 1).round().astype(int).tolist())
    keep = [v for i, v in enumerate(levels) if i in picks or v == best]
    frame = cells.frame[cells.frame[cells.panel].isin(keep)]
    orders = {**cells.orders, cells.panel: keep}
    shown = (
        f"{len(keep)} of the {len(levels)} {cells.panel.strip()} levels (evenly spaced, and the "
        "best configuration's); the tables show them all"
    )
    return replace(cells, frame=frame, orders=orders), shown


def _with_caption(job: _Job, extra: str) -> _Job:
    if not extra:
        return job
    return replace(job, caption=f"{job.caption}; {extra}" if job.caption else extra)


def _dataset_of(study, row):
    return study.dataset(row["dataset"]) if "dataset" in row else study.dataset(None)


def _heatmap_job(cells: _Cells, metric: str) -> _Job:
    f = cells.frame

    def make(notes, reproduced):
        return plots.accuracy_heatmap(
            f,
            row=cells.line,
            col=cells.col or cells.line,
            by=cells.panel,
            row_order=cells.orders[cells.line],
            col_order=cells.orders[cells.col] if cells.col else None,
            by_order=cells.orders[cells.panel] if cells.panel else None,
            title=f"mean {_metric_words(metric)}",
        )

    size = len(f) / 16
    return _Job("heatmaps", "accuracy heatmap", f"Mean {metric}", "", make, cost=0.5 + size)


def _curve_job(layout, cells: _Cells, metric: str) -> _Job:
    curve = layout.curve
    x_order = sorted(layout.levels(curve.column, cells.frame[curve.column]), key=float)
    rest = [a for a in layout.facets if a is not curve]  # panel rows: the other facets
    f = cells.frame.copy()
    cols = [a.column for a in rest]
    f["_panel"] = (
        [layout.level_label(rest, k) for k in f[cols].itertuples(index=False)] if rest else ""
    )

    def make(notes, reproduced):
        return plots.metric_curve(
            f,
            x=curve.column,
            line=cells.line,
            col=cells.col,
            row="_panel" if rest else None,
            x_order=x_order,
            orders=cells.orders,
            metric=metric,
        )

    return _Job(
        "heatmaps",
        "curve",
        f"Mean {metric} against {curve.column}",
        f"one point per {curve.column}, error bars: the bootstrap 95% CI of the mean",
        make,
        cost=0.6,
    )


def _loss_job(results, chosen: pd.DataFrame, cells: _Cells, curves_of) -> _Job | None:
    labels = [c for c in (cells.line, cells.col, cells.panel) if c]
    runs = _runs_of(chosen, results, labels)
    c = curves_of(list(runs["run_hash"]))  # only the curves drawn are read
    if c is None or c.empty or "run_hash" not in c.columns:
        return None

    def make(notes, reproduced):
        return plots.loss_grid(
            c,
            runs,
            line=cells.line,
            col=cells.col,
            row=cells.panel,
            orders=cells.orders,
            metric="val_loss",
            width=plots.PAGE_WIDTH,
        )

    n_panels = len(cells.orders.get(cells.col, [0])) * len(cells.orders.get(cells.panel, [0]))
    return _Job(
        "bands",
        "loss curves",
        "Validation loss",
        f"{cells.line.strip()} overlaid, one panel per cell; every seed of each configuration",
        make,
        cost=0.3 + 0.12 * n_panels,
    )


def _boundary_job(study, results, chosen, cells: _Cells, best_cfg, data) -> _Job:
    here = chosen
    if cells.panel:  # the panel (facet levels) of the best configuration
        panel = cells.frame.loc[best_cfg.name, cells.panel]
        here = chosen[chosen[cells.panel] == panel]
    if "dataset" in here.columns and "dataset" in best_cfg:
        here = here[here["dataset"] == best_cfg["dataset"]]
    col = cells.col
    labels = [c for c in (cells.line, col) if c]
    firsts = _runs_of(here, results, labels).sort_values("seed", kind="stable")
    firsts = firsts.drop_duplicates(labels)
    rows = [v for v in cells.orders[cells.line] if v in set(firsts[cells.line])]
    cols = [v for v in cells.orders[col] if v in set(firsts[col])] if col else None
    where = f" at {cells.panel.strip()} {panel}" if cells.panel else ""

    def make(notes, reproduced):
        nets = {}
        for _, row in firsts.iterrows():
            net = _safe("retraining", notes, lambda row=row: _retrain(study, row, False, data)[0])
            if net is not None:
                nets[(row[cells.line], row[col] if col else "")] = net
                reproduced.append((row["val_acc"], net.history_["val_acc"][-1]))
        if not nets:
            return None
        return plots.boundary_grid(
            nets,
            data,
            resolution=100,
            row_order=rows,
            col_order=cols or [""],
            title=f"rows {cells.line.strip()}" + (f", columns {col.strip()}" if col else ""),
        )

    return _Job(
        "boundaries",
        "decision boundaries",
        f"Decision boundaries on {data.name}{where}",
        "each cell's configuration, its smallest seed",
        make,
        cost=0.5 + 0.1 * len(firsts),
    )


def _mistakes_job(study, best, worst, why) -> _Job:
    """The blog's mistakes scatter of the best and the worst run (each ``(row, data)``)."""

    def make(notes, reproduced):
        panels = {}
        for which, (row, data) in (("best", best), ("worst", worst)):
            net = _retrained(study, row, data, notes, reproduced)
            panels[_wrap(f"{which}: {_describe_run(row)}")] = (net, data)
        return plots.mistakes_pair(panels, width=plots.PAGE_WIDTH)

    return _Job(
        "runs",
        "mistakes",
        "Mistakes of the best and the worst run",
        f"validation points; large dots are the wrong predictions. Worst: {why}",
        make,
        cost=0.5,
    )


def _wrap(text: str, width: int = 52) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def _retrained(study, row, data, notes, reproduced, record=False):
    net = _safe("retraining", notes, lambda: _retrain(study, row, record, data)[0])
    if net is not None:
        reproduced.append((row["val_acc"], net.history_["val_acc"][-1]))
    return net


def _updates_job(study, which, row, caption, data, metric) -> _Job:
    def make(notes, reproduced):
        net = _retrained(study, row, data, notes, reproduced, record=True)
        if net is None:
            return None
        if len(net.param_names_) <= 18:  # the blog's whole grid: a glance still
            return plots.update_grid(net, ncols=6, width=plots.PAGE_WIDTH)
        return plots.update_grid(
            net, max_panels_per_layer=3, max_layers=3, ncols=6, width=plots.PAGE_WIDTH
        )

    return _Job(
        "runs",
        "update grid",
        f"Updates per parameter, {which} run",
        f"{_describe_run(row)}, validation accuracy {row['val_acc']:.3f}: {caption}",
        make,
        cost=0.8,
    )


def _metric_words(metric: str) -> str:
    split, _, kind = metric.partition("_")
    return (
        {"val": "validation", "train": "training"}.get(split, split)
        + " "
        + {"acc": "accuracy"}.get(kind, kind)
    )


def _figures(
    study, results, summary, layout, curves_of, notes, reproduced, metric, workers=None
) -> dict[str, list[_Figure]]:
    """Every figure of the report by section; notes and reproductions appended in place."""
    out: dict[str, list[_Figure]] = {"heatmaps": [], "bands": [], "boundaries": [], "runs": []}
    jobs = _jobs(study, results, summary, layout, curves_of, notes, metric)
    for job, drawn in zip(jobs, _draw_all(jobs, workers), strict=True):
        notes.extend(drawn.notes)
        reproduced.extend(drawn.reproduced)
        if drawn.uri is not None:
            out[job.section].append(_Figure(job.title, drawn.uri, job.caption))
    return out


def _describe_run(row: Mapping[str, Any]) -> str:
    from .layout import label

    parts = []
    for key in ("activation", "init", "optimizer", "learning_rate", "hidden", "seed"):
        if key in row and row[key] is not None:
            parts.append(f"{key} {label(key, row[key])}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- tables


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if abs(v) < 1e-12:  # rounding noise (the std of equal values): zero
            return "0"
        return f"{v:.4g}"
    return str(v)


def _table(df: pd.DataFrame, columns: Sequence[str] | None) -> dict:
    """Columns and cells for the template; numeric cells carry a sort key."""
    columns = list(df.columns) if columns is None else columns
    cols = list(dict.fromkeys(c for c in columns if c in df.columns))
    best = df["best"].fillna(False).astype(bool).tolist() if "best" in df else [False] * len(df)
    rows = []
    for rec, is_best in zip(df[cols].itertuples(index=False), best, strict=True):
        cells = []
        for v in rec:
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
                v, (bool, np.bool_)
            )
            key = "" if not num or (isinstance(v, float) and math.isnan(v)) else repr(float(v))
            cells.append({"text": _fmt(v), "key": key})
        rows.append({"cells": cells, "best": is_best})
    return {"columns": cols, "rows": rows}


def _varying(df: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    return [c for c in columns if c in df.columns and df[c].astype(str).nunique() > 1]


# --------------------------------------------------------------------------- provenance


def _versions() -> dict[str, str]:
    from . import __version__

    out = {"initlab": __version__, "python": platform.python_version()}
    for dist in ("numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "jinja2"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _machine() -> dict[str, str]:
    return {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": str(os.cpu_count()),
    }


# --------------------------------------------------------------------------- rendering


def _template():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("report.html.j2")


def render(
    study,
    out_path: str | os.PathLike,
    command: str | None = None,
    metric: str | None = None,
    workers: int | None = None,
    best_over: Sequence[str] = (),
) -> Path:
    """Write the HTML report of a study-like object; return the path.

    Parameters
    ----------
    study : Study or FrameStudy
        Anything with ``name``, ``config``, ``results()``, ``curves()``,
        ``summary(metric)``, ``network(row)`` and ``dataset(name)``.  The
        results are read once; when ``summary`` takes ``runs`` and ``curves``
        takes ``hashes`` (as :class:`~initlab.study.Study` and
        :class:`FrameStudy` do), the statistics reuse them and only the curves
        a figure draws are read, so memory stays bounded for large studies.
    out_path : path
        The HTML file to write (its directory must exist and be writable).
    command : str, optional
        The command line that made the report, for the provenance section
        (default: this process's ``sys.argv``).
    metric : str
        The metric the winners are chosen by.
    workers : int, optional
        Processes drawing the figures at once: None (default) for one per
        available CPU, at most 4, where processes can be forked safely (Linux,
        no other thread running, neither torch nor jax imported); 1 draws them
        one after the other in this process.  The report is the same either way.

    Returns
    -------
    Path
    """
    started = time.perf_counter()
    path = check_output_path(out_path)
    _check_workers(workers)
    if metric is None:  # the study's own (val_loss for regression)
        metric = study.default_metric() if hasattr(study, "default_metric") else "val_acc"
    results = study.results()  # read once: the statistics and every table use this frame
    if results is None or len(results) == 0:
        raise ValueError(f"study {study.name!r} has no runs yet: nothing to report")
    layout = _layout_of(study, results, best_over)
    summary = layout.summarize(results, metric)
    notes: list[str] = []
    reproduced: list[tuple[float, float]] = []
    figures = _figures(
        study, results, summary, layout, _curve_source(study), notes, reproduced, metric, workers
    )

    config_cols = [c for c in _config_columns(results) if c in summary.columns]
    shown_config = [
        c for a in (*layout.groups, *layout.compared, *layout.best_over) for c in a.columns
    ]
    shown_config = [c for c in shown_config if c in summary.columns] or config_cols[:4]
    stat_cols = [
        c
        for c in ("mean", "std", "ci_low", "ci_high", "n", "diverged", "rank", "p_value")
        if c in summary
    ]
    ranked = summary.sort_values("mean", ascending=metric.endswith("loss"), na_position="last")
    best = ranked.iloc[0]  # the best mean of all (each comparison group has its own best)
    winners = _winners(summary, best)
    runs_cols = _varying(results, config_cols) + ["seed", *[m for m in OUTCOMES]]
    runs_table = layout.sort(results)
    truncated = len(results) > MAX_TABLE_RUNS
    if truncated:
        runs_table = results.sort_values(metric, ascending=False).head(MAX_TABLE_RUNS)
    diffs = [abs(a - b) for a, b in reproduced if np.isfinite(a) and np.isfinite(b)]
    seeds = sorted(set(results["seed"].tolist())) if "seed" in results else []
    config = _study_config(study)
    info = dict(getattr(study, "store_info", {}) or {})
    context = {
        "name": study.name,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "n_runs": len(results),
        "n_configs": len(summary),
        "n_diverged": int(results["diverged"].sum()) if "diverged" in results else 0,
        "metric": metric,
        "best": {
            a.column: _label(a.column, best[a.column])
            for a in (*layout.groups, *layout.compared, *layout.best_over)
        },
        "best_mean": _fmt(best["mean"]),
        "best_ci": (
            f"{_fmt(best['ci_low'])} – {_fmt(best['ci_high'])}"
            if {"ci_low", "ci_high"} <= set(best.index)
            else ""
        ),
        "winners": _table(
            winners,
            [
                *[a.column for a in layout.groups],
                *_varying(winners, shown_config),
                *stat_cols,
                "best",
                "tied",
            ],
        ),
        "groups": _table(_group_bests(layout, summary), None),
        "story": stats.story(),
        "divergence": _engine.DIVERGENCE_RULE,
        "layout": layout.describe(),
        "figures": figures,
        "configs": _table(
            _labelled(summary, shown_config), [*shown_config, *stat_cols, "best", "tied"]
        ),
        "runs": _table(runs_table, runs_cols),
        "runs_truncated": truncated,
        "max_runs": MAX_TABLE_RUNS,
        "notes": notes,
        "reproduced": (
            f"{len(diffs)} retrained run(s) reproduce the stored {metric}: "
            f"largest difference {max(diffs):.2g}"
            if diffs
            else ""
        ),
        "versions": _versions(),
        "machine": _machine(),
        "command": command if command is not None else " ".join(map(shlex.quote, sys.argv)),
        "study_info": {k: _fmt(v) for k, v in info.items() if v is not None},
        "config_json": json.dumps(config, indent=2, sort_keys=True, default=str),
        "seeds": ", ".join(map(str, seeds)) if len(seeds) <= 50 else f"{len(seeds)} seeds",
    }
    context["seconds"] = f"{time.perf_counter() - started:.1f}"
    html = _template().render(**context)
    from .files import replacing

    with replacing(path) as tmp:  # a full disk leaves no half-written report
        tmp.write_text(html, encoding="utf-8")
    return path


def _layout_of(study, results: pd.DataFrame, best_over: Sequence[str] = ()):
    """The study's layout (:mod:`initlab.layout`); for bare tables, the order they list."""
    if hasattr(study, "layout"):
        return study.layout(results, best_over)
    from .layout import plan

    compare = (getattr(study, "config", None) or {}).get("compare", ("init", "bias_init"))
    return plan(results, compare, None, best_over)


def _label(column: str, value) -> str:
    from .layout import label

    if isinstance(value, (float, np.floating)) and column not in ("hidden",):
        return _fmt(value)
    return label(column, value)


def _labelled(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``frame`` written as levels are (depth "24 × 16")."""
    out = frame.copy()
    if "hidden" in columns and "hidden" in out.columns:
        out["hidden"] = [_label("hidden", v) for v in out["hidden"]]
    return out


def _winners(summary: pd.DataFrame, best: pd.Series) -> pd.DataFrame:
    """The comparison group of the overall best: its best and those tied with it, only."""
    group = summary[summary["block"] == best["block"]]
    marked = group["best"].fillna(False).astype(bool) | group["tied"].fillna(False).astype(bool)
    out = group[marked] if marked.any() else group.loc[[best.name]]
    return _labelled(out, list(out.columns))


def _group_bests(layout, summary: pd.DataFrame) -> pd.DataFrame:
    """One row per comparison group: its levels, its best, the levels tied with it."""
    from .layout import label

    rows = []
    group_cols = [a.column for a in layout.groups]
    compared = list(layout.compared) + list(layout.best_over)
    for _, g in summary.groupby("block", sort=False):
        top = g[g["best"].fillna(False).astype(bool)]
        first = g.iloc[0]
        row = {c: label(c, first[c], layout.recipe) for c in group_cols}
        if top.empty:
            row.update(best="(n = 1: no test)", mean=_fmt(g["mean"].max()), tied="")
        else:
            b = top.iloc[0]
            tied = g[g["tied"].fillna(False).astype(bool) & ~g["best"].fillna(False).astype(bool)]
            row["best"] = layout.level_label(compared, [b[a.column] for a in compared])
            row["mean"] = f"{_fmt(b['mean'])} ({_fmt(b['ci_low'])} – {_fmt(b['ci_high'])})"
            row["tied"] = (
                ", ".join(
                    layout.level_label(compared, [t[a.column] for a in compared])
                    for _, t in tied.iterrows()
                )
                or "none"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _accepts(method, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(method).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins
        return False


def _curve_source(study) -> Callable[[Sequence[str]], pd.DataFrame]:
    """``curves_of(hashes)``: the curves of some runs, read when a figure needs them."""
    if _accepts(study.curves, "hashes"):
        return lambda hashes: study.curves(hashes=hashes)
    loaded: dict[str, pd.DataFrame] = {}

    def curves_of(hashes):
        if "all" not in loaded:
            frame = study.curves()
            loaded["all"] = frame if frame is not None else pd.DataFrame()
        frame = loaded["all"]
        if frame.empty or "run_hash" not in frame.columns:
            return frame
        return frame[frame["run_hash"].isin(set(hashes))]

    return curves_of


def build(
    study_name: str,
    store_path: str | os.PathLike,
    out_path: str | os.PathLike,
    command: str | None = None,
    metric: str | None = None,
    workers: int | None = None,
    best_over: Sequence[str] = (),
) -> Path:
    """Regenerate the report of a stored study from the store alone; return the path.

    Parameters
    ----------
    study_name : str
        A study in the store (an unknown name lists the ones there are).
    store_path : path
        The store (e.g. ``initlab.db``); it must exist.
    out_path : path
        The HTML file to write.
    command : str, optional
        For the provenance section.
    metric : str
    workers : int, optional
        Processes drawing the figures at once (see :func:`render`).

    Returns
    -------
    Path
    """
    path = check_output_path(out_path)
    _check_workers(workers)
    store_file = Path(store_path)
    if not store_file.exists():
        raise FileNotFoundError(f"no store at {str(store_file)!r}")
    study = _load_study(study_name, store_file)
    return render(study, path, command=command, metric=metric, workers=workers, best_over=best_over)


def _load_study(name: str, store_path: Path):
    """The stored study, with its store record (created, command) for the provenance."""
    from .store import Store
    from .study import Study

    with Store(store_path, readonly=True) as store:
        store.ensure_sound()  # a damaged file is named, with the fix, before any work
        names = store.study_names()
        if name not in names:
            import difflib

            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            there = ", ".join(map(repr, names)) if names else "none"
            raise ValueError(
                f"no study {name!r} in {str(store_path)!r}{hint}. Studies there: {there}"
            )
        info = store.study_info(name)
    study = Study.load(name, store=store_path)
    study.store_info = info
    return study


def _study_config(study) -> dict:
    if hasattr(study, "to_dict"):
        return dict(study.to_dict())
    return dict(getattr(study, "config", {}) or {})

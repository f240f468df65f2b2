"""The ``initlab`` command line (typer + rich).

Commands: ``study`` (the main job), ``train``, ``list``, ``results``,
``report``, ``diagnose``, ``experiment``, ``advise``, ``serve``.  Each command is a thin
layer over the library: parse, check everything, call, print.  What is printed is
literal text (:mod:`initlab._console`): no name, path or message is read as markup.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from copy import copy

import typer
from rich.table import Table

from ._console import column as _column
from ._console import console, err_console, error, number, say, text, warn
from ._console import table as _table

app = typer.Typer(
    name="initlab",
    help="A laboratory for activation functions, weight initialization and optimizers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(message: object, code: int = 2) -> None:
    error(message)
    raise typer.Exit(code)


class _Command:
    """A command whose parameters are read when the command line is built.

    ``extra`` adds parameters built then (the run fields of ``train``, so a plugin's
    field is an option too).  Every help text is escaped here, the one place where
    text meets typer's rich markup, so ``[parquet]`` or a description's brackets show.
    """

    def __init__(self, func: Callable, extra: Callable[[], list[inspect.Parameter]] | None = None):
        self.func = func
        self.extra = extra
        self.__name__ = func.__name__
        self.__doc__ = func.__doc__

    @property
    def __signature__(self) -> inspect.Signature:
        from rich.markup import escape

        sig = inspect.signature(self.func, eval_str=True)
        params = [p for p in sig.parameters.values() if p.kind != p.VAR_KEYWORD]
        params += self.extra() if self.extra else []
        out = []
        for p in params:
            if isinstance(p.default, typer.models.ParameterInfo):
                info = copy(p.default)
                info.help = escape(info.help or "")
                p = p.replace(default=info)
            out.append(p)
        return sig.replace(parameters=out, return_annotation=None)

    @property
    def __annotations__(self) -> dict:
        return {p.name: p.annotation for p in self.__signature__.parameters.values()}

    def __call__(self, **kwargs) -> None:
        self.func(**kwargs)


def _help_with(values: dict[str, Callable[[], str]]) -> type:
    """A command class whose help appends what each parameter in ``values`` accepts.

    ``values`` maps a parameter to a function that says it, read from the registries
    or the run schema only when the help is shown: so a plugin's names are listed,
    and a command that is run, not asked for help, imports none of them.
    """
    from rich.markup import escape
    from typer.core import TyperCommand

    class Command(TyperCommand):
        def format_help(self, ctx, formatter):
            for param in self.params:
                if param.name in values and not getattr(param, "_values_shown", False):
                    param.help = f"{param.help}: {escape(values[param.name]())}"
                    param._values_shown = True
            return super().format_help(ctx, formatter)

    return Command


def _command(name: str, /, on: typer.Typer = app, **values: Callable[[], str]):
    """Register a command under ``name``; ``values`` as in :func:`_help_with`."""

    def register(func: Callable) -> Callable:
        on.command(name, cls=_help_with(values))(_Command(func))
        return func

    return register


def _one_of(names: Callable[[], object]) -> Callable[[], str]:
    return lambda: "one of " + ", ".join(map(str, names()))


def _registry(module: str, attr: str = "REGISTRY") -> Callable[[], str]:
    """The names of a registry (``"activations"``, ``"optim"``...), read when asked."""

    def names():
        from importlib import import_module

        return getattr(import_module(f"initlab.{module}"), attr).names()

    return _one_of(names)


def _metrics() -> list[str]:
    from .runs import METRICS

    return list(METRICS)


def _presets() -> list[str]:
    from .study import PRESETS

    return list(PRESETS)


def _executors() -> list[str]:
    from .study import EXECUTORS

    return list(EXECUTORS)


def _experiments() -> list[str]:
    from . import experiments

    return experiments.names()


_METRIC_HELP = "what ranks the runs (default val_acc; val_loss for regression)"


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"initlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """A laboratory for activation functions, weight initialization and optimizers."""


def _parse_sizes(text: str) -> tuple[int, ...]:
    text = text.strip().strip("[]()")
    if not text:
        return ()
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        _fail(f"layer sizes must be comma-separated integers like '16,16', got {text!r}")
        raise


#: What ``initlab list`` can show, in order; each group is a function of no argument
#: returning ``{name: (aliases, description)}`` from its owner.
def _list_groups() -> dict[str, Callable[[], dict[str, tuple[str, str]]]]:
    from . import activations, datasets, initializers, losses, optim

    def registry(reg):
        return lambda: {n: (", ".join(reg.aliases(n)), reg.describe(n)) for n in reg.names()}

    def recipes():
        from .runs import RECIPES

        return {name: ("", r.description) for name, r in RECIPES.items()}

    def presets():
        from .study import Study

        return {p: ("", Study.preset(p).description or "") for p in _presets()}

    def experiments():
        from . import experiments as ex

        return {n: ("", ex.get(n).title) for n in ex.names()}

    return {
        "recipes": recipes,
        "activations": registry(activations.REGISTRY),
        "initializers": registry(initializers.REGISTRY),
        "bias initializers": registry(initializers.BIAS_REGISTRY),
        "optimizers": registry(optim.REGISTRY),
        "losses": registry(losses.REGISTRY),
        "datasets": registry(datasets.REGISTRY),
        "presets": presets,
        "experiments": experiments,
    }


def _list_names() -> str:
    return ", ".join(g.replace(" ", "_") for g in _list_groups()) + " (default: all)"


@_command("list", what=_list_names)
def list_cmd(
    what: str | None = typer.Argument(None, help="the group to list"),
) -> None:
    """List what can be chosen, each with a one-line description."""
    groups = _list_groups()
    if what is not None:
        stem = what.lower().replace(" ", "_").rstrip("s")
        keys = [k for k in groups if k.replace(" ", "_").startswith(stem)]
        if not keys:
            _fail(f"unknown group {what!r}; choose one of: {', '.join(groups)}")
        groups = {k: groups[k] for k in keys}
    for title, entries in groups.items():
        _print_group(title, entries())


def _print_group(title: str, rows: dict[str, tuple[str, str]]) -> None:
    with_aliases = any(aliases for aliases, _ in rows.values())
    columns = ["name", "aliases", "description"] if with_aliases else ["name", "description"]
    console.print(
        _table(
            title, columns, ([n, a, d] if with_aliases else [n, d] for n, (a, d) in rows.items())
        )
    )


def _run_options() -> list[inspect.Parameter]:
    """One command-line option per run field (:mod:`initlab.runs`), all "not given" by
    default so that a recipe's values and the schema's defaults apply."""
    from . import runs

    kinds = {"int": int, "float": float, "bool": bool}
    out = []
    for f in runs.fields():
        flag = "--" + f.name.replace("_", "-")
        flags = [f"{flag}/--no-{flag[2:]}"] if f.kind == "bool" else [flag, *f.flags]
        default = f.default if not isinstance(f.default, tuple) else ",".join(map(str, f.default))
        shown = "" if f.owner == "optimizer" else f" (default {default})"
        help_ = f"{f.help}: {f.allowed()}{shown}"
        option = typer.Option(None, *flags, help=help_, show_default=False)
        annotation = kinds.get(f.kind, str) | None
        out.append(inspect.Parameter(f.name, _KEYWORD, default=option, annotation=annotation))
    return out


_KEYWORD = inspect.Parameter.KEYWORD_ONLY
#: The figures ``initlab train --plots`` writes: file name, what it shows.
_TRAIN_PLOTS = {
    "loss.png": "loss per epoch",
    "mistakes.png": "the blog's scatter of mistakes (2-D data)",
    "updates.png": "per-parameter updates",
}


def _recipes() -> list[str]:
    from .runs import RECIPES

    return list(RECIPES)


def _datasets() -> str:
    from .datasets import names

    return "one of " + ", ".join(names()) + ", or a CSV/NPZ path"


def train(
    *,
    dataset: str = typer.Option("blog", "--dataset", "-d", help="the data set"),
    target: str | None = typer.Option(None, "--target", help="label column of a CSV"),
    recipe: str | None = typer.Option(
        None, "--recipe", help="a published protocol that sets the defaults"
    ),
    plots: str | None = typer.Option(
        None,
        "--plots",
        help="directory to write the run's figures to (created; its parent must exist): "
        + ", ".join(f"{k} ({v})" for k, v in _TRAIN_PLOTS.items()),
    ),
    **fields,
) -> None:
    """Train one network on a data set and print its accuracy and loss.

    Every run field is an option (``initlab train --help``); ``--recipe blog``
    sets the blog's whole protocol, and reads its names ("xavier" = lecun_normal).
    """
    from . import datasets, runs

    given = {k: v for k, v in fields.items() if v is not None}
    try:
        folder = _plots_folder(plots)
        spec = runs.RunSpec.make(recipe=recipe, **given)
        data = datasets.load(dataset, **({"target": target} if target else {}))
        net = spec.network(**({"record_params": True} if folder else {}))
        figures = _train_figures(folder, data)
        say(("data:", "bold"), f" {data.label}: ", _data_caption(data))
        net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    except (ValueError, TypeError, OSError) as exc:
        _fail(str(exc))
        return
    h = net.history_
    init = runs.label("init", spec.init, recipe)
    rows = [
        [split, number(h[f"{key}_loss"][-1]), f"{h[f'{key}_acc'][-1]:.2%}"]
        for split, key in (("train", "train"), ("validation", "val"))
    ]
    say(
        (
            f"{spec.activation} + {init}, {spec.optimizer} lr={spec.learning_rate:g}, "
            f"{net.n_iter_} epochs on {data.label}",
            "bold",
        )
    )
    console.print(_table(None, ["", "loss", "accuracy"], rows, right=("loss", "accuracy")))
    if net.diverged_:
        warn(_divergence_note(net))
    _write_train_figures(net, data, folder, figures)


def _data_caption(data) -> str:
    """``750 training and 250 validation samples, 4 classes: 0 (250), ...; 2 features``."""
    import numpy as np

    head = f"{data.n_train} training and {data.n_val} validation samples"
    features = f"{data.n_features} features"
    if getattr(data, "task", "classification") != "classification":
        return f"{head}, regression; {features}"
    counts = np.bincount(np.concatenate([data.y_train, data.y_val]), minlength=data.n_classes)
    classes = ", ".join(f"{c} ({n})" for c, n in zip(data.classes, counts, strict=True))
    return f"{head}, {data.n_classes} classes: {classes}; {features}"


def _divergence_note(net) -> str:
    from .engine import DIVERGENCE_RULE

    return (
        f"diverged at epoch {net.diverged_epoch_}: {DIVERGENCE_RULE.replace('its ', 'the ')}; "
        "the numbers above are the last epoch's. Try a smaller --learning-rate."
    )


def _plots_folder(plots: str | None):
    """The ``--plots`` directory, checked before training: its parent must exist."""
    if plots is None:
        return None
    from pathlib import Path

    folder = Path(plots).expanduser()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"--plots {plots!r} is a file, not a directory")
    parent = folder.parent
    if not folder.exists() and not parent.is_dir():
        raise FileNotFoundError(
            f"--plots {plots!r}: directory {str(parent)!r} does not exist (the last "
            "directory is created, not its parents)"
        )
    import os

    if not os.access(folder if folder.exists() else parent, os.W_OK):
        raise PermissionError(f"--plots {plots!r}: permission denied")
    return folder


def _train_figures(folder, data) -> list[str]:
    """The figures ``--plots`` will write for this data (the scatter needs 2 features)."""
    if folder is None:
        return []
    names = list(_TRAIN_PLOTS)
    if data.n_features != 2 or getattr(data, "task", "classification") != "classification":
        names.remove("mistakes.png")
    return names


def _write_train_figures(net, data, folder, names: list[str]) -> None:
    if folder is None:
        return
    from . import plots

    draw = {
        "loss.png": lambda: plots.loss_curve(net),
        "mistakes.png": lambda: plots.mistakes(net, data),
        "updates.png": lambda: plots.update_grid(net),
    }
    folder.mkdir(exist_ok=True)
    written = []
    for name in names:
        draw[name]().savefig(folder / name, dpi=90)
        written.append(str(folder / name))
    say("wrote " + ", ".join(written))
    if "mistakes.png" not in names:
        say(
            f"(no mistakes.png: the scatter needs 2-D classification data, {data.label} has "
            f"{data.n_features} features)"
        )


app.command("train", cls=_help_with({"dataset": _datasets, "recipe": _one_of(_recipes)}))(
    _Command(train, extra=_run_options)
)


# --- studies ---------------------------------------------------------------------------------
def _summary_tables(study, summary, metric: str, layout, alpha: float = 0.05) -> list[Table]:
    """The summary as the study's comparisons (:mod:`initlab.layout`): rows the compared
    levels, columns the levels of the axis across, one table per facet, one ★ per column."""
    from rich.markup import escape

    from .layout import label

    higher = not metric.endswith("loss")
    pct = metric.endswith("acc")
    across = layout.across
    legend = _table_legend(metric, layout, alpha)
    tables = []
    for fkey, frame in layout.cells(summary):
        columns = layout.levels(across.column, frame[across.column]) if across else [None]
        seeds = int(frame["n"].max())
        where = layout.title(fkey)
        title = f"{study.name}: mean {metric}{' (%)' * pct} over {seeds} seed" + (
            f"{'s' * (seeds != 1)}" + (f" — {where}" if where else "")
        )
        # at least as wide as its title, so that a narrow table's title stays one line
        table = Table(title=escape(title), title_justify="left", min_width=len(title))
        table.add_column(layout.name(layout.compared) or "configuration", no_wrap=True)
        for c in columns:
            head = metric if c is None else label(across.column, c, layout.recipe)
            table.add_column(escape(head), justify="right")
        for rkey in layout.compared_keys(frame):
            rows = layout.select(frame, layout.compared, rkey)
            cells = []
            for c in columns:
                hit = rows if c is None else layout.select(rows, [across], [c])
                best = layout.best_of(hit, higher)
                text = _summary_cell(best, pct)
                if best is not None and layout.best_over:
                    at = ", ".join(
                        f"{a.column} {label(a.column, best[a.column], layout.recipe)}"
                        for a in layout.best_over
                    )
                    text += f" [dim]@ {escape(at)}[/]"
                cells.append(text)
            table.add_row(escape(layout.level_label(layout.compared, rkey)), *cells)
        tables.append(table)
    if tables:  # the legend once, under the last table
        tables[-1].caption = legend
        tables[-1].caption_justify = "left"
    return tables


def _table_legend(metric: str, layout, alpha: float) -> str:
    from rich.markup import escape

    from .engine import DIVERGENCE_RULE
    from .stats import story

    lines = [
        layout.describe() + ".",
        escape(story(alpha)).replace("★", "[bold green]★[/]").replace("≈", "[green]≈[/]"),
        "± half-width of the bootstrap 95% CI of the mean; [yellow]k/n div[/]: k of the n "
        f"seeds diverged (a run diverges when {escape(DIVERGENCE_RULE)}; its last finite "
        f"{metric} still counts)",
    ]
    if layout.best_over:
        lines.append(
            "each cell: the best of its "
            + ", ".join(a.column for a in layout.best_over)
            + " levels (--best-over)"
        )
    return "\n".join(lines)


def _summary_cell(r, pct: bool) -> str:
    """One configuration: mean ± CI half-width, its mark, its divergences."""
    import math

    if r is None:
        return ""
    scale = 100 if pct else 1
    digits = 1 if pct else 3
    if math.isnan(r["mean"]):
        text = "n/a"
    else:
        text = f"{r['mean'] * scale:.{digits}f}"
        if r["n"] >= 2:
            text += f" ±{(r.ci_high - r.ci_low) / 2 * scale:.{digits}f}"
    if r["n"] < 2:
        text += " [dim](n = 1: no test)[/]"
    elif r.best:
        text = f"[bold green]{text} ★[/]"
    elif r.tied:
        text = f"[green]{text} ≈[/]"
    if r.get("n_diverged", 0) > 0:
        text += f" [yellow]{int(r.n_diverged)}/{int(r['n'])} div[/]"
    return text


BEST_OVER_HELP = (
    "a setting the study varies to take the best over in the tables and the report "
    "(repeatable, e.g. --best-over learning_rate); by default nothing is best over "
    "an axis the study varies"
)


def _check_best_over(s, best_over) -> None:
    """Each --best-over names a setting the study varies (checked before any training)."""
    varied = [c for c, levels in s.order().items() if len(levels) > 1 and c != "seed"]
    if len(s.datasets) > 1:
        varied.append("dataset")
    for c in best_over:
        if c not in varied:
            raise ValueError(
                f"--best-over {c!r}: the study does not vary it; it varies "
                f"{', '.join(varied) or 'nothing'}"
            )


@_command("study", preset=_one_of(_presets), executor=_one_of(_executors), metric=_one_of(_metrics))
def study(
    preset: str = typer.Argument("blog", help="a study that ships with initlab"),
    config: str | None = typer.Option(
        None, "--config", "-c", help="a study TOML file (instead of a preset)"
    ),
    seeds: int | None = typer.Option(None, "--seeds", help="number of seeds (0..n-1)"),
    epochs: int | None = typer.Option(None, "--epochs", help="override the epochs"),
    name: str | None = typer.Option(None, "--name", help="store the study under this name"),
    store: str = typer.Option(
        "initlab.db", "--store", help="SQLite file of studies (created if missing)"
    ),
    fresh: bool = typer.Option(False, "--fresh", help="retrain runs already stored"),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="redefine a stored study of this name with this grid (its old runs stay in "
        "the store for reuse); without it a changed grid is refused",
    ),
    executor: str = typer.Option("local", "--executor", help="where the runs train"),
    workers: int | None = typer.Option(None, "--workers", help="processes or dask workers"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="the dask scheduler's address, tcp://HOST:PORT"
    ),
    metric: str | None = typer.Option(None, "--metric", help=_METRIC_HELP),
    report: str | None = typer.Option(
        None, "--report", "-o", help="HTML report to write (default: <study>-report.html)"
    ),
    no_report: bool = typer.Option(False, "--no-report", help="skip the HTML report"),
    force_workers: bool = typer.Option(
        False, "--force-workers", help="allow more local --workers than CPUs"
    ),
    chunk_size: int | None = typer.Option(
        None,
        "--chunk-size",
        min=1,
        help="runs per population at most (default: as many as train fastest together; "
        "results do not depend on it)",
    ),
    wait_for_workers: float = typer.Option(
        60.0,
        "--wait-for-workers",
        min=0.0,
        help="dask: seconds to wait while no worker is connected (0: wait indefinitely)",
    ),
    best_over: list[str] = typer.Option([], "--best-over", help=BEST_OVER_HELP),
) -> None:
    """Run a study (default: the blog's 16 combinations x 10 seeds), print and store it.

    Everything used after training (the metric, the report path, the store) is
    checked first.  Exits 1 when some runs failed (the reasons are listed at the
    end, and `initlab results --failed` lists the runs), 2 on bad input or a
    cluster or store that cannot be used.
    """
    import sys
    import time

    from .distributed import ClusterError  # dask itself is imported only when used
    from .store import StoreError
    from .study import StudyConfigError

    start = time.perf_counter()
    try:
        s = _define_study(preset, config, seeds=seeds, epochs=epochs, name=name)
        n_runs = s.n_runs()
        _check_store(store)
        s.check(store, replace)
        metric = _check_metric(metric or s.default_metric())
        _check_best_over(s, best_over)
        report_path = None if no_report else _report_path(report, s.name)
    except (StudyConfigError, StoreError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    say((s.name, "bold"), f": {s.description or ''} — {n_runs} runs -> {store}")
    try:
        with _progress("model-epochs") as progress, _warnings_to():
            result = s.run(
                store,
                fresh=fresh,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                command=" ".join(["initlab", *sys.argv[1:]]),
                replace=replace,
                no_workers_timeout=wait_for_workers or float("inf"),
                force_workers=force_workers,
                chunk_size=chunk_size,
            )
    except KeyboardInterrupt:
        warn("interrupted: finished runs are stored; rerun to resume")
        raise typer.Exit(130) from None
    except (StoreError, StudyConfigError, ValueError, OSError, ClusterError) as exc:
        _fail(str(exc))
        return
    for note in result.notes:
        say((note, "dim"))
    say(str(result))
    if result.skipped + result.trained:  # some runs finished: statistics and report
        try:
            runs = s.results()
            summary = s.summary(metric, runs=runs, best_over=best_over)
            layout = s.layout(runs, best_over)
        except (StudyConfigError, ValueError) as exc:
            _fail(str(exc), code=1)
            return
        for table in _summary_tables(s, summary, metric, layout):
            console.print(table)
        if report_path is not None:
            _write_report(s, store, report_path, metric, best_over)
    say((f"done in {time.perf_counter() - start:.1f} s", "dim"))
    if not result.ok:
        say(
            (f"{result.failed} run(s) failed", "bold red"),
            " (stored as failed; a rerun retries them):",
            err=True,
        )
        for line in result.failure_lines():
            say(f"  {line}", err=True)
        say(
            f"  list them with: initlab results --failed --study {s.name} --store {store}", err=True
        )
        raise typer.Exit(1)


def _define_study(preset: str, config: str | None, **overrides):
    """The study of a TOML file or a preset, with the command line's overrides."""
    from .study import Study

    if not config:
        return Study.preset(preset, **overrides)
    s = Study.from_toml(config)
    for k, v in overrides.items():
        if v is not None:
            setattr(s, k, v)
    s._normalize()
    return s


def _check_store(store: str, write: bool = True) -> None:
    """A store a study can be written to and read back from, checked before training
    (``write=False``: one to read, checked before a query)."""
    from pathlib import Path

    if not write:
        if Path(store).expanduser().is_dir():
            raise IsADirectoryError(f"--store {store!r} is a directory, not a store file")
        return
    if store == ":memory:" or store.startswith("file:"):
        raise ValueError(
            f"--store {store!r}: a study needs a file that outlives the command "
            "(its report and `initlab results` read it back); give a path like initlab.db"
        )
    from .report import check_output_path

    try:  # SQLite writes a journal beside the file: its directory must be writable too
        check_output_path(store)
    except OSError as exc:
        raise type(exc)(f"--store: {exc}") from None


def _report_path(path: str | None, study_name: str):
    from .report import check_output_path

    return check_output_path(path or f"{study_name}-report.html")


class _progress:
    """A progress bar on stderr; entered, it is the ``progress(done, total)`` callback."""

    def __init__(self, unit: str, transient: bool = False, what: str = "training"):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err_console,
            transient=transient,
        )
        self.what = what

    def __enter__(self):
        self.bar.__enter__()
        task = self.bar.add_task(self.what, total=None)
        return lambda done, total: self.bar.update(task, completed=done, total=total)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


def _check_metric(metric: str) -> str:
    from .runs import METRICS

    if metric not in METRICS:
        import difflib

        close = difflib.get_close_matches(metric, METRICS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown metric {metric!r}{hint} Choose one of: {', '.join(METRICS)}")
    return metric


class _warnings_to:
    """Show initlab's warnings (a capped --workers, a refused Dask worker) as one line."""

    def __enter__(self):
        import warnings

        self._saved = warnings.showwarning
        warnings.showwarning = self._show
        return self

    def _show(self, message, category, filename, lineno, file=None, line=None):
        warn(message)

    def __exit__(self, *exc):
        import warnings

        warnings.showwarning = self._saved


def _write_report(s, store: str, path, metric: str | None = None, best_over=()) -> None:
    from . import report as _report

    out = _report.build(s.name, store, path, metric=metric, best_over=best_over)
    say("report written to ", (str(out), "bold"))


_FORMATS = ("csv", "json", "parquet")
#: The statistics ``results --summary`` shows by default (all are exported).
_SUMMARY_SHOWN = ("n", "mean", "std", "ci_low", "ci_high", "diverged", "best", "tied")


def _only_study(store: str, given: str | None) -> str:
    """``given``, else the store's only study (several or none: an error naming them)."""
    from .store import Store

    _check_store(store, write=False)
    if given is not None:
        return given
    with Store(store, readonly=True) as st:
        names = st.study_names()
    if len(names) == 1:
        return names[0]
    if not names:
        raise ValueError(f"no studies in {store}; run one with: initlab study --store {store}")
    raise ValueError(
        f"{store} holds {len(names)} studies: {', '.join(names)}; choose one with --study"
    )


def _parse_columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def _default_columns(frame, summary: bool) -> list[str]:
    """The configuration columns that vary here, then the metrics (or the statistics)."""
    from .runs import METRICS
    from .stats import config_columns

    config = [*config_columns(frame), *(["seed"] if "seed" in frame else [])]
    varying = [c for c in config if frame[c].astype(str).nunique() > 1]
    varying = [c for c in varying if not _follows_owner(frame, c, varying)]
    if summary:
        shown = list(_SUMMARY_SHOWN)
    else:
        shown = [*METRICS, "diverged"]
        if "diverged" in frame and frame["diverged"].astype(bool).any():
            shown.append("diverged_epoch")
    return varying + [c for c in shown if c in frame.columns]


def _follows_owner(frame, column: str, shown: list[str]) -> bool:
    """A conditional field that only follows its shown owner (the leaky slope of
    leaky_relu, "-" for the others) says nothing the owner's column does not."""
    from .runs import get_field

    try:
        f = get_field(column)
    except ValueError:
        return False
    if not f.conditional or f.owner not in shown:
        return False
    return bool(frame.astype({column: str}).groupby(f.owner)[column].nunique().max() <= 1)


def _choose_columns(frame, columns: list[str] | None, summary: bool) -> list[str]:
    if columns is None:
        return _default_columns(frame, summary)
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(frame.columns), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown column {unknown[0]!r}{hint}; the columns are: {', '.join(frame.columns)}"
        )
    return columns


@_command("results", metric=_one_of(_metrics), fmt=_one_of(lambda: _FORMATS))
def results(
    study_name: str | None = typer.Option(
        None, "--study", "-s", help="the study to query (default: the store's only study)"
    ),
    store: str = typer.Option("initlab.db", "--store", help="SQLite file of studies"),
    where: list[str] = typer.Option(
        [], "--where", "-w", help="keep the rows where COLUMN=VALUE (also != < <= > >=; repeatable)"
    ),
    columns: str | None = typer.Option(
        None,
        "--columns",
        help="comma-separated columns to show (default: the settings that vary, then the "
        "metrics; exports have every column unless given)",
    ),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="export format (default: from --output's suffix)"
    ),
    output: str | None = typer.Option(
        None, "--output", "-o", help="file to export to (default: stdout with --format)"
    ),
    summary: bool = typer.Option(
        False, "--summary", help="one row per configuration, seeds collapsed, with statistics"
    ),
    metric: str | None = typer.Option(None, "--metric", help=_METRIC_HELP + " with --summary"),
    limit: int = typer.Option(40, "--limit", min=0, help="rows shown in the terminal"),
    failed: bool = typer.Option(
        False, "--failed", help="the failed runs (of every study without --study), with reasons"
    ),
    best_over: list[str] = typer.Option([], "--best-over", help=BEST_OVER_HELP),
) -> None:
    """Show a study's runs (filter, choose columns, export), or its failed runs."""
    from .store import StoreError

    wanted = _parse_columns(columns)
    try:
        metric = _check_metric(metric) if metric else None
        fmt = _check_format(fmt, output)
        if failed:
            _check_store(store, write=False)
            _show_failed(store, study_name, wanted, fmt, output, limit)
            return
        study_name = _only_study(store, study_name)
        frame, s = _results_frame(study_name, store, summary, metric, best_over)
        frame = _filter(frame, where, s.recipe)
        shown = _choose_columns(frame, wanted, summary)
    except _NoRows as exc:
        _fail(exc, code=1)
        return
    except (StoreError, KeyError, ValueError, OSError) as exc:
        _fail(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        return
    if fmt is None:
        what = ("configuration" if summary else "run") + "s" * (len(frame) != 1)
        _print_frame(frame[shown], f"{study_name}: {len(frame)} {what}", limit)
        if summary and wanted is None:  # then the comparisons, as `study` prints them
            layout = s.layout(best_over=best_over)
            for table in _summary_tables(s, frame, metric or s.default_metric(), layout):
                console.print(table)
        if not summary:
            _failure_note(store, study_name)
        return
    _export(frame if wanted is None else frame[shown], fmt, output)


def _check_format(fmt: str | None, output: str | None) -> str | None:
    """The export format (None: print a table); checked before anything is read."""
    if fmt is None and output is None:
        return None
    fmt = (fmt or output.rsplit(".", 1)[-1]).lower()
    if fmt not in _FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of: {', '.join(_FORMATS)}")
    if fmt == "parquet" and output is None:
        raise ValueError("parquet is binary: give --output FILE")
    if output is not None:
        from .report import check_output_path

        check_output_path(output)
    return fmt


def _results_frame(study_name: str, store: str, summary: bool, metric: str | None, best_over=()):
    from .study import Study

    s = Study.load(study_name, store)
    return (s.summary(metric, best_over=best_over) if summary else s.results()), s


def _filter(frame, where: list[str], recipe):
    from . import runs as _runs

    for cond in where:
        column, op, value = _runs.parse_condition(cond, list(frame.columns), recipe)
        before = frame
        frame = _runs.select(frame, column, op, value)
        if frame.empty:
            present = sorted({_runs.label(column, v, recipe) for v in before[column].dropna()})
            shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
            raise _NoRows(
                f"no rows match {column}{op}{_runs.label(column, value, recipe)} "
                f"(as given: {cond!r}); {column} here is: {shown or 'always empty'}"
            )
    return frame


class _NoRows(ValueError):
    """A filter that keeps nothing (exit code 1: the query was valid)."""


def _show_failed(store, study_name, wanted, fmt, output, limit) -> None:
    from .store import Store

    with Store(store, readonly=True) as st:
        frame = st.failed_runs(study_name)
        reasons = st.failure_reasons(study_name)
    what = f"study {study_name}" if study_name else store
    if frame.empty:
        say(f"no failed runs in {what}")
        return
    if fmt is not None:
        _export(
            frame if wanted is None else frame[_choose_columns(frame, wanted, False)], fmt, output
        )
        return
    if wanted is None:
        varying = [c for c in frame.columns if frame[c].astype(str).nunique() > 1]
        shown = ["run_hash", "error", *[c for c in varying if c not in ("run_hash", "error")]]
    else:
        shown = _choose_columns(frame, wanted, False)
    _print_frame(frame[shown], f"{what}: {len(frame)} failed runs", limit)
    for reason, n in reasons.items():
        say(f"  {n} run{'s' * (n != 1)}: {reason}")


def _failure_note(store: str, study_name: str) -> None:
    """After a study's runs: how many failed, and why."""
    from .store import Store

    with Store(store, readonly=True) as st:
        reasons = st.failure_reasons(study_name)
    if not reasons:
        return
    n = sum(reasons.values())
    say((f"{n} failed run{'s' * (n != 1)}", "bold red"), " (not in the table above):", err=True)
    for reason, k in reasons.items():
        say(f"  {k} run{'s' * (k != 1)}: {reason}", err=True)
    say(
        f"  list them with: initlab results --failed --study {study_name} --store {store}", err=True
    )


def _export(frame, fmt: str, output: str | None) -> None:
    from contextlib import nullcontext

    from .files import replacing

    try:
        # written whole or not at all: a full disk leaves no truncated export
        with replacing(output) if output else nullcontext(None) as target:
            if fmt == "csv":
                out = frame.to_csv(target, index=False)
            elif fmt == "json":
                out = frame.to_json(target, orient="records", indent=1)
            else:
                frame.to_parquet(target, index=False)
                out = None
    except ImportError as exc:
        _fail(f"{exc} (pip install initlab[parquet])")
        return
    except OSError as exc:
        _fail(f"cannot write {output}: {exc}")
        return
    if output is None and out is not None:
        typer.echo(out)
    elif output:
        say(f"{len(frame)} rows written to {output}", err=True)


# --- store ------------------------------------------------------------------------------------
store_app = typer.Typer(help="Check a store file, or recover what is readable of a damaged one.")
app.add_typer(store_app, name="store")


@_command("check", on=store_app)
def store_check(
    path: str = typer.Argument("initlab.db", help="the store file"),
    full: bool = typer.Option(False, "--full", help="PRAGMA integrity_check (slower)"),
) -> None:
    """Check a store file for damage (exit 1 if damaged)."""
    from .store import Store, StoreError, _repair_hint

    try:
        with Store(path, readonly=True) as st:
            problems = st.check(full=full)
    except StoreError as exc:
        _fail(str(exc))
        return
    if not problems:
        say(f"{path}: ok")
        return
    say((f"{path} is damaged", "bold red"), f" ({len(problems)} problem(s)):", err=True)
    for line in problems[:20]:
        say(f"  {line}", err=True)
    say(_repair_hint(path), err=True)
    raise typer.Exit(1)


@_command("recover", on=store_app)
def store_recover(
    path: str = typer.Argument(..., help="the damaged store (never modified)"),
    target: str = typer.Argument(..., help="the new store to create"),
) -> None:
    """Copy what is readable of a damaged store into a new file (rerun studies for the rest)."""
    from .store import StoreError, recover

    try:
        report = recover(path, target)
    except StoreError as exc:
        _fail(str(exc))
        return
    say(str(report))
    for line in report.problems[:10]:
        say((f"  unreadable: {line}", "dim"), err=True)


def _cells(frame) -> list[list[str]]:
    """The frame's cells as text: numbers rounded per column, layer sizes compact."""
    columns = []
    for c in frame.columns:
        values = frame[c].tolist()
        if c == "hidden":
            columns.append([_sizes_label(v) for v in values])
        elif frame[c].dtype.kind == "b":
            columns.append(["yes" if v else "no" for v in values])
        else:
            columns.append(_column(values))
    return [list(row) for row in zip(*columns, strict=True)] if columns else []


def _sizes_label(value) -> str:
    """``16-16-16-16`` as ``4 x 16``: equal widths say depth and width (not wrapped)."""
    text_ = str(value)
    parts = text_.split("-")
    if len(parts) > 1 and len(set(parts)) == 1:
        return f"{len(parts)} × {parts[0]}"
    return text_


def _print_frame(frame, title: str, limit: int) -> None:
    shown = frame.head(limit)
    numeric = [c for c in shown.columns if shown[c].dtype.kind in "fiu"]
    console.print(
        _table(
            title,
            [str(c) for c in shown.columns],
            _cells(shown),
            right=numeric,
        )
    )
    if len(frame) > limit:
        say((f"... {len(frame) - limit} more rows (use --limit, --where or --output)", "dim"))


# --- report ----------------------------------------------------------------------------------


@_command("report", metric=_one_of(_metrics))
def report_cmd(
    study_name: str | None = typer.Option(
        None, "--study", "-s", help="the stored study to report (default: the store's only one)"
    ),
    store: str = typer.Option("initlab.db", "--store", help="SQLite file of studies"),
    output: str | None = typer.Option(
        None, "--output", "-o", help="HTML file to write (default: <study>-report.html)"
    ),
    metric: str | None = typer.Option(None, "--metric", help=_METRIC_HELP),
) -> None:
    """Regenerate a study's self-contained HTML report from the store alone."""
    import shlex
    import sys
    import time

    from . import report as _report
    from .store import StoreError

    start = time.perf_counter()
    command = "initlab " + " ".join(map(shlex.quote, sys.argv[1:]))
    try:
        metric = _check_metric(metric) if metric else None
        study_name = _only_study(store, study_name)
        out = _report_path(output, study_name)
        path = _report.build(study_name, store, out, command=command, metric=metric)
    except (ValueError, KeyError, OSError, RuntimeError, StoreError) as exc:
        _fail(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        return
    size = path.stat().st_size / 1e6
    say(
        "report written to ",
        (str(path), "bold"),
        f" ({size:.1f} MB, {time.perf_counter() - start:.1f} s)",
    )


# --- serve -----------------------------------------------------------------------------------
@_command("serve")
def serve(
    host: str = typer.Option(
        "127.0.0.1", "--host", help="interface to bind (default: this machine only)"
    ),
    port: int = typer.Option(8000, "--port", "-p", help="port (0 picks a free one)"),
    open_browser: bool = typer.Option(False, "--open", help="open the page in a browser"),
) -> None:
    """Start the playground: a local web app that trains networks live."""
    if not 0 <= port <= 65535:
        _fail(f"--port must be between 0 and 65535, got {port}")
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        _fail("the playground needs Starlette and uvicorn: pip install initlab[web]")
    from .web import serve as run_server

    if host not in ("127.0.0.1", "localhost", "::1"):
        warn(f"binding to {host}: anyone who can reach this machine can use the playground")
    try:
        run_server(host=host, port=port, open_browser=open_browser, announce=say)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


# --- diagnose / experiment -------------------------------------------------------------------
def _stats_table(df, title: str) -> Table:
    cols = ["layer", "z_var", "a_mean", "a_var", "grad_var", "dW_var"]  # all in --out CSV
    extra = [c for c in ("saturated", "dead") if df[c].notna().any()] + ["copies"]
    rows = []
    for _, row in df.iterrows():
        cells = [str(int(row["layer"])) if row["kind"] == "hidden" else "out"]
        cells += [_num(row[col]) for col in cols[1:]]
        for col in extra:
            v = row[col]
            if v != v:  # NaN
                cells.append("")
            elif col == "copies":
                cells.append(str(int(v)))
            else:
                cells.append(f"{v:.1%}")
        rows.append(cells)
    return _table(title, cols + extra, rows, right=cols + extra)


def _diagnose_torch(spec, input_shape, init, sigma_b2, q0, dataset, n_samples, seed, folder):
    """``initlab diagnose --torch``: load, (re)initialize, diagnose by hooks, print, write."""
    from . import datasets, diagnostics, plots

    try:
        from . import torch as itorch
    except ImportError as exc:
        _fail(str(exc))
        return
    try:
        model = itorch.load(spec)
        shape = _parse_sizes(input_shape) if input_shape else None
        if dataset is None:
            X = itorch.inputs_for(model, n_samples, shape, seed)
            y = None
        else:
            data = datasets.load(dataset)
            X, y = data.X_train, data.y_train
            if shape is not None:
                X = X.reshape(len(X), *shape)
        if init is not None:
            itorch.init_(model, init, sigma_b2=sigma_b2, q0=q0, X=X, seed=seed)
        n_out = int(itorch.layers(model)[-1].weight.shape[0])
        if y is None:
            y = diagnostics.random_labels(len(X), n_out, seed)
        df = itorch.diagnose(model, X, y)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError) as exc:
        _fail(str(exc))
        return
    label = f"{spec}" + (f" + {init}" if init else "")
    console.print(_stats_table(df, f"{label}: {len(df) - 1} hidden layers, {len(X)} inputs"))
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "propagation.png", folder / "propagation.csv"]
    plots.propagation(df, title=label).savefig(written[0], dpi=90)
    df.to_csv(written[1], index=False)
    say("wrote " + ", ".join(str(p) for p in written))


def _inits_or_critical() -> str:
    from .initializers import REGISTRY

    return "one of " + ", ".join(REGISTRY.names()) + ", or critical"


@_command(
    "diagnose",
    activation=_registry("activations"),
    init=_inits_or_critical,
    bias_init=_registry("initializers", "BIAS_REGISTRY"),
    dataset=_registry("datasets"),
)
def diagnose(
    activation: str = typer.Option("relu", "--activation", "-a", help="hidden-layer nonlinearity"),
    init: str | None = typer.Option(
        None,
        "--init",
        "-i",
        help="weight initializer, 'critical' being the edge of chaos (default he_normal; "
        "a --torch model keeps its own weights unless given)",
    ),
    torch_model: str | None = typer.Option(
        None, "--torch", help="diagnose a PyTorch model: MODULE:FACTORY or FILE.py:FACTORY"
    ),
    input_shape: str | None = typer.Option(
        None, "--input-shape", help="one input's shape for --torch, e.g. 1,28,28"
    ),
    depth: int = typer.Option(10, "--depth", help="number of hidden layers"),
    width: int = typer.Option(256, "--width", help="width of every hidden layer"),
    bias_init: str = typer.Option("zeros", "--bias-init", help="bias initializer"),
    sigma_w2: float | None = typer.Option(
        None, "--sigma-w2", help="weights N(0, sigma_w2 / fan_in) instead of --init"
    ),
    sigma_b2: float = typer.Option(0.0, "--sigma-b2", help="biases N(0, sigma_b2)"),
    q0: float = typer.Option(
        1.0, "--q0", help="input variance at which --init critical finds the edge of chaos"
    ),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="data set (default: Gaussian inputs of --width features)"
    ),
    n_samples: int = typer.Option(256, "--samples", help="Gaussian inputs to probe with"),
    n_models: int = typer.Option(1, "--models", help="networks to average over"),
    jacobian: bool = typer.Option(
        True, "--jacobian/--no-jacobian", help="also the Jacobian singular values"
    ),
    epochs: int = typer.Option(0, "--epochs", help="also train (on --dataset) and record"),
    every: int = typer.Option(5, "--every", help="record every k epochs when training"),
    seed: int = typer.Option(0, "--seed", "-s", help="seed of the weights and inputs"),
    out: str = typer.Option(".", "--out", "-o", help="directory for the PNG plots and CSV"),
) -> None:
    """Per-layer signal propagation of a network at initialization (and during training)."""
    from pathlib import Path

    import numpy as np

    from . import datasets, diagnostics, meanfield, plots

    if torch_model is not None:
        _diagnose_torch(
            torch_model, input_shape, init, sigma_b2, q0, dataset, n_samples, seed, Path(out)
        )
        return
    init = init or "he_normal"
    try:
        if depth < 1:
            raise ValueError(f"--depth must be at least 1 hidden layer, got {depth}")
        if width < 1:
            raise ValueError(f"--width must be a positive integer, got {width}")
        w_init, b_init = meanfield.initializers_for(
            activation, init, sigma_w2=sigma_w2, sigma_b2=sigma_b2, q0=q0, bias_init=bias_init
        )
        if dataset is None:
            X = diagnostics.gaussian_inputs(n_samples, width, seed)
            y, n_classes = None, 10
        else:
            data = datasets.load(dataset)
            X, y, n_classes = data.X_train, data.y_train, data.n_classes
        sizes = (width,) * depth
        df = diagnostics.propagation(
            sizes, activation, w_init, X, b_init, seed, n_models, y=y, n_classes=n_classes
        )
        spectrum = None
        if jacobian:
            Xj = X[: min(8, len(X))]
            spectrum = diagnostics.jacobian_singular_values(
                sizes, activation, w_init, Xj, b_init, seed, 1
            )
        record = None
        if epochs > 0:
            if dataset is None:
                raise ValueError("--epochs needs --dataset (training needs labels)")
            from .network import FFNetwork

            if sigma_w2 is not None or sigma_b2 or init.strip().lower() == "critical":
                raise ValueError("--epochs works with named --init and --bias-init only")
            net = FFNetwork(sizes, activation, init, bias_init, random_state=seed)
            record = diagnostics.record(net, X, y, every=every, epochs=epochs)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    mean = df.groupby(["layer", "kind"], as_index=False, sort=False).mean(numeric_only=True)
    console.print(
        _stats_table(
            mean,
            f"{activation} + {w_init.name}: "
            f"{depth} x {width}, {len(X)} inputs"
            + (f", mean of {n_models} networks" if n_models > 1 else ""),
        )
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written = [folder / "propagation.png", folder / "propagation.csv"]
    label = f"{activation} + {w_init.name}"
    plots.propagation(df, title=label).savefig(written[0], dpi=90)
    df.to_csv(written[1], index=False)
    if spectrum is not None:
        s = spectrum.ravel()
        say(
            f"Jacobian singular values: mean {s.mean():.3g}, max {s.max():.3g}, "
            f"Var(s²)/E(s²)² = {np.var(s**2) / np.mean(s**2) ** 2:.3g}"
        )
        written.append(folder / "jacobian.png")
        plots.spectrum(spectrum, label=label).savefig(written[-1], dpi=90)
    if record is not None:
        written += [folder / "evolution.png", folder / "evolution.csv"]
        plots.record(record, title=label).savefig(written[-2], dpi=90)
        record.to_csv(written[-1], index=False)
    say("wrote " + ", ".join(str(p) for p in written))


def _experiment_executors() -> list[str]:
    from .experiments._common import EXECUTORS

    return list(EXECUTORS)


@_command("experiment", name=_one_of(_experiments), executor=_one_of(_experiment_executors))
def experiment(
    name: str | None = typer.Argument(None, help="the experiment (none: list them)"),
    list_: bool = typer.Option(
        False, "--list", "-l", help="list the experiments (as initlab list experiments)"
    ),
    quick: bool = typer.Option(False, "--quick", help="the reduced size of the test suite"),
    seed: int = typer.Option(0, "--seed", "-s", help="seed of the whole experiment"),
    out: str = typer.Option(".", "--out", "-o", help="directory for the figure"),
    data: bool = typer.Option(False, "--data", help="also write the measurements as CSV"),
    executor: str = typer.Option(
        "local", "--executor", help="where the experiments that train run (trainability)"
    ),
    workers: int | None = typer.Option(None, "--workers", help="processes or dask workers"),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="the dask scheduler's address, tcp://HOST:PORT"
    ),
) -> None:
    """Run a named reproduction of an initialization paper and compare with its claims."""
    from pathlib import Path

    from . import experiments

    if list_ or name is None:
        _print_group("experiments", _list_groups()["experiments"]())
        return

    from .distributed import ClusterError

    try:
        with _progress("populations", transient=True) as progress:
            result = experiments.run(
                name,
                quick=quick,
                random_state=seed,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
            )
    except (ValueError, TypeError, ClusterError) as exc:
        _fail(str(exc))
        return
    rows = [
        [c.claim, c.paper, c.ours, text(("yes", "green") if c.holds else ("no", "red"))]
        for c in result.claims
    ]
    console.print(
        _table(
            f"{result.name}: {result.title} ({result.seconds:.1f} s)",
            ["claim", "paper", "ours", "holds"],
            rows,
        )
    )
    say((result.reference, "dim"))
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.name}.png"
    result.figure().savefig(path, dpi=80)
    written = [path]
    if data:
        written.append(folder / f"{result.name}.csv")
        result.data.to_csv(written[-1], index=False)
    say("wrote " + ", ".join(str(p) for p in written))
    if not result.all_hold:
        raise typer.Exit(1)


def _num(v: float) -> str:
    if v != v:
        return ""
    if v in (float("inf"), float("-inf")):
        return "∞" if v > 0 else "-∞"
    return f"{v:.3g}" if v == 0 or 1e-2 <= abs(v) < 1e4 else f"{v:.1e}"


@_command(
    "advise",
    activation=_registry("activations"),
    optimizer=_registry("optim"),
    dataset=_datasets,
)
def advise(
    activation: str = typer.Option("relu", "--activation", "-a", help="hidden-layer nonlinearity"),
    depth: int = typer.Option(..., "--depth", help="number of hidden layers"),
    width: int = typer.Option(..., "--width", help="width of every hidden layer"),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="the data (sizes the input; its mean square is q0)"
    ),
    sigma_b2: float | None = typer.Option(None, "--sigma-b2", help="bias variance for all"),
    check: bool = typer.Option(False, "--check", help="train the candidates to confirm"),
    seeds: int = typer.Option(3, "--seeds", help="seeds per candidate for --check"),
    epochs: int = typer.Option(5, "--epochs", help="epochs for --check"),
    optimizer: str = typer.Option("momentum", "--optimizer", "-o", help="optimizer of --check"),
    learning_rate: float = typer.Option(
        0.001, "--learning-rate", "--lr", help="learning rate of --check"
    ),
    batch_size: int = typer.Option(
        32, "--batch-size", help="batch size of --check (0: full batch)"
    ),
) -> None:
    """Which initializer for this network, and why: mean-field advice (and --check by training)."""

    from .advice import advise as _advise

    try:
        result = _advise(activation, depth, width, dataset, sigma_b2=sigma_b2)
        if check:
            data = dataset or "digits"
            with _progress("epochs", transient=True, what="training the candidates") as progress:
                result = result.check(
                    data,
                    seeds=seeds,
                    epochs=epochs,
                    optimizer=optimizer,
                    learning_rate=learning_rate,
                    batch_size=batch_size or None,
                    progress=progress,
                )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    _print_advice(result, depth, width)
    if result.checked is not None:
        _print_check(result)


def _print_advice(result, depth: int, width: int) -> None:
    columns = ["init", "σ_w²", "σ_b²", "q_L/q_1", "grad 1/L", "χ₁", "ξ_c", "ξ_∇", "phase"]
    rows = [
        [
            c.name,
            f"{c.sigma_w2:.4g}",
            f"{c.sigma_b2:g}",
            _num(c.q_last / c.q_first if c.q_first else float("nan")),
            _num(c.grad_factor),
            f"{c.chi1:.4g}",
            _num(c.xi_c),
            _num(c.xi_grad),
            c.phase,
            "✓" if c.trainable else "✗",
        ]
        for c in result.candidates
    ]
    console.print(
        _table(
            f"{result.activation}: {depth} hidden layers of {width} "
            f"(inputs: {result.n_features} features, mean square q0 = {result.q0:.3g})",
            [*columns, "✓"],
            rows,
            caption="q_L/q_1: pre-activation variance, last over first hidden layer; grad 1/L: "
            "squared gradient, first over last; ✓: depth ≤ 6 ξ_c",
            right=[c for c in columns if c not in ("init", "phase")],
            row_styles=[
                "bold green" if c == result.recommended else None for c in result.candidates
            ],
        )
    )
    for c in result.candidates:  # the sources under the table, so that it fits 80 columns
        say((f"  {c.name}: {c.source}", "dim"))
    r = result.recommended
    what = "the edge of chaos" if r.name == "critical" else r.name
    bias = f"b ~ N(0, {r.sigma_b2:g})" if r.sigma_b2 else "b = 0"
    say(
        ("Recommended:", "bold"),
        f" {what}: W ~ N(0, {r.sigma_w2:.4g} / fan_in), {bias}  ",
        (f"({r.source})", "dim"),
    )
    for note, source in result.notes:
        say(f" • {note}  ", (f"({source})", "dim"))


def _print_check(result) -> None:
    setup = result.check_setup
    rows = []
    for _, row in result.checked.sort_values("predicted_rank").iterrows():
        mark = " ★" if row["best"] else (" ≈" if row["tied"] else "")
        rows.append(
            [
                row["init"],
                f"{row['mean']:.1%}{mark}",
                f"{row['ci_low']:.1%} .. {row['ci_high']:.1%}",
                f"{row['train_loss']:.3g}",
                str(int(row["predicted_rank"])),
            ]
        )
    columns = ["init", "val_acc", "95% CI", "train_loss", "predicted"]
    console.print(
        _table(
            f"--check: {setup['data']}, {len(setup['seeds'])} seeds, {setup['epochs']} "
            f"epochs of {setup['optimizer']} (lr {setup['learning_rate']:g}, batch "
            f"{setup['batch_size'] or 'full'})",
            columns,
            rows,
            caption="★ best val_acc  ≈ tied with it (paired t-test across seeds)  "
            "predicted: rank by the mean-field score",
            right=columns[1:],
        )
    )


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()

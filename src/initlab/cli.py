"""The ``initlab`` command line (typer + rich).

Commands: ``study`` (the main job), ``train``, ``list``, ``results``,
``report``, ``diagnose``, ``experiment``, ``advise``, ``serve``.  Each command is a thin
layer over the library: parse, call, print.
"""

from __future__ import annotations

import inspect

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    name="initlab",
    help="A laboratory for activation functions, weight initialization and optimizers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def _fail(message: str, code: int = 2) -> None:
    from rich.markup import escape

    err_console.print(f"[bold red]error:[/] {escape(str(message))}")
    raise typer.Exit(code)


def _parse_sizes(text: str) -> tuple[int, ...]:
    text = text.strip().strip("[]()")
    if not text:
        return ()
    try:
        return tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        _fail(f"layer sizes must be comma-separated integers like '16,16', got {text!r}")
        raise


def _print_named(title: str, entries: dict[str, str]) -> None:
    table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
    table.add_column("name")
    table.add_column("description")
    for name, text in entries.items():
        table.add_row(name, text)
    console.print(table)


@app.command("list")
def list_cmd(
    what: str | None = typer.Argument(
        None, help="activations, initializers, optimizers, losses, datasets (default: all)"
    ),
) -> None:
    """List what can be chosen, each with a one-line description."""
    from . import activations, datasets, initializers, losses, optim

    groups = {
        "activations": activations.REGISTRY,
        "initializers": initializers.REGISTRY,
        "bias initializers": initializers.BIAS_REGISTRY,
        "optimizers": optim.REGISTRY,
        "losses": losses.REGISTRY,
        "datasets": datasets.REGISTRY,
    }
    from .runs import RECIPES

    recipes = {name: r.description for name, r in RECIPES.items()}
    if what is None or "recipes".startswith(what.lower().rstrip("s")):
        _print_named("recipes", recipes)
        if what is not None:
            return
    if what is not None:
        keys = [k for k in groups if k.replace(" ", "_").startswith(what.lower().rstrip("s"))]
        if not keys:
            _fail(f"unknown group {what!r}; choose one of: {', '.join(groups)}")
        groups = {k: groups[k] for k in keys}
    for title, registry in groups.items():
        table = Table(title=title, show_header=True, header_style="bold", title_justify="left")
        table.add_column("name")
        table.add_column("aliases", style="dim")
        table.add_column("description")
        for name in registry.names():
            table.add_row(name, ", ".join(registry.aliases(name)), registry.describe(name))
        console.print(table)


_TRAIN_OWN = ("dataset", "target", "recipe")  # train's options that are not run fields


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


def train(
    dataset: str = "blog", target: str | None = None, recipe: str | None = None, **fields
) -> None:
    """Train one network on a data set and print its accuracy and loss.

    Every run field is an option (``initlab train --help``); ``--recipe blog``
    sets the blog's whole protocol, and reads its names ("xavier" = lecun_normal).
    """
    from . import datasets, runs

    given = {k: v for k, v in fields.items() if v is not None}
    try:
        spec = runs.RunSpec.make(recipe=recipe, **given)
        data = datasets.load(dataset, **({"target": target} if target else {}))
        net = spec.network()
        net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    h = net.history_
    init = runs.label("init", spec.init, recipe)
    table = Table(
        title=f"{spec.activation} + {init}, {spec.optimizer} lr={spec.learning_rate:g}, "
        f"{net.n_iter_} epochs on {data.label}",
        caption=f"{data.n_train} training and {data.n_val} validation samples, "
        f"{data.n_classes} classes, {data.n_features} features",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("")
    table.add_column("loss", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_row("train", f"{h['train_loss'][-1]:.4f}", f"{h['train_acc'][-1]:.2%}")
    table.add_row("validation", f"{h['val_loss'][-1]:.4f}", f"{h['val_acc'][-1]:.2%}")
    console.print(table)
    if net.diverged_:
        console.print(
            f"[yellow]diverged at epoch {net.diverged_epoch_}: the loss or the weights "
            "became non-finite; try a smaller --learning-rate[/]"
        )


class _TrainCommand:
    """``initlab train``: its options are the run schema's fields, read when the command
    line is built, so a field registered later (a plugin's activation parameter) is an
    option too."""

    __name__ = "train"
    __doc__ = train.__doc__

    @property
    def __signature__(self) -> inspect.Signature:
        own = [
            inspect.Parameter(
                "dataset",
                _KEYWORD,
                default=typer.Option(
                    "blog", "--dataset", "-d", help="data set name or CSV/NPZ path"
                ),
                annotation=str,
            ),
            inspect.Parameter(
                "target",
                _KEYWORD,
                default=typer.Option(None, "--target", help="label column of a CSV"),
                annotation=str | None,
            ),
            inspect.Parameter(
                "recipe",
                _KEYWORD,
                default=typer.Option(
                    None, "--recipe", help="a published protocol that sets the defaults: blog"
                ),
                annotation=str | None,
            ),
        ]
        return inspect.Signature(own + _run_options(), return_annotation=None)

    @property
    def __annotations__(self) -> dict:
        return {p.name: p.annotation for p in self.__signature__.parameters.values()}

    def __call__(self, **kwargs) -> None:
        train(**kwargs)


app.command("train")(_TrainCommand())


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
        table = Table(
            title=f"{study.name}: mean {metric}{' (%)' * pct} over {seeds} seed"
            f"{'s' * (seeds != 1)}" + (f" — {where}" if where else ""),
            title_justify="left",
        )
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

    from .stats import story

    lines = [
        layout.describe() + ".",
        escape(story(alpha)).replace("★", "[bold green]★[/]").replace("≈", "[green]≈[/]"),
        "± half-width of the bootstrap 95% CI of the mean; [yellow]k/n div[/]: k of the n "
        "seeds diverged (non-finite loss or weights; their last finite "
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


@app.command()
def study(
    preset: str = typer.Argument("blog", help="blog, optimizers, moons or deep"),
    config: str | None = typer.Option(None, "--config", "-c", help="a study TOML file"),
    seeds: int | None = typer.Option(None, "--seeds", help="number of seeds (0..n-1)"),
    epochs: int | None = typer.Option(None, "--epochs", help="override the epochs"),
    name: str | None = typer.Option(None, "--name", help="store the study under this name"),
    store: str = typer.Option("initlab.db", "--store", help="SQLite file of studies"),
    fresh: bool = typer.Option(False, "--fresh", help="retrain runs already stored"),
    replace: bool = typer.Option(
        False,
        "--replace",
        help="redefine a stored study of this name with this grid (its old runs stay in "
        "the store for reuse); without it a changed grid is refused",
    ),
    executor: str = typer.Option("local", "--executor", help="local, processes or dask"),
    workers: int | None = typer.Option(None, "--workers", help="processes or dask workers"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="tcp://HOST:PORT"),
    metric: str | None = typer.Option(
        None, "--metric", help="what ranks the runs: val_acc (default; val_loss for regression)"
    ),
    report: str | None = typer.Option(
        None, "--report", "-o", help="report path (default: <study>-report.html)"
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

    Exits 1 when some runs failed (the reasons are listed at the end, and
    `initlab results --failed` lists the runs), 2 on bad input or a cluster or
    store that cannot be used.
    """
    import sys
    import time

    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from .distributed import ClusterError  # dask itself is imported only when used
    from .store import StoreError
    from .study import Study, StudyConfigError

    start = time.perf_counter()
    try:
        overrides = {"seeds": seeds, "epochs": epochs, "name": name}
        if config:
            s = Study.from_toml(config)
            for k, v in overrides.items():
                if v is not None:
                    setattr(s, k, v)
            s._normalize()
        else:
            s = Study.preset(preset, **overrides)
        n_runs = s.n_runs()
        s.check(store, replace)
        metric = _check_metric(metric or s.default_metric())
        _check_best_over(s, best_over)
    except (StudyConfigError, StoreError, ValueError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    console.print(f"[bold]{s.name}[/]: {s.description or ''} — {n_runs} runs -> {store}")
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("model-epochs"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    ]
    try:
        with Progress(*columns, console=err_console, transient=False) as bar:
            task = bar.add_task("training", total=None)

            def progress(done, total):
                bar.update(task, completed=done, total=total)

            with _warnings_to(err_console):
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
        err_console.print("[yellow]interrupted: finished runs are stored; rerun to resume[/]")
        raise typer.Exit(130) from None
    except (StoreError, StudyConfigError, ValueError, OSError, ClusterError) as exc:
        _fail(str(exc))
        return
    for note in result.notes:
        console.print(f"[dim]{escape(note)}[/]")
    console.print(str(result))
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
        if not no_report:
            _write_report(s, store, report, metric, best_over)
    console.print(f"[dim]done in {time.perf_counter() - start:.1f} s[/]")
    if not result.ok:
        err_console.print(
            f"[bold red]{result.failed} run(s) failed[/] (stored as failed; a rerun retries them):"
        )
        for line in result.failure_lines():
            err_console.print(f"  {escape(line)}")
        err_console.print(
            f"  list them with: initlab results --failed --study {s.name} --store {store}"
        )
        raise typer.Exit(1)


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

    def __init__(self, where: Console):
        self.where = where

    def __enter__(self):
        import warnings

        self._saved = warnings.showwarning
        warnings.showwarning = self._show
        return self

    def _show(self, message, category, filename, lineno, file=None, line=None):
        self.where.print(f"[yellow]warning:[/] {message}")

    def __exit__(self, *exc):
        import warnings

        warnings.showwarning = self._saved


def _write_report(s, store: str, path: str | None, metric: str | None = None, best_over=()) -> None:
    from pathlib import Path

    try:
        from . import report as _report
    except ImportError:
        _report = None
    if _report is None or not hasattr(_report, "build"):
        out = Path(store).with_name(f"{s.name}-results.csv")
        s.results().to_csv(out, index=False)
        console.print(f"results written to [bold]{out}[/]")
        return
    out = Path(path or f"{s.name}-report.html")
    _report.build(s.name, store, out, metric=metric, best_over=best_over)
    console.print(f"report written to [bold]{out}[/]")


@app.command()
def results(
    study_name: str | None = typer.Option(None, "--study", "-s", help="study to query"),
    store: str = typer.Option("initlab.db", "--store"),
    where: list[str] = typer.Option([], "--where", "-w", help="filter COLUMN=VALUE (repeatable)"),
    fmt: str | None = typer.Option(None, "--format", "-f", help="csv, json or parquet"),
    output: str | None = typer.Option(None, "--output", "-o", help="file (default stdout)"),
    summary: bool = typer.Option(False, "--summary", help="seeds collapsed, with statistics"),
    metric: str | None = typer.Option(
        None, "--metric", help="what ranks the runs: val_acc (default; val_loss for regression)"
    ),
    limit: int = typer.Option(40, "--limit", min=0, help="rows shown in the terminal"),
    failed: bool = typer.Option(False, "--failed", help="the failed runs, with their reason"),
    best_over: list[str] = typer.Option([], "--best-over", help=BEST_OVER_HELP),
) -> None:
    """List the studies in a store, or query a study's runs (filter, export)."""
    from .store import Store, StoreError
    from .study import Study

    try:
        if failed:
            with Store(store, readonly=True) as st:
                frame = st.failed_runs(study_name)
                reasons = st.failure_reasons(study_name)
            what = f"study {study_name}" if study_name else store
            if frame.empty:
                console.print(f"no failed runs in {what}")
                return
            if fmt is None and output is None:
                shown = [c for c in frame.columns if frame[c].astype(str).nunique() > 1]
                _print_frame(
                    frame[
                        ["run_hash", "error", *[c for c in shown if c not in ("run_hash", "error")]]
                    ],
                    f"{what}: {len(frame)} failed runs",
                    limit,
                )
                for reason, n in reasons.items():
                    console.print(f"  {n} run{'s' * (n != 1)}: {reason}")
                return
        elif study_name is None:
            with Store(store, readonly=True) as st:
                frame = st.studies()
            if frame.empty:
                console.print(f"no studies in {store}")
                return
            _print_frame(frame, f"studies in {store}", limit)
            return
        else:
            s = Study.load(study_name, store)
            frame = s.summary(metric, best_over=best_over) if summary else s.results()
    except (StoreError, KeyError, ValueError) as exc:
        _fail(str(exc).strip('"'))
        return
    from . import runs as _runs

    for cond in where:
        try:
            column, op, value = _runs.parse_condition(cond, list(frame.columns), s.recipe)
        except ValueError as exc:
            _fail(str(exc))
            return
        before = frame
        frame = _runs.select(frame, column, op, value)
        if frame.empty:
            present = sorted({_runs.label(column, v, s.recipe) for v in before[column].dropna()})
            shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
            _fail(
                f"no rows match {column}{op}{_runs.label(column, value, s.recipe)} "
                f"(as given: {cond!r}); {column} here is: {shown or 'always empty'}",
                code=1,
            )
            return
    if fmt is None and output is None:
        if summary:  # the study's comparisons, as `initlab study` prints them
            layout = s.layout(best_over=best_over)
            for table in _summary_tables(s, frame, metric or s.default_metric(), layout):
                console.print(table)
            return
        _print_frame(frame, f"{study_name}: {len(frame)} rows", limit)
        return
    fmt = (fmt or output.rsplit(".", 1)[-1]).lower()
    if fmt not in ("csv", "json", "parquet"):
        _fail(f"unknown format {fmt!r}; choose csv, json or parquet")
    if fmt == "parquet" and output is None:
        _fail("parquet is binary: give --output FILE")
    from contextlib import nullcontext

    from .files import replacing

    try:
        # written whole or not at all: a full disk leaves no truncated export
        with replacing(output) if output else nullcontext(None) as target:
            if fmt == "csv":
                text = frame.to_csv(target, index=False)
            elif fmt == "json":
                text = frame.to_json(target, orient="records", indent=1)
            else:
                frame.to_parquet(target, index=False)
                text = None
    except ImportError as exc:
        _fail(f"{exc} (pip install initlab[parquet])")
        return
    except OSError as exc:
        _fail(f"cannot write {output}: {exc}")
        return
    if output is None and text is not None:
        typer.echo(text)
    elif output:
        err_console.print(f"{len(frame)} rows written to {output}")


# --- store ------------------------------------------------------------------------------------
store_app = typer.Typer(help="Check a store file, or recover what is readable of a damaged one.")
app.add_typer(store_app, name="store")


@store_app.command("check")
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
        console.print(f"{path}: ok")
        return
    err_console.print(f"[bold red]{path} is damaged[/] ({len(problems)} problem(s)):")
    for line in problems[:20]:
        err_console.print(f"  {line}")
    err_console.print(_repair_hint(path))
    raise typer.Exit(1)


@store_app.command("recover")
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
    console.print(str(report))
    for line in report.problems[:10]:
        err_console.print(f"  [dim]unreadable: {line}[/]")


def _print_frame(frame, title: str, limit: int) -> None:
    table = Table(title=title, title_justify="left")
    for c in frame.columns:
        table.add_column(str(c), overflow="fold")
    for _, row in frame.head(limit).iterrows():
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"[dim]... {len(frame) - limit} more rows (use --format/--output)[/]")


# --- report ----------------------------------------------------------------------------------


@app.command("report")
def report_cmd(
    study_name: str = typer.Option(..., "--study", "-s", help="the stored study to report"),
    store: str = typer.Option("initlab.db", "--store", help="SQLite file of studies"),
    output: str | None = typer.Option(
        None, "--output", "-o", help="HTML file to write (default: <study>-report.html)"
    ),
    metric: str | None = typer.Option(
        None, "--metric", help="what ranks the runs: val_acc (default; val_loss for regression)"
    ),
) -> None:
    """Regenerate a study's self-contained HTML report from the store alone."""
    import shlex
    import sys
    import time
    from pathlib import Path

    from . import report as _report

    start = time.perf_counter()
    out = Path(output or f"{study_name}-report.html")
    command = "initlab " + " ".join(map(shlex.quote, sys.argv[1:]))
    try:
        path = _report.build(study_name, store, out, command=command, metric=metric)
    except (ValueError, KeyError, OSError, RuntimeError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        _fail(str(message))
        return
    size = path.stat().st_size / 1e6
    console.print(
        f"report written to [bold]{path}[/] ({size:.1f} MB, {time.perf_counter() - start:.1f} s)"
    )


# --- serve -----------------------------------------------------------------------------------
@app.command()
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
        err_console.print(
            f"[yellow]warning:[/] binding to {host}: anyone who can reach this machine "
            "can use the playground"
        )
    try:
        run_server(host=host, port=port, open_browser=open_browser, announce=console.print)
    except OSError as exc:
        _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


# --- diagnose / experiment -------------------------------------------------------------------
def _stats_table(df, title: str) -> Table:
    from rich import box

    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    cols = ["layer", "z_var", "a_mean", "a_var", "grad_var", "dW_var"]  # all in --out CSV
    extra = [c for c in ("saturated", "dead") if df[c].notna().any()] + ["copies"]
    for col in cols + extra:
        table.add_column(col, justify="right")
    for _, row in df.iterrows():
        cells = [str(int(row["layer"])) if row["kind"] == "hidden" else "out"]
        for col in cols[1:]:
            v = row[col]
            cells.append(f"{v:.3g}" if v == 0 or 1e-2 <= abs(v) < 1e3 else f"{v:.1e}")
        for col in extra:
            v = row[col]
            if v != v:  # NaN
                cells.append("")
            elif col == "copies":
                cells.append(str(int(v)))
            else:
                cells.append(f"{v:.1%}")
        table.add_row(*cells)
    return table


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
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
def diagnose(
    activation: str = typer.Option("relu", "--activation", "-a"),
    init: str | None = typer.Option(
        None,
        "--init",
        "-i",
        help="an initializer name, or 'critical' (edge of chaos); default he_normal "
        "(a --torch model keeps its own weights unless given)",
    ),
    torch_model: str | None = typer.Option(
        None, "--torch", help="diagnose a PyTorch model: MODULE:FACTORY or FILE.py:FACTORY"
    ),
    input_shape: str | None = typer.Option(
        None, "--input-shape", help="one input's shape for --torch, e.g. 1,28,28"
    ),
    depth: int = typer.Option(10, "--depth", help="number of hidden layers"),
    width: int = typer.Option(256, "--width", help="width of every hidden layer"),
    bias_init: str = typer.Option("zeros", "--bias-init"),
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
    seed: int = typer.Option(0, "--seed", "-s"),
    out: str = typer.Option(".", "--out", "-o", help="directory for the PNG plots"),
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
        console.print(
            f"Jacobian singular values: mean {s.mean():.3g}, max {s.max():.3g}, "
            f"Var(s²)/E(s²)² = {np.var(s**2) / np.mean(s**2) ** 2:.3g}"
        )
        written.append(folder / "jacobian.png")
        plots.spectrum(spectrum, label=label).savefig(written[-1], dpi=90)
    if record is not None:
        written += [folder / "evolution.png", folder / "evolution.csv"]
        plots.record(record, title=label).savefig(written[-2], dpi=90)
        record.to_csv(written[-1], index=False)
    console.print("wrote " + ", ".join(str(p) for p in written))


@app.command()
def experiment(
    name: str | None = typer.Argument(None, help="experiment name (see --list)"),
    list_: bool = typer.Option(False, "--list", "-l", help="list the experiments"),
    quick: bool = typer.Option(False, "--quick", help="the reduced size of the test suite"),
    seed: int = typer.Option(0, "--seed", "-s"),
    out: str = typer.Option(".", "--out", "-o", help="directory for the figure"),
    data: bool = typer.Option(False, "--data", help="also write the measurements as CSV"),
    executor: str = typer.Option(
        "local", "--executor", help="local, processes or dask (for trainability)"
    ),
    workers: int | None = typer.Option(None, "--workers", help="processes or dask workers"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="tcp://HOST:PORT"),
) -> None:
    """Run a named reproduction of an initialization paper and compare with its claims."""
    from pathlib import Path

    from . import experiments

    if list_ or name is None:
        table = Table(title="experiments", title_justify="left")
        table.add_column("name")
        table.add_column("what")
        for n in experiments.names():
            table.add_row(n, experiments.get(n).title)
        console.print(table)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .distributed import ClusterError

    try:
        with Progress(
            TextColumn("training populations"),
            BarColumn(),
            MofNCompleteColumn(),
            console=err_console,
            transient=True,
        ) as bar:
            task = bar.add_task("train", total=None)
            result = experiments.run(
                name,
                quick=quick,
                random_state=seed,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except (ValueError, TypeError, ClusterError) as exc:
        _fail(str(exc))
        return
    table = Table(
        title=f"{result.name}: {result.title} ({result.seconds:.1f} s)", title_justify="left"
    )
    for col in ("claim", "paper", "ours", "holds"):
        table.add_column(col)
    for c in result.claims:
        table.add_row(c.claim, c.paper, c.ours, "[green]yes[/]" if c.holds else "[red]no[/]")
    console.print(table)
    console.print(f"[dim]{result.reference}[/]")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{result.name}.png"
    result.figure().savefig(path, dpi=80)
    written = [path]
    if data:
        written.append(folder / f"{result.name}.csv")
        result.data.to_csv(written[-1], index=False)
    console.print("wrote " + ", ".join(str(p) for p in written))
    if not result.all_hold:
        raise typer.Exit(1)


def _num(v: float) -> str:
    if v != v:
        return ""
    if v in (float("inf"), float("-inf")):
        return "∞" if v > 0 else "-∞"
    return f"{v:.3g}" if v == 0 or 1e-2 <= abs(v) < 1e4 else f"{v:.1e}"


@app.command()
def advise(
    activation: str = typer.Option("relu", "--activation", "-a"),
    depth: int = typer.Option(..., "--depth", help="number of hidden layers"),
    width: int = typer.Option(..., "--width", help="width of every hidden layer"),
    dataset: str | None = typer.Option(
        None, "--dataset", "-d", help="the data (sizes the input; its mean square is q0)"
    ),
    sigma_b2: float | None = typer.Option(None, "--sigma-b2", help="bias variance for all"),
    check: bool = typer.Option(False, "--check", help="train the candidates to confirm"),
    seeds: int = typer.Option(3, "--seeds", help="seeds per candidate for --check"),
    epochs: int = typer.Option(5, "--epochs", help="epochs for --check"),
    optimizer: str = typer.Option("momentum", "--optimizer", "-o", help="for --check"),
    learning_rate: float = typer.Option(0.001, "--learning-rate", "--lr", help="for --check"),
    batch_size: int = typer.Option(32, "--batch-size", help="for --check (0: full batch)"),
) -> None:
    """Which initializer for this network, and why: mean-field advice (and --check by training)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .advice import advise as _advise

    try:
        result = _advise(activation, depth, width, dataset, sigma_b2=sigma_b2)
        if check:
            data = dataset or "digits"
            with Progress(
                TextColumn("training the candidates"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("epochs"),
                console=err_console,
                transient=True,
            ) as bar:
                task = bar.add_task("check", total=epochs)
                result = result.check(
                    data,
                    seeds=seeds,
                    epochs=epochs,
                    optimizer=optimizer,
                    learning_rate=learning_rate,
                    batch_size=batch_size or None,
                    progress=lambda done, total: bar.update(task, completed=done),
                )
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    table = Table(
        title=f"{result.activation}: {depth} hidden layers of {width} "
        f"(inputs: {result.n_features} features, mean square q0 = {result.q0:.3g})",
        title_justify="left",
        caption="q_L/q_1: pre-activation variance, last over first hidden layer; grad 1/L: "
        "squared gradient, first over last; ✓: depth ≤ 6 ξ_c",
        caption_justify="left",
    )
    for col in ("init", "σ_w²", "σ_b²", "q_L/q_1", "grad 1/L", "χ₁", "ξ_c", "ξ_∇", "phase"):
        table.add_column(col, justify="left" if col in ("init", "phase") else "right")
    table.add_column("✓")
    table.add_column("from", style="dim")
    for c in result.candidates:
        style = "bold green" if c == result.recommended else None
        table.add_row(
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
            c.source,
            style=style,
        )
    console.print(table)
    r = result.recommended
    what = "the edge of chaos" if r.name == "critical" else r.name
    console.print(
        f"[bold]Recommended:[/] {what}: W ~ N(0, {r.sigma_w2:.4g} / fan_in), "
        + (f"b ~ N(0, {r.sigma_b2:g})" if r.sigma_b2 else "b = 0")
        + f"  [dim]({r.source})[/]"
    )
    for text, source in result.notes:
        console.print(f" • {text}  [dim]({source})[/]")
    if result.checked is not None:
        setup = result.check_setup
        check_table = Table(
            title=f"--check: {setup['data']}, {len(setup['seeds'])} seeds, {setup['epochs']} "
            f"epochs of {setup['optimizer']} (lr {setup['learning_rate']:g}, batch "
            f"{setup['batch_size'] or 'full'})",
            title_justify="left",
            caption="★ best val_acc  ≈ tied with it (paired t-test across seeds)  "
            "predicted: rank by the mean-field score",
            caption_justify="left",
        )
        for col in ("init", "val_acc", "95% CI", "train_loss", "predicted"):
            check_table.add_column(col, justify="left" if col == "init" else "right")
        for _, row in result.checked.sort_values("predicted_rank").iterrows():
            mark = " ★" if row["best"] else (" ≈" if row["tied"] else "")
            check_table.add_row(
                row["init"],
                f"{row['mean']:.1%}{mark}",
                f"{row['ci_low']:.1%} .. {row['ci_high']:.1%}",
                f"{row['train_loss']:.3g}",
                str(int(row["predicted_rank"])),
            )
        console.print(check_table)


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()

"""The ``initlab`` command line (typer + rich).

Commands: ``study`` (the main job), ``train``, ``list``, ``results``,
``report``, ``diagnose``, ``experiment``, ``serve``.  Each command is a thin
layer over the library: parse, call, print.
"""

from __future__ import annotations

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
    err_console.print(f"[bold red]error:[/] {message}")
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


@app.command()
def train(
    dataset: str = typer.Option("blog", "--dataset", "-d", help="data set name or CSV/NPZ path"),
    hidden: str = typer.Option("16", "--hidden", help="hidden layer sizes, e.g. '16,16'"),
    activation: str = typer.Option("relu", "--activation", "-a"),
    init: str = typer.Option("he_normal", "--init", "-i"),
    bias_init: str = typer.Option("zeros", "--bias-init"),
    optimizer: str = typer.Option("adam", "--optimizer", "-o"),
    learning_rate: float = typer.Option(0.01, "--learning-rate", "--lr"),
    epochs: int = typer.Option(200, "--epochs", "-e"),
    batch_size: int | None = typer.Option(None, "--batch-size"),
    loss: str = typer.Option("cross_entropy", "--loss"),
    leaky_slope: float = typer.Option(0.1, "--leaky-slope"),
    momentum: float | None = typer.Option(None, "--momentum"),
    rho: float | None = typer.Option(None, "--rho"),
    beta1: float | None = typer.Option(None, "--beta1"),
    beta2: float | None = typer.Option(None, "--beta2"),
    eps: float | None = typer.Option(None, "--eps"),
    weight_decay: float | None = typer.Option(None, "--weight-decay"),
    shuffle: bool = typer.Option(False, "--shuffle/--no-shuffle"),
    seed: int = typer.Option(0, "--seed", "-s"),
    rng_kind: str = typer.Option("generator", "--rng-kind"),
    dtype: str = typer.Option("float64", "--dtype"),
    target: str | None = typer.Option(None, "--target", help="label column of a CSV"),
) -> None:
    """Train one network on a data set and print its accuracy and loss."""
    from . import datasets
    from .network import FFNetwork

    try:
        options = {"target": target} if target else {}
        data = datasets.load(dataset, **options)
        net = FFNetwork(
            hidden_layer_sizes=_parse_sizes(hidden),
            activation=activation,
            init=init,
            bias_init=bias_init,
            optimizer=optimizer,
            learning_rate=learning_rate,
            epochs=epochs,
            batch_size=batch_size,
            loss=loss,
            leaky_slope=leaky_slope,
            momentum=momentum,
            rho=rho,
            beta1=beta1,
            beta2=beta2,
            eps=eps,
            weight_decay=weight_decay,
            shuffle=shuffle,
            random_state=seed,
            rng_kind=rng_kind,
            dtype=dtype,
        )
        net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        _fail(str(exc))
        return
    h = net.history_
    table = Table(
        title=f"{activation} + {init}, {optimizer} lr={learning_rate}, "
        f"{net.n_iter_} epochs on {dataset}"
    )
    table.add_column("")
    table.add_column("loss", justify="right")
    table.add_column("accuracy", justify="right")
    table.add_row("train", f"{h['train_loss'][-1]:.4f}", f"{h['train_acc'][-1]:.2%}")
    table.add_row("validation", f"{h['val_loss'][-1]:.4f}", f"{h['val_acc'][-1]:.2%}")
    console.print(table)
    if net.diverged_:
        console.print(f"[yellow]diverged at epoch {net.diverged_epoch_}[/]")


# --- studies ---------------------------------------------------------------------------------
def _summary_tables(study, summary, metric: str) -> list[Table]:
    """Pivot a summary: rows the compared settings, columns activations, one table per block set."""
    import math

    col = "activation" if "activation" in summary.columns else study.compare[-1]
    row_cols = [
        c for c in study.compare if c in summary.columns and c != col and summary[c].nunique() > 1
    ]
    if not row_cols:
        row_cols = [c for c in study.compare if c in summary.columns and c != col][:1]
    # drop a row column that the earlier ones determine (the blog's bias follows its init)
    kept = row_cols[:1]
    for c in row_cols[1:]:
        if summary.groupby(kept)[c].nunique().max() > 1:
            kept.append(c)
    row_cols = kept
    skip = {
        col,
        "leaky_slope",
        *row_cols,
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
        "diverged",
        "rank",
        "best",
        "tied",
        "p_value",
        "block",
    }
    table_cols = [c for c in summary.columns if c not in skip and summary[c].nunique() > 1]
    groups = summary.groupby(table_cols, sort=False) if table_cols else [((), summary)]
    pct = metric.endswith("acc")
    tables = []
    for key, frame in groups:
        key = key if isinstance(key, tuple) else (key,)
        title = ", ".join(f"{c}={v}" for c, v in zip(table_cols, key, strict=True))
        n = int(frame["n"].max())
        table = Table(
            title=f"{study.name}: mean {metric} over {n} seeds" + (f" ({title})" if title else ""),
            caption="[bold green]★[/] best   [green]≈[/] tied with the best (paired t-test "
            "across seeds, p ≥ 0.05)   ± half-width of the bootstrap 95% CI",
            title_justify="left",
            caption_justify="left",
        )
        table.add_column(" / ".join(row_cols) or "")
        columns = list(dict.fromkeys(frame[col]))
        for c in columns:
            table.add_column(str(c), justify="right")
        for rkey, rows in frame.groupby(row_cols, sort=False) if row_cols else [((), frame)]:
            rkey = rkey if isinstance(rkey, tuple) else (rkey,)
            cells = []
            for c in columns:
                hit = rows[rows[col] == c]
                if hit.empty:
                    cells.append("")
                    continue
                r = hit.iloc[0]
                scale = 100 if pct else 1
                half = (r.ci_high - r.ci_low) / 2 * scale
                text = (
                    f"{r['mean'] * scale:.1f} ±{half:.1f}" if not math.isnan(r["mean"]) else "n/a"
                )
                if r.best:
                    text = f"[bold green]{text} ★[/]"
                elif r.tied:
                    text = f"[green]{text} ≈[/]"
                if r.diverged > 0:
                    text += f" [yellow]({r.diverged:.0%} div)[/]"
                cells.append(text)
            table.add_row(" / ".join(str(k) for k in rkey), *cells)
        tables.append(table)
    return tables


@app.command()
def study(
    preset: str = typer.Argument("blog", help="blog, optimizers, moons or deep"),
    config: str | None = typer.Option(None, "--config", "-c", help="a study TOML file"),
    seeds: int | None = typer.Option(None, "--seeds", help="number of seeds (0..n-1)"),
    epochs: int | None = typer.Option(None, "--epochs", help="override the epochs"),
    name: str | None = typer.Option(None, "--name", help="store the study under this name"),
    store: str = typer.Option("initlab.db", "--store", help="SQLite file of studies"),
    fresh: bool = typer.Option(False, "--fresh", help="retrain runs already stored"),
    executor: str = typer.Option("local", "--executor", help="local, processes or dask"),
    workers: int | None = typer.Option(None, "--workers", help="processes or dask workers"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="tcp://HOST:PORT"),
    metric: str = typer.Option("val_acc", "--metric"),
    report: str | None = typer.Option(
        None, "--report", "-o", help="report path (default: <study>-report.html)"
    ),
    no_report: bool = typer.Option(False, "--no-report", help="skip the HTML report"),
) -> None:
    """Run a study (default: the blog's 16 combinations x 10 seeds), print and store it."""
    import sys
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

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
    except (StudyConfigError, ValueError, FileNotFoundError) as exc:
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

            result = s.run(
                store,
                fresh=fresh,
                executor=executor,
                workers=workers,
                scheduler=scheduler,
                progress=progress,
                command=" ".join(["initlab", *sys.argv[1:]]),
            )
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted: finished runs are stored; rerun to resume[/]")
        raise typer.Exit(130) from None
    except (StoreError, StudyConfigError, ValueError, OSError) as exc:
        _fail(str(exc))
        return
    console.print(str(result))
    summary = s.summary(metric)
    for table in _summary_tables(s, summary, metric):
        console.print(table)
    if not no_report:
        _write_report(s, store, report)
    console.print(f"[dim]done in {time.perf_counter() - start:.1f} s[/]")


def _write_report(s, store: str, path: str | None) -> None:
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
    _report.build(s.name, store, out)
    console.print(f"report written to [bold]{out}[/]")


@app.command()
def results(
    study_name: str | None = typer.Option(None, "--study", "-s", help="study to query"),
    store: str = typer.Option("initlab.db", "--store"),
    where: list[str] = typer.Option([], "--where", "-w", help="filter COLUMN=VALUE (repeatable)"),
    fmt: str | None = typer.Option(None, "--format", "-f", help="csv, json or parquet"),
    output: str | None = typer.Option(None, "--output", "-o", help="file (default stdout)"),
    summary: bool = typer.Option(False, "--summary", help="seeds collapsed, with statistics"),
    metric: str = typer.Option("val_acc", "--metric"),
    limit: int = typer.Option(40, "--limit", help="rows shown in the terminal"),
) -> None:
    """List the studies in a store, or query a study's runs (filter, export)."""
    from .store import Store, StoreError
    from .study import Study

    try:
        if study_name is None:
            with Store(store, readonly=True) as st:
                frame = st.studies()
            if frame.empty:
                console.print(f"no studies in {store}")
                return
            _print_frame(frame, f"studies in {store}", limit)
            return
        s = Study.load(study_name, store)
        frame = s.summary(metric) if summary else s.results()
    except (StoreError, KeyError) as exc:
        _fail(str(exc).strip('"'))
        return
    for cond in where:
        if "=" not in cond:
            _fail(f"--where expects COLUMN=VALUE, got {cond!r}")
        col, value = cond.split("=", 1)
        if col not in frame.columns:
            import difflib

            close = difflib.get_close_matches(col, list(frame.columns), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            _fail(f"unknown column {col!r}{hint} Columns: {', '.join(frame.columns)}")
        frame = frame[frame[col].astype(str) == value]
    if fmt is None and output is None:
        _print_frame(frame, f"{study_name}: {len(frame)} rows", limit)
        return
    fmt = (fmt or output.rsplit(".", 1)[-1]).lower()
    if fmt not in ("csv", "json", "parquet"):
        _fail(f"unknown format {fmt!r}; choose csv, json or parquet")
    if fmt == "parquet" and output is None:
        _fail("parquet is binary: give --output FILE")
    try:
        if fmt == "csv":
            text = frame.to_csv(output, index=False)
        elif fmt == "json":
            text = frame.to_json(output, orient="records", indent=1)
        else:
            frame.to_parquet(output, index=False)
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


def _print_frame(frame, title: str, limit: int) -> None:
    table = Table(title=title, title_justify="left")
    for c in frame.columns:
        table.add_column(str(c), overflow="fold")
    for _, row in frame.head(limit).iterrows():
        table.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)
    if len(frame) > limit:
        console.print(f"[dim]... {len(frame) - limit} more rows (use --format/--output)[/]")


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()

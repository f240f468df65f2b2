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


def main() -> None:  # console-script entry point
    app()


if __name__ == "__main__":
    main()

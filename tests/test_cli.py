"""The command line, end to end, with typer's CliRunner."""

import json
import os

import pytest
from typer.testing import CliRunner

from initlab.cli import app

runner = CliRunner()


def flat(res) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def test_list_shows_every_registry():
    out = invoke("list").output
    for word in ["leaky_relu", "he_normal", "adamw", "cross_entropy", "spiral", "lsuv"]:
        assert word in out
    assert "selu" in invoke("list", "activations").output
    bad = invoke("list", "colours")
    assert bad.exit_code == 2 and "unknown group" in bad.output


def test_train_prints_accuracy():
    res = invoke(
        "train",
        "-d",
        "blog",
        "--hidden",
        "2",
        "-a",
        "leaky_relu",
        "-i",
        "he",
        "-o",
        "gd",
        "--lr",
        "1",
        "--epochs",
        "50",
    )
    assert res.exit_code == 0
    assert "validation" in res.output and "%" in res.output


@pytest.mark.parametrize(
    "args, match",
    [
        (["-a", "relux"], "did you mean 'relu'"),
        (["--lr", "-1"], "learning_rate must be a finite number > 0"),
        (["--epochs", "0"], "epochs must be an integer >= 1"),
        (["--hidden", "4,x"], "comma-separated like"),
        (["-d", "nosuchset"], "unknown data set"),
    ],
)
def test_train_bad_input(args, match):
    res = invoke("train", *args)
    assert res.exit_code == 2
    assert match in flat(res)


def test_study_results_end_to_end(tmp_path):
    db = tmp_path / "s.db"
    res = invoke("study", "blog", "--seeds", "3", "--store", db, "--no-report")
    assert res.exit_code == 0, res.output
    assert "48 runs" in res.output and "★" in res.output
    assert res.output.count("blog: mean val_acc") == 1  # one table, rows inits
    again = invoke("study", "blog", "--seeds", "3", "--store", db, "--no-report")
    assert "48 already stored, 0 trained" in again.output
    listing = invoke("results", "--store", db)
    assert "blog" in listing.output
    csv = tmp_path / "r.csv"
    res = invoke(
        "results",
        "--store",
        db,
        "--study",
        "blog",
        "--where",
        "activation=tanh",
        "--format",
        "csv",
        "--output",
        csv,
    )
    assert res.exit_code == 0
    lines = csv.read_text().strip().splitlines()
    assert len(lines) == 1 + 12 and all(",tanh," in line for line in lines[1:])
    js = invoke("results", "--store", db, "--study", "blog", "--summary", "--format", "json")
    records = json.loads(js.output)
    assert len(records) == 16 and sum(r["best"] for r in records) == 4  # per activation
    pq = tmp_path / "r.parquet"
    assert invoke("results", "--store", db, "--study", "blog", "-o", pq).exit_code == 0
    import pandas as pd

    assert len(pd.read_parquet(pq)) == 48


def test_study_from_toml_and_errors(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text(
        '[study]\nname = "mine"\ndatasets = ["xor"]\nhidden = [[4]]\nactivations = ["tanh"]\n'
        'inits = ["xavier"]\noptimizers = ["adam"]\nlearning_rates = [0.01]\nepochs = 10\n'
        "seeds = 2\n"
    )
    res = invoke("study", "--config", toml, "--store", tmp_path / "s.db", "--no-report")
    assert res.exit_code == 0 and "2 runs" in res.output
    toml.write_text('[study]\nname = "mine"\nactivatons = ["tanh"]\n')
    res = invoke("study", "--config", toml, "--store", tmp_path / "s.db")
    assert res.exit_code == 2 and "did you mean 'activations'" in flat(res)


def test_results_bad_input(tmp_path):
    db = tmp_path / "s.db"
    invoke("study", "blog", "--seeds", "1", "--store", db, "--no-report")
    res = invoke("results", "--store", db, "--study", "nope")
    assert res.exit_code == 2 and "studies there: blog" in flat(res)
    res = invoke("results", "--store", db, "--study", "blog", "--where", "activaton=tanh")
    assert "did you mean 'activation'" in flat(res)
    res = invoke("results", "--store", db, "--study", "blog", "--format", "xml")
    assert res.exit_code == 2 and "unknown format" in res.output


# --- the terminal: help, version, listings ---------------------------------------------------
WIDE = {"COLUMNS": "400"}  # help on few lines, so that names are not wrapped


def words(res) -> str:
    """Output without rich's wrapping and box-drawing borders."""
    return " ".join(res.output.replace("│", " ").split())


def test_version():
    import initlab

    res = invoke("--version")
    assert res.exit_code == 0 and res.output.strip() == f"initlab {initlab.__version__}"


def test_list_presets_and_experiments_describe_each_entry():
    from initlab import experiments
    from initlab.study import PRESETS, Study

    out = " ".join(runner.invoke(app, ["list", "presets"], env=WIDE).output.split())
    for name in PRESETS:
        assert f"{name} {Study.preset(name).description}" in out
    out = " ".join(runner.invoke(app, ["list", "experiments"], env=WIDE).output.split())
    for name in experiments.names():
        assert f"{name} {experiments.get(name).title}" in out
    assert "presets" in words(runner.invoke(app, ["list", "--help"], env=WIDE))


def _all_params():
    import typer.main

    root = typer.main.get_command(app)

    def walk(group, path):
        for name, command in group.commands.items():
            if hasattr(command, "commands"):
                yield from walk(command, [*path, name])
            else:
                for param in command.params:
                    yield [*path, name], param

    yield from walk(root, [])


def test_every_option_says_what_it_does():
    missing = [
        f"{' '.join(path)} {param.name}"
        for path, param in _all_params()
        if param.name != "help" and not (getattr(param, "help", None) or "").strip()
    ]
    assert not missing, f"options without help: {missing}"


def test_help_lists_the_allowed_values_from_their_owners():
    from initlab import activations, datasets, experiments, initializers, optim
    from initlab.runs import METRICS
    from initlab.study import EXECUTORS, PRESETS

    expected = {
        ("study",): [*PRESETS, *EXECUTORS, *METRICS],
        ("results",): [*METRICS, "csv", "json", "parquet"],
        ("report",): list(METRICS),
        ("train",): [*datasets.names(), *optim.REGISTRY.names(), *activations.REGISTRY.names()],
        ("diagnose",): [*activations.REGISTRY.names(), *initializers.BIAS_REGISTRY.names()],
        ("experiment",): experiments.names(),
        ("advise",): [*optim.REGISTRY.names(), *datasets.names()],
    }
    for command, names in expected.items():
        out = words(runner.invoke(app, [*command, "--help"], env=WIDE))
        for name in names:
            assert f" {name}," in out or f" {name} " in out or f" {name}:" in out, (command, name)


def test_help_shows_brackets_literally():
    out = words(runner.invoke(app, ["results", "--help"], env=WIDE))
    assert "!= < <= > >=" in out  # no markup swallowed the operators
    # help holding a markup-like tag (e.g. a plugin's description) shows as it is
    import typer

    from initlab.cli import _command

    extra = typer.Typer()

    @_command("cmd", on=extra, y=lambda: "[bold]b")
    def cmd(
        x: str = typer.Option("a", help="pip install initlab[parquet]"),
        y: str = typer.Option("b", help="a value"),
    ):
        """A command."""

    out = words(runner.invoke(extra, ["--help"], env=WIDE))
    assert "pip install initlab[parquet]" in out and "a value: [bold]b" in out


# --- all user text is literal ----------------------------------------------------------------
def test_markup_like_text_is_printed_literally(tmp_path, monkeypatch):
    res = invoke("train", "--activation", "[/bold]")
    assert res.exit_code == 2 and "unknown activation '[/bold]'" in flat(res)
    toml = tmp_path / "nostudy.toml"
    toml.write_text('name = "x"\n')
    res = invoke("study", "--config", toml, "--store", tmp_path / "s.db")
    assert res.exit_code == 2 and "expected a [study] table" in flat(res)
    import pandas as pd

    def no_pyarrow(self, *a, **k):
        raise ImportError("Unable to find a usable engine")

    db = tmp_path / "s.db"
    assert (
        invoke("study", "--config", _tiny_toml(tmp_path), "--store", db, "--no-report").exit_code
        == 0
    )
    monkeypatch.setattr(pd.DataFrame, "to_parquet", no_pyarrow)
    res = invoke("results", "--store", db, "-o", tmp_path / "r.parquet")
    assert res.exit_code == 2 and "pip install initlab[parquet]" in flat(res)


def test_class_names_and_paths_with_brackets_are_printed_literally(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    labels = np.where(X[:, 0] > 0, "[bold]yes", "[/red]no")
    csv = tmp_path / "points.csv"
    csv.write_text(
        "x1,x2,label\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(X, labels, strict=True))
    )
    plots = tmp_path / "plots[red]"
    args = ["train", "-d", str(csv), "--target", "label", "--epochs", "2", "--plots", str(plots)]
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 0, res.output
    out = flat(res)
    n_yes, n_no = int((labels == "[bold]yes").sum()), int((labels == "[/red]no").sum())
    assert f"[/red]no ({n_no})" in out and f"[bold]yes ({n_yes})" in out
    assert f"wrote {plots / 'loss.png'}" in out


def _tiny_toml(tmp_path, name="tiny", seeds=2):
    toml = tmp_path / f"{name}.toml"
    toml.write_text(
        f'[study]\nname = "{name}"\ndatasets = ["xor"]\nhidden = [[4]]\n'
        'activations = ["tanh", "relu"]\ninits = ["xavier"]\noptimizers = ["adam"]\n'
        f"learning_rates = [0.01]\nepochs = 5\nseeds = {seeds}\n"
    )
    return toml


# --- results ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def blog_store(tmp_path_factory):
    db = tmp_path_factory.mktemp("blog") / "s.db"
    res = invoke("study", "blog", "--seeds", "2", "--store", db, "--no-report")
    assert res.exit_code == 0, res.output
    return db


def _header(res) -> list[str]:
    lines = res.output.splitlines()
    return lines[1].split()  # the title, then the header row


def test_results_show_what_varies_and_the_metrics_in_100_columns(blog_store):
    from initlab.study import Study

    res = runner.invoke(app, ["results", "--store", str(blog_store)], env={"COLUMNS": "100"})
    assert res.exit_code == 0, res.output
    assert all(len(line) <= 100 for line in res.output.splitlines())
    header = _header(res)
    runs = Study.load("blog", blog_store).results()
    varying = [c for c in ("activation", "init", "bias_init", "seed") if runs[c].nunique() > 1]
    assert header == [*varying, "train_loss", "train_acc", "val_loss", "val_acc", "diverged"]
    assert "blog: 32 runs" in res.output
    body = res.output.split("─" * 10, 1)[1]
    assert "e-1" not in body and "00000" not in body  # no float noise (0.8488000000000001)
    for value in runs["val_acc"].head(5):
        assert f"{value:.4g}" in body


def test_results_summary_rounds_noise_and_columns_are_chosen(blog_store):
    args = ["results", "--store", str(blog_store), "--summary"]
    res = runner.invoke(app, args, env={"COLUMNS": "100"})
    assert res.exit_code == 0 and all(len(line) <= 100 for line in res.output.splitlines())
    header = _header(res)
    assert header[:3] == ["activation", "init", "bias_init"] and "leaky_slope" not in header
    assert {"mean", "std", "best", "tied"} <= set(header)
    res = invoke("results", "--store", blog_store, "--columns", "init,val_acc", "--limit", "3")
    assert _header(res) == ["init", "val_acc"]
    res = invoke("results", "--store", blog_store, "--columns", "init,val_accc")
    assert res.exit_code == 2
    out = flat(res)
    assert "unknown column 'val_accc'" in out and "did you mean 'val_acc'" in out
    assert "the columns are: dataset," in out and "run_hash" in out
    # an export keeps every column unless --columns is given
    js = invoke("results", "--store", blog_store, "--format", "json", "--columns", "init,val_acc")
    assert set(json.loads(js.output)[0]) == {"init", "val_acc"}


def test_results_write_equal_layer_widths_as_depth_times_width(tmp_path):
    toml = tmp_path / "d.toml"
    toml.write_text(
        '[study]\nname = "d"\ndatasets = ["xor"]\nhidden = [[4, 4], [4, 4, 4, 4], [8, 4]]\n'
        'activations = ["tanh"]\ninits = ["xavier"]\noptimizers = ["adam"]\n'
        "learning_rates = [0.01]\nepochs = 3\nseeds = 1\n"
    )
    db = tmp_path / "d.db"
    assert invoke("study", "--config", toml, "--store", db, "--no-report").exit_code == 0
    lines = invoke("results", "--store", db).output.splitlines()[3:]
    assert [line.split("  ")[0] for line in lines] == ["2 × 4", "4 × 4", "8-4"]
    res = invoke("results", "--store", db, "-w", "hidden=4-4-4-4", "--columns", "hidden")
    assert "d: 1 run\n" in res.output and "4 × 4" in res.output


def test_number_rounding():
    from initlab._console import column, number

    assert number(0.8488000000000001) == "0.8488"
    assert number(5.851e-17) == "0"  # the std of identical values
    assert column([0.05, 3e-12]) == ["0.05", "0"]
    assert column([816576.4, 0.3]) == ["816576", "0.3"]
    assert number(float("nan")) == "" and number(7) == "7" and number(1e-5) == "1e-05"


def test_results_lists_failed_runs_with_their_reason(tmp_path, monkeypatch):
    from test_faults import _fail_relu

    db = tmp_path / "s.db"
    _fail_relu(monkeypatch)
    res = invoke("study", "--config", _tiny_toml(tmp_path), "--store", db, "--no-report")
    assert res.exit_code == 1
    res = invoke("results", "--store", db)
    out = flat(res)
    assert res.exit_code == 0 and "tiny: 2 runs" in out  # the tanh runs
    assert "2 failed runs (not in the table above): 2 runs: MemoryError" in out
    assert "initlab results --failed --study tiny" in out


def test_results_and_report_default_to_the_only_study(tmp_path):
    db = tmp_path / "s.db"
    from initlab.store import Store

    with Store(db):
        pass
    for command in ("results", "report"):
        res = invoke(command, "--store", db)
        assert res.exit_code == 2 and f"no studies in {db}" in flat(res)
    invoke("study", "--config", _tiny_toml(tmp_path, "one"), "--store", db, "--no-report")
    res = invoke("results", "--store", db)
    assert res.exit_code == 0 and "one: 4 runs" in res.output
    out = tmp_path / "r.html"
    res = invoke("report", "--store", db, "-o", out)
    assert res.exit_code == 0 and out.exists()
    invoke("study", "--config", _tiny_toml(tmp_path, "two"), "--store", db, "--no-report")
    for command in ("results", "report"):
        res = invoke(command, "--store", db)
        assert res.exit_code == 2
        assert "holds 2 studies: one, two; choose one with --study" in flat(res)


# --- checks before work ------------------------------------------------------------------------
@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if anything is trained."""
    from initlab import network, study

    def refuse(*a, **k):
        raise AssertionError("training started")

    monkeypatch.setattr(study.Study, "run", refuse)
    monkeypatch.setattr(network.FFNetwork, "fit", refuse)


def _refused(res, match):
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output and match in flat(res)


def test_study_checks_what_it_uses_after_training_first(tmp_path, no_training):
    db = tmp_path / "s.db"
    base = ["study", "blog", "--seeds", "1", "--store", db]
    _refused(invoke(*base, "--metric", "foo"), "unknown metric 'foo'")
    _refused(invoke(*base, "-o", tmp_path / "missing/dir/x.html"), "does not exist")
    _refused(invoke(*base, "-o", tmp_path), "is a directory")
    assert not db.exists()
    for store, match in [
        (":memory:", "a study needs a file that outlives the command"),
        (tmp_path, "is a directory"),
        (tmp_path / "missing" / "s.db", "does not exist"),
    ]:
        _refused(invoke("study", "blog", "--store", store), match)


def test_study_refuses_an_unwritable_store(tmp_path, no_training, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    if os.access(locked, os.W_OK):  # root writes anywhere: let the check see what a user would
        monkeypatch.setattr(os, "access", lambda path, mode: str(path) != str(locked))
    try:
        _refused(invoke("study", "blog", "--store", locked / "s.db"), "permission denied")
    finally:
        locked.chmod(0o700)


def test_results_report_and_train_check_their_options_first(tmp_path, blog_store, no_training):
    res = invoke("results", "--store", blog_store, "--summary", "--metric", "foo")
    _refused(res, "unknown metric 'foo'")
    _refused(
        invoke("results", "--store", blog_store, "-o", tmp_path / "no/x.csv"), "does not exist"
    )
    _refused(
        invoke("report", "--store", blog_store, "-o", tmp_path / "no/x.html"), "does not exist"
    )
    _refused(invoke("report", "--store", blog_store, "--metric", "foo"), "unknown metric 'foo'")
    for command in ("results", "report"):
        _refused(invoke(command, "--store", tmp_path), "is a directory, not a store file")
    _refused(invoke("results", "--failed", "--store", tmp_path), "is a directory")
    _refused(invoke("train", "--plots", tmp_path / "no" / "plots"), "does not exist")
    (tmp_path / "file").write_text("")
    _refused(invoke("train", "--plots", tmp_path / "file"), "is a file")
    assert not (tmp_path / "no").exists()


# --- train -------------------------------------------------------------------------------------
def test_train_prints_the_data_and_warns_on_divergence(tmp_path):
    from initlab import datasets, runs

    args = ["--recipe", "blog", "-a", "leaky_relu", "-o", "momentum", "--lr", "1"]
    net = runs.RunSpec.make(
        recipe="blog", activation="leaky_relu", optimizer="momentum", learning_rate=1.0
    ).network()
    data = datasets.load("blog")
    net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    assert net.diverged_  # momentum at eta = 1 blows up (the optimizers study)
    res = invoke("train", *args)
    assert res.exit_code == 0
    out = flat(res)
    import numpy as np

    n = np.bincount(np.concatenate([data.y_train, data.y_val]))
    counts = ", ".join(f"{k} ({c})" for k, c in zip(data.classes, n, strict=True))
    assert f"{data.n_train} training and {data.n_val} validation samples" in out
    assert f"{data.n_classes} classes: {counts}" in out
    assert f"diverged at epoch {net.diverged_epoch_}:" in out
    calm = flat(invoke("train", "--recipe", "blog", "-a", "tanh", "-o", "gd"))
    assert "diverged" not in calm


def test_train_writes_the_blogs_three_figures(tmp_path):
    import matplotlib.image as mpimg

    folder = tmp_path / "figures"
    res = invoke("train", "--recipe", "blog", "-a", "tanh", "-i", "zeros", "--plots", folder)
    assert res.exit_code == 0, res.output
    for name in ("loss.png", "mistakes.png", "updates.png"):
        image = mpimg.imread(folder / name)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0
    res = invoke("train", "-d", "digits", "--epochs", "2", "--plots", tmp_path / "digits")
    assert res.exit_code == 0 and "no mistakes.png" in flat(res)
    assert sorted(p.name for p in (tmp_path / "digits").iterdir()) == ["loss.png", "updates.png"]

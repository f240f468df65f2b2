"""The command line, end to end, with typer's CliRunner."""

import json

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

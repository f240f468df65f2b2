"""Tests for initlab.report: the HTML report of a stored study, and its bad input."""

from __future__ import annotations

import base64
import io
import os
import re
from html import unescape

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from initlab import report  # noqa: E402
from initlab.cli import app  # noqa: E402
from initlab.store import Store  # noqa: E402
from initlab.study import Study  # noqa: E402

IMG = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def tiny_study(name: str = "tiny") -> Study:
    return Study(
        name=name,
        datasets=["blog"],
        hidden=[[2]],
        activations=["tanh", "leaky_relu"],
        inits=["zeros", "he_normal"],
        optimizers=["gd"],
        learning_rates=[1.0],
        epochs=[15],
        seeds=[0, 1],
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "initlab.db"
    tiny_study().run(store=path)
    return path


@pytest.fixture(scope="module")
def built(store, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "tiny.html"
    path = report.build("tiny", store, out, command="initlab report --study tiny")
    return path, path.read_text(encoding="utf-8")


def test_report_is_self_contained_with_every_section(built):
    path, html = built
    assert path.stat().st_size < 10e6
    # no network: nothing is fetched from elsewhere
    assert not re.search(r'(src|href)="(https?:)?//', html)
    for anchor in ("winners", "accuracy", "loss", "boundaries", "updates", "tables", "provenance"):
        assert f'id="{anchor}"' in html
    images = IMG.findall(html)
    # heatmap, loss bands, boundary grid, update grids of the best and the worst run
    assert len(images) == 5
    for data in images:
        with Image.open(io.BytesIO(base64.b64decode(data))) as im:
            im.verify()
    assert "Notes" not in html  # no figure failed


def test_report_tables_and_provenance(built, store):
    _, html = built
    runs = Study.load("tiny", store=store).results()
    table = html.split('id="runs-table"')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + len(runs)  # header + one row per run
    configs = html.split('id="configs-table"')[1].split("</table>")[0]
    assert configs.count("<tr") == 1 + 4  # 2 inits x 2 activations
    assert "initlab report --study tiny" in html
    for key in ("numpy", "matplotlib", "scikit-learn", "platform", "seeds"):
        assert f"<dt>{key}</dt>" in html
    assert '"activations": [' in unescape(html)  # the study's configuration
    # the retrained runs reproduce their stored accuracy exactly (runs are deterministic)
    assert re.search(
        r"\d+ retrained run\(s\) reproduce the stored val_acc: largest difference 0\b", html
    )


def test_report_winner_is_the_best_mean(built, store):
    _, html = built
    summary = Study.load("tiny", store=store).summary()
    top = summary.sort_values("mean", ascending=False).iloc[0]
    card = html.split('id="winners"')[1].split("</div>")[0]
    assert f"<b>{top['mean']:.4g}</b>" in card


def test_unknown_study_lists_the_known_ones(store, tmp_path):
    with pytest.raises(
        ValueError, match=r"no study 'tiyn'.*did you mean 'tiny'\?.*Studies there: 'tiny'"
    ):
        report.build("tiyn", store, tmp_path / "r.html")


def test_empty_study(store, tmp_path):
    with Store(store) as st:
        st.save_study("empty", tiny_study("empty").to_dict())
    with pytest.raises(ValueError, match="'empty' has no runs"):
        report.build("empty", store, tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_bad_output_paths(store, tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*nope.* does not exist"):
        report.build("tiny", store, tmp_path / "nope" / "r.html")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        report.build("tiny", store, tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        report.build("tiny", store, tmp_path / "file" / "r.html")
    with pytest.raises(FileNotFoundError, match="no store"):
        report.build("tiny", tmp_path / "missing.db", tmp_path / "r.html")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_directory(store, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError, match="permission denied"):
            report.build("tiny", store, locked / "r.html")
    finally:
        locked.chmod(0o700)


def test_cli_report(store, tmp_path, monkeypatch):
    calls = []

    def fake_render(study, out_path, command=None, metric="val_acc"):
        calls.append((study.name, command, metric))
        out_path.write_text("<html></html>")
        return out_path

    # the CLI's plumbing, not the drawing again (the fixture's report tests that)
    monkeypatch.setattr(report, "render", fake_render)
    runner = CliRunner()
    out = tmp_path / "cli.html"
    args = [
        "report",
        "--store",
        str(store),
        "--study",
        "tiny",
        "-o",
        str(out),
        "--metric",
        "val_loss",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert out.exists() and "report written to" in result.output
    assert calls[0][0] == "tiny" and calls[0][2] == "val_loss"
    assert calls[0][1].startswith("initlab ")
    result = runner.invoke(app, ["report", "--store", str(store), "--study", "nope"])
    assert result.exit_code == 2
    assert re.search(r"no study 'nope'.*Studies there: .*'tiny'", result.output, re.S)
    result = runner.invoke(
        app, ["report", "--store", str(store), "--study", "tiny", "-o", "/nonexistent-dir/r.html"]
    )
    assert result.exit_code == 2
    assert "does not exist" in " ".join(result.output.split())


def test_summarize_known_values():
    runs = pd.DataFrame(
        {
            "activation": ["tanh"] * 3 + ["relu"] * 3,
            "init": "he",
            "seed": [0, 1, 2] * 2,
            "val_acc": [0.8, 0.9, 1.0, 0.5, 0.6, 0.7],
        }
    )
    s = report.summarize(runs)
    assert s["activation"].tolist() == ["tanh", "relu"]
    assert np.allclose(s["mean"], [0.9, 0.6])
    half = 4.302652729749464 * 0.1 / np.sqrt(3)  # t(0.975, 2) * std / sqrt(n)
    assert np.allclose(s["ci_high"] - s["mean"], half)
    assert s["best"].tolist() == [True, False]
    assert s["tied"].tolist() == [False, True]  # relu's CI reaches tanh's lower bound


def test_render_from_sweep_frames(tmp_path):
    import initlab

    runs, curves = initlab.sweep(
        "moons", (), ["tanh"], ["he_normal"], ["adam"], [0.05],
        seeds=range(2), epochs=3, curves=True,
    )  # fmt: skip
    study = report.from_frames("sweep", runs, curves, config={"epochs": 5})
    html = report.render(study, tmp_path / "s.html", command="test").read_text()
    assert len(IMG.findall(html)) == 5
    assert "sweep" in html

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
from initlab.stats import summarize as stats_summarize  # noqa: E402
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
    for anchor in ("winners", "accuracy", "loss", "boundaries", "runs", "tables", "provenance"):
        assert f'id="{anchor}"' in html
    images = IMG.findall(html)
    # heatmap, loss panels, boundary grid, mistakes of the best and the worst run, and
    # their update grids
    assert len(images) == 6
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
    for key in ("versions", "machine", "seeds"):
        assert f"<dt>{key}</dt>" in html
    for key in ("numpy", "matplotlib", "scikit-learn", "platform"):
        assert re.search(rf"<dd>[^<]*\b{key} ", html), key
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


def test_unwritable_directory(store, tmp_path):
    import subprocess

    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() == 0:  # root ignores permissions, not the immutable attribute
        if subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
            pytest.skip("running as root on a file system without chattr +i")
        unlock = ["chattr", "-i", str(locked)]
    else:
        locked.chmod(0o500)
        unlock = None
    try:
        with pytest.raises(PermissionError, match="permission denied"):
            report.build("tiny", store, locked / "r.html")
    finally:
        if unlock:
            subprocess.run(unlock, check=True)
        else:
            locked.chmod(0o700)


def test_cli_report(store, tmp_path, monkeypatch):
    calls = []

    def fake_render(study, out_path, command=None, metric="val_acc", workers=None, best_over=()):
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


def test_summarize_is_the_studys_statistics():
    rows = []
    for act, accs in [("tanh", {"he": 0.9, "zeros": 0.3}), ("relu", {"he": 0.6, "zeros": 0.59})]:
        for init, base in accs.items():
            for seed in range(4):
                rows.append(
                    dict(
                        activation=act, init=init, seed=seed, val_acc=base + 0.01 * ((seed * 7) % 3)
                    )
                )
    runs = pd.DataFrame(rows)
    s = report.summarize(runs)
    assert s.best.sum() == 2  # one best init per activation, as Study.summary
    tanh = s[s.activation == "tanh"].set_index("init")
    assert tanh.loc["he", "best"] and not tanh.loc["zeros", "tied"]
    relu = s[s.activation == "relu"].set_index("init")
    assert np.isclose(relu.loc["he", "mean"], 0.6 + 0.01 * np.mean([0, 1, 2, 0]))
    pd.testing.assert_frame_equal(
        s.sort_values(["activation", "init"]).reset_index(drop=True),
        stats_summarize(runs, compared=("init", "bias_init"))
        .sort_values(["activation", "init"])
        .reset_index(drop=True),
    )


def test_render_from_sweep_frames(tmp_path):
    import initlab

    runs, curves = initlab.sweep(
        "moons", (), ["tanh"], ["he_normal"], ["adam"], [0.05],
        seeds=range(2), epochs=3, curves=True,
    )  # fmt: skip
    study = report.from_frames("sweep", runs, curves, config={"epochs": 5})
    html = report.render(study, tmp_path / "s.html", command="test").read_text()
    assert len(IMG.findall(html)) == 6
    assert "sweep" in html


def test_a_long_sweep_draws_a_bounded_number_of_panels(tmp_path, monkeypatch):
    # 12 learning rates are 12 facets: the heatmaps and loss curves draw MAX_PANELS of them
    # (and read only their curves), the curve against the learning rate draws them all
    import initlab

    rates = [round(0.01 * (i + 1), 3) for i in range(12)]
    runs, curves = initlab.sweep(
        "moons", (), ["tanh", "relu"], ["he_normal", "zeros"], ["gd"], rates,
        seeds=range(2), epochs=2, curves=True,
    )  # fmt: skip
    study = report.from_frames("sweep", runs, curves, config={"epochs": 2})
    asked = []
    original = study.curves

    def counting(hashes=None):
        asked.extend(hashes or [])
        return original(hashes)

    monkeypatch.setattr(study, "curves", counting)
    html = unescape(report.render(study, tmp_path / "s.html", command="test").read_text())
    shown = [int(n) for n in re.findall(r"(\d+) of the 12 learning_rate levels", html)]
    assert len(shown) == 2 and all(2 <= n <= report.MAX_PANELS for n in shown)  # heatmaps, losses
    assert "against learning_rate" in html
    # panels x activations x inits x seeds
    assert 0 < len(set(asked)) <= report.MAX_PANELS * 2 * 2 * 2


# --------------------------------------------------------------------------- drawing in workers


def test_serial_and_forked_reports_have_the_same_figures(built, store, tmp_path):
    _, forked = built  # the fixture drew with the default workers (forked where possible)
    serial = report.build("tiny", store, tmp_path / "serial.html", workers=1).read_text()
    assert IMG.findall(serial) == IMG.findall(forked)  # byte for byte, in page order
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", serial)
    assert len(captions) == 6
    assert captions == re.findall(r"<figcaption>(.*?)</figcaption>", forked)
    reproduced = r"\d+ retrained run\(s\) reproduce the stored val_acc: largest difference 0\b"
    assert re.search(reproduced, serial) and re.search(reproduced, forked)


def test_workers_bad_value_fails_before_any_work(store, tmp_path):
    for bad in (0, -1, 1.5, "2", True):
        match = rf"workers must be None .* got {re.escape(repr(bad))}$"
        with pytest.raises(ValueError, match=match):
            report.build("tiny", store, tmp_path / "r.html", workers=bad)
    assert not (tmp_path / "r.html").exists()


def test_no_fork_with_threads_or_torch_running(monkeypatch):
    import sys
    import threading
    import types

    if not sys.platform.startswith("linux"):
        assert report._n_workers(5, 2) == 1  # forks on Linux only
        return
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    # earlier tests may leave threads (servers, clusters) in this process: pretend there are none
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert report._n_workers(5, 2) == 2
    assert report._n_workers(1, 2) == 1  # never more workers than figures
    monkeypatch.undo()
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.delitem(sys.modules, "jax", raising=False)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert report._n_workers(5, 2) == 1  # a running thread: draw here
    finally:
        stop.set()
        thread.join()
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    assert report._n_workers(5, 2) == 1


def _text_figure(text):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(1.5, 1))
    fig.text(0.1, 0.5, text)
    return fig


def test_draw_all_keeps_job_order_notes_and_falls_back_when_a_worker_dies():
    import sys

    parent = os.getpid()

    def make(i):
        def draw(notes, reproduced):
            notes.append(f"note {i}")
            reproduced.append((i, i))
            return _text_figure(f"figure {i}")

        return draw

    def die_in_worker(notes, reproduced):
        if os.getpid() != parent:
            os._exit(3)  # a worker killed mid-figure
        return _text_figure("survivor")

    def fail(notes, reproduced):
        raise RuntimeError("boom")

    jobs = [report._Job("s", f"job {i}", "t", "", make(i), cost=i) for i in range(4)]
    jobs.append(report._Job("s", "failing", "t", "", fail))
    serial = report._draw_all(jobs, workers=1)
    forked = report._draw_all(jobs, workers=2)
    assert [d.uri for d in forked] == [d.uri for d in serial]
    assert [d.notes for d in forked] == [d.notes for d in serial]
    assert serial[2].notes == ["note 2"] and serial[2].reproduced == [(2, 2)]
    assert serial[4].uri is None
    assert serial[4].notes == ["failing: not drawn (RuntimeError: boom)"]
    assert len({d.uri for d in serial[:4]}) == 4  # four different figures
    if not sys.platform.startswith("linux"):
        return  # no workers to kill: drawn here
    dying = report._draw_all([*jobs[:2], report._Job("s", "dies", "t", "", die_in_worker)], 2)
    assert [d.uri for d in dying[:2]] == [d.uri for d in serial[:2]]
    assert dying[2].uri is not None  # drawn again, in this process

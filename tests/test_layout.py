"""The layout of a study's results: compared axes, facets, order, and the tables built on it."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from rich.console import Console  # noqa: E402

from initlab import layout as _layout  # noqa: E402
from initlab import stats  # noqa: E402
from initlab.errors import ConfigError  # noqa: E402
from initlab.study import Study  # noqa: E402

BLOG_OPTIMIZERS = ["gd", "minibatch", "momentum", "nag", "adagrad", "rmsprop", "adam"]
BLOG_INITS = ["zeros", "random", "lecun_normal", "he_normal"]  # the blog's xavier, he
BLOG_ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu"]


def _ran(tmp_path_factory, preset, **overrides):
    s = Study.preset(preset, **overrides)
    assert s.run(tmp_path_factory.mktemp(preset) / "s.db").ok
    return s


@pytest.fixture(scope="module")
def optimizers(tmp_path_factory):
    return _ran(tmp_path_factory, "optimizers", seeds=3, epochs=3)


@pytest.fixture(scope="module")
def deep(tmp_path_factory):
    return _ran(tmp_path_factory, "deep", seeds=2, epochs=2)


@pytest.fixture(scope="module")
def blog(tmp_path_factory):
    return _ran(tmp_path_factory, "blog", seeds=3, epochs=10)


def text_of(tables) -> str:
    console = Console(record=True, width=250)
    for t in tables:
        console.print(t)
    return console.export_text()


def body(text: str) -> str:
    """The rows of the tables (not the legend)."""
    return "\n".join(line for line in text.splitlines() if line.startswith("│"))


def tables(study, metric="val_acc", best_over=()):
    from initlab.cli import _summary_tables

    runs = study.results()
    lay = study.layout(runs, best_over)
    return _summary_tables(
        study, study.summary(metric, runs=runs, best_over=best_over), metric, lay
    )


def test_presets_define_their_levels_in_the_blogs_order():
    assert Study.preset("blog").order()["init"] == BLOG_INITS
    assert Study.preset("blog").order()["activation"] == BLOG_ACTIVATIONS
    assert Study.preset("optimizers").order()["optimizer"] == BLOG_OPTIMIZERS
    assert Study.preset("optimizers").order()["learning_rate"] == [1.0, 0.1, 0.01]


def test_optimizers_layout_one_axis_per_setting_that_varies_alone(optimizers):
    lay = optimizers.layout()
    compared = [a.column for a in lay.compared]
    assert compared == ["optimizer", "learning_rate"]
    # minibatch fixes the batch size: one axis with the optimizer, not a table of its own
    assert "batch_size" in lay.compared[0].together
    assert [a.column for a in lay.groups] == ["activation"] and lay.facets == ()
    assert lay.across.column == "activation" and lay.curve.column == "learning_rate"
    assert list(lay.compared[0].levels) == BLOG_OPTIMIZERS


def test_optimizers_terminal_is_one_table_in_the_blogs_order_one_star_per_column(optimizers):
    out = tables(optimizers)
    assert len(out) == 1
    text = text_of(out)
    rows = re.findall(r"│ (\w+) / ([\d.]+) ", text)
    assert [o for o, _ in rows[::3]] == BLOG_OPTIMIZERS
    assert [lr for _, lr in rows[:3]] == ["1", "0.1", "0.01"]
    header = next(line for line in text.splitlines() if "sigmoid" in line)
    assert [a for a in BLOG_ACTIVATIONS if a in header] == BLOG_ACTIVATIONS
    assert header.index("sigmoid") < header.index("tanh") < header.index("leaky_relu")
    # one best per comparison group (an activation): four stars in all, none per batch size
    assert body(text).count("★") == 4
    assert "batch_size=" not in text


def test_best_over_a_varied_axis_and_refused_for_others(optimizers):
    out = tables(optimizers, best_over=["learning_rate"])
    text = text_of(out)
    rows = re.findall(r"│ (\w+) +│", text)
    assert rows == BLOG_OPTIMIZERS  # the learning rate is no longer a row
    assert "@ learning_rate" in text and "best over learning_rate" in text
    s = optimizers.summary(best_over=["learning_rate"])
    assert s.groupby("activation")["best"].sum().tolist() == [1, 1, 1, 1]
    with pytest.raises(ConfigError, match="does not vary it; it varies activation"):
        optimizers.layout(best_over=["init"])


def test_deep_depth_is_a_facet_written_depth_by_width(deep):
    lay = deep.layout()
    assert [a.column for a in lay.compared] == ["init"]
    assert [a.column for a in lay.facets] == ["hidden"]
    out = tables(deep)
    assert len(out) == 3  # one table per depth: the 24-layer collapse has its own
    text = " ".join(text_of(out).split())
    for depth in ("4 × 16", "12 × 16", "24 × 16"):
        assert f"hidden {depth}" in text
    assert "16-16" not in text
    # one best per depth and activation
    assert deep.summary().groupby(["hidden", "activation"])["best"].sum().eq(1).all()


def test_level_labels():
    assert _layout.label("hidden", "16-16-16") == "3 × 16"
    assert _layout.label("hidden", [8, 16, 8]) == "8, 16, 8"
    assert _layout.label("hidden", "8-16-32-16-8-8-8") == "7 layers, 8–32"
    assert _layout.label("init", "lecun_normal", "blog") == "lecun_normal (blog: xavier)"
    assert _layout.label("learning_rate", 0.1) == "0.1"


def test_summary_and_tables_follow_the_definition_not_the_alphabet(blog):
    s = blog.summary()
    assert list(dict.fromkeys(s["activation"])) == BLOG_ACTIVATIONS
    assert list(s["init"][:4]) == BLOG_INITS
    text = text_of(tables(blog))
    rows = re.findall(r"^│ (\w+)", text, re.M)
    assert rows == BLOG_INITS


def test_one_seed_is_no_test_in_the_table(tmp_path):
    s = Study.preset("blog", seeds=1, epochs=5, name="one")
    s.run(tmp_path / "one.db")
    text = text_of(tables(s))
    assert "n = 1: no test" in text
    assert "★" not in body(text) and "≈" not in body(text)


def test_the_statistics_story_is_told_once_everywhere(blog, tmp_path):
    from initlab import report

    text = text_of(tables(blog))
    story = stats.story()
    assert " ".join(story.split()) in " ".join(text.replace("│", " ").split())
    html = report.build(blog.name, blog.store_path, tmp_path / "r.html").read_text()
    assert story in html.replace("&lt;", "<").replace("&gt;", ">").replace("&#39;", "'")
    assert "overlapping" not in html and "interval of the mean reaches" not in html
    docs = (Path(__file__).resolve().parents[1] / "docs" / "studies.md").read_text()
    assert story in " ".join(docs.split())


def test_report_winners_are_one_group_with_its_own_best(optimizers, tmp_path):
    from initlab import report

    html = report.build(optimizers.name, optimizers.store_path, tmp_path / "o.html").read_text()
    winners = html.split('id="winners-table"')[1].split("</table>")[0]
    head = re.findall(r"<th(?: [^>]*)?>(.*?)</th>", winners)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in winners.split("<tr")[2:]]
    frame = pd.DataFrame(cells, columns=head)
    assert frame["activation"].nunique() == 1  # one comparison group
    assert (frame["best"] == "yes").sum() == 1 and (frame["tied"] == "yes").all()
    groups = html.split('id="groups-table"')[1].split("</table>")[0]
    assert groups.count("<tr") == 1 + 4  # one row per activation


def test_report_figures_text_at_least_the_pages_and_within_its_width(blog):
    from matplotlib.text import Text

    from initlab import plots, report

    runs = blog.results()
    lay = blog.layout(runs)
    summary = lay.summarize(runs, "val_acc")
    jobs = report._jobs(blog, runs, summary, lay, report._curve_source(blog), [], "val_acc")
    assert [j.section for j in jobs] == ["heatmaps", "bands", "boundaries", "runs", "runs", "runs"]
    for job in jobs:
        fig = job.make([], [])
        width, _ = fig.get_size_inches()
        assert width <= plots.PAGE_WIDTH + 1e-9, job.title
        texts = [t for t in fig.findobj(Text) if t.get_text().strip() and t.get_visible()]
        assert texts
        # 11 pt at the report's 100 dpi is 15 px: the page's body text
        small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < plots.FONT]
        assert not small, (job.title, small[:3])
        assert plots.FONT * plots.DPI / 72 >= 15


def test_cli_best_over_is_checked_before_any_training(tmp_path):
    from typer.testing import CliRunner

    from initlab.cli import app

    store = tmp_path / "s.db"
    res = CliRunner().invoke(app, ["study", "--store", str(store), "--best-over", "optimizer"])
    assert res.exit_code == 2
    assert "--best-over 'optimizer': the study does not vary it" in " ".join(res.output.split())
    assert not store.exists()  # nothing trained, nothing stored
    res = CliRunner().invoke(
        app,
        ["study", "optimizers", "--store", str(store), "--seeds", "2", "--epochs", "2",
         "--best-over", "learning_rate", "--no-report"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "best over learning_rate" in " ".join(res.output.split())
    res = CliRunner().invoke(
        app, ["results", "-s", "optimizers", "--store", str(store), "--summary"]
    )
    assert res.exit_code == 0 and "optimizer / learning_rate" in res.output

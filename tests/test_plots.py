"""Tests for initlab.plots: every figure has the panels it promises and shows the right data."""

from __future__ import annotations

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import stats  # noqa: E402

from initlab import FFNetwork, blog_network, datasets, plots  # noqa: E402


@pytest.fixture(scope="module")
def blog():
    return datasets.load("blog")


@pytest.fixture(scope="module")
def blog_nets(blog):
    nets = {}
    for init in ("zeros", "he"):
        for act in ("sigmoid", "leaky_relu"):
            nets[(init, act)] = blog_network(act, init).fit(
                blog.X_train, blog.y_train, blog.X_val, blog.y_val
            )
    return nets


@pytest.fixture(scope="module")
def he_leaky(blog_nets):
    return blog_nets[("he", "leaky_relu")]


def visible_axes(fig):
    return [a for a in fig.axes if a.get_visible()]


def rgb(fig, dpi=50):
    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3]


# --------------------------------------------------------------------------- module shape


def test_module_never_imports_pyplot():
    code = "import sys, initlab.plots; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="src"
    )
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- the data


def test_dataset_views_draw_blog_colours(blog):
    fig = plots.dataset(blog, labels="both")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2
    four, mod2 = fig.axes
    # 4 classes -> 4 distinct face colours; mod 2 -> 2 (a norm that ignored the
    # colormap's size would paint every class the same red)
    colours4 = np.unique(np.vstack([c.to_rgba(c.get_array()) for c in four.collections]), axis=0)
    colours2 = np.unique(np.vstack([c.to_rgba(c.get_array()) for c in mod2.collections]), axis=0)
    assert len(colours4) == 4
    assert len(colours2) == 2
    assert np.array_equal(np.unique(mod2.collections[0].get_array()), [0, 1])
    # the blog's red-yellow-green: class 0 pure red, class 1 (mod 2) pure green
    assert np.allclose(plots.BLOG_CMAP(0.0)[:3], (1, 0, 0))
    assert {tuple(np.round(c[:3], 3)) for c in colours2} == {(1.0, 0.0, 0.0), (0.0, 0.502, 0.0)}


def test_dataset_from_arrays_and_split(blog):
    fig = plots.dataset(blog.X_train, blog.y_train, labels="4class", cmap=None)
    (ax,) = fig.axes
    assert len(ax.collections) == 1
    assert len(ax.collections[0].get_offsets()) == blog.n_train
    fig = plots.dataset(blog, split="val")
    assert len(fig.axes[0].collections[0].get_offsets()) == blog.n_val


def test_dataset_bad_input(blog):
    with pytest.raises(ValueError, match="labels must be one of.*'mod2'.*got '3class'"):
        plots.dataset(blog, labels="3class")
    with pytest.raises(ValueError, match="2 input features.*got 4"):
        plots.dataset(datasets.load("iris"))
    with pytest.raises(ValueError, match="unknown colormap 'viridiss'.*'viridis'"):
        plots.dataset(blog, cmap="viridiss")
    with pytest.raises(ValueError, match="split must be one of"):
        plots.dataset(blog, split="test")


# --------------------------------------------------------------------------- loss curves


def test_loss_curve_plots_the_history(he_leaky):
    fig = plots.loss_curve(he_leaky)
    lines = fig.axes[0].get_lines()
    assert [ln.get_label() for ln in lines] == ["training loss", "validation loss"]
    assert np.array_equal(lines[0].get_ydata(), he_leaky.history_["train_loss"])
    assert np.array_equal(lines[1].get_xdata(), np.arange(51))
    # the same from a dict and a frame
    frame = pd.DataFrame({"epoch": np.arange(51), **he_leaky.history_}).sample(
        frac=1, random_state=0
    )
    again = plots.loss_curve(frame).axes[0].get_lines()
    assert np.array_equal(again[1].get_ydata(), he_leaky.history_["val_loss"])
    with pytest.raises(ValueError, match="none of the metrics.*it has: train_loss"):
        plots.loss_curve({"train_loss": [1, 0.5]}, metrics=["val_acc"])
    with pytest.raises(ValueError, match="not fitted"):
        plots.loss_curve(FFNetwork())


def synthetic_curves():
    """2 configurations x 3 seeds x 5 epochs with known values."""
    rows, runs = [], []
    for act_i, act in enumerate(("tanh", "relu")):
        for seed in range(3):
            h = f"{act}-{seed}"
            runs.append({"run_hash": h, "activation": act, "init": "he", "seed": seed})
            for e in range(5):
                rows.append({"run_hash": h, "epoch": e, "val_loss": 1 + act_i + seed + 0.1 * e})
    return pd.DataFrame(rows), pd.DataFrame(runs)


def test_loss_band_mean_and_bands():
    curves, runs = synthetic_curves()
    fig = plots.loss_band(curves, runs=runs, by="activation", band="range")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [ln.get_label() for ln in lines] == ["tanh (n=3)", "relu (n=3)"]
    # a loss on its log axis: the geometric mean over seeds 0, 1, 2
    e = 0.1 * np.arange(5)
    geo = np.exp(np.mean(np.log([1 + e, 2 + e, 3 + e]), axis=0))
    assert np.allclose(lines[0].get_ydata(), geo)
    assert np.allclose(lines[1].get_ydata(), np.exp(np.mean(np.log([2 + e, 3 + e, 4 + e]), axis=0)))
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.min(), 1.0) and np.isclose(band.max(), 3.4)
    # the t confidence interval of the mean of (2, 3, 4): 3 +- t(0.975, 2) * 1 / sqrt(3)
    fig = plots.loss_band(curves, runs=runs, by="activation", band="ci", logy=False)
    tanh, relu = (c.get_paths()[0].vertices[:, 1] for c in fig.axes[0].collections)
    half = stats.t.ppf(0.975, 2) / np.sqrt(3)
    assert np.isclose(relu.max(), 3.4 + half)
    assert np.isclose(relu.min(), 3.0 - half)
    assert np.isclose(tanh.min(), 0.0)  # a linear loss band is clipped at 0
    # on the log axis the band is the t interval of the mean log loss: a factor × / ÷
    fig = plots.loss_band(curves, runs=runs, by="activation", band="ci")
    tanh = fig.axes[0].collections[0].get_paths()[0].vertices[:, 1]
    logs = np.log([1.0, 2.0, 3.0])  # epoch 0 of tanh's three seeds
    half = stats.t.ppf(0.975, 2) * logs.std(ddof=1) / np.sqrt(3)
    assert np.isclose(tanh.min(), np.exp(logs.mean() - half))
    assert tanh.min() > 0  # never below zero, where the linear band was clipped


def test_loss_band_facets_and_divergence():
    curves, runs = synthetic_curves()
    curves.loc[(curves.run_hash == "relu-2") & (curves.epoch >= 3), "val_loss"] = np.inf
    fig = plots.loss_band(curves, runs=runs, by="init", facet="activation")
    assert len(visible_axes(fig)) == 2
    labels = [ln.get_label() for a in fig.axes for ln in a.get_lines()]
    assert labels == ["he (n=3)", "he (n=3, 1 diverged)"]
    # the diverged run is left out of the mean after epoch 3
    relu = fig.axes[1].get_lines()[0].get_ydata()
    assert np.isclose(relu[4], np.sqrt(2.4 * 3.4))  # geometric mean of the other two
    assert fig.axes[0].get_yscale() == "log"  # losses default to a log axis
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['optimizer'\]"):
        plots.loss_band(curves, runs=runs, by="optimizer")
    with pytest.raises(ValueError, match="band must be one of"):
        plots.loss_band(curves, runs=runs, by="init", band="iqr")


# --------------------------------------------------------------------------- the blog's checks


def test_mistakes_larger_exactly_where_wrong(blog, he_leaky):
    fig = plots.mistakes(he_leaky, blog.X_train, blog.y_train)
    sizes = fig.axes[0].collections[0].get_sizes()
    wrong = he_leaky.predict(blog.X_train) != blog.y_train
    assert 0 < wrong.sum() < len(wrong)  # this net makes some mistakes, not only mistakes
    assert np.allclose(sizes[wrong], 16.5)
    assert np.allclose(sizes[~wrong], 1.5)
    # coloured by prediction
    assert np.array_equal(fig.axes[0].collections[0].get_array(), he_leaky.predict(blog.X_train))
    assert f"{wrong.sum()} of 750 wrong" in fig.axes[0].get_title()
    val = plots.mistakes(he_leaky, blog, split="val").axes[0].collections[0].get_sizes()
    assert len(val) == blog.n_val


def test_mistakes_pair_each_run_on_its_data(blog, he_leaky):
    fig = plots.mistakes_pair({"best": (he_leaky, blog), "missing": (None, blog)}, width=9.0)
    assert fig.get_size_inches()[0] == pytest.approx(9.0)
    best, missing = fig.axes
    wrong = he_leaky.predict(blog.X_val) != blog.y_val
    assert np.allclose(best.collections[0].get_sizes(), 15 * (wrong + 0.1))
    assert best.get_title() == f"best\n{wrong.sum()} of {blog.n_val} wrong"
    assert "not retrained" in [t.get_text() for t in missing.texts]
    with pytest.raises(ValueError, match="non-empty dict"):
        plots.mistakes_pair({})


def test_update_grid_few_layers_and_a_given_width(blog):
    net = FFNetwork(hidden_layer_sizes=(4,) * 6, epochs=3, record_params=True, random_state=0)
    net.fit(blog.X_train, blog.y_train)
    fig = plots.update_grid(net, max_panels_per_layer=2, max_layers=3, ncols=6, width=11.0)
    shown = [a.get_title() for a in fig.axes if a.get_visible()]
    layers = sorted({int(t[1 : t.index("[")]) for t in shown})
    assert layers == [1, 4, 7]  # the first, a middle and the last of 7 weight layers
    assert len(shown) == 6 and fig.get_size_inches()[0] == pytest.approx(11.0)
    assert any("(sampled)" in t.get_text() for t in fig.texts)


def test_update_grid_blog_18_panels(he_leaky):
    fig = plots.update_grid(he_leaky)
    axes = visible_axes(fig)
    assert len(axes) == 18
    titles = [a.get_title() for a in axes]
    # the blog's order: the 12 weights, then the 6 biases
    assert all(t.startswith("W") for t in titles[:12])
    assert titles[12:] == ["b1[0]", "b1[1]", "b2[0]", "b2[1]", "b2[2]", "b2[3]"]
    k = he_leaky.param_names_.index("W2[1,3]")
    line = axes[titles.index("W2[1,3]")].get_lines()[-1]
    assert np.allclose(line.get_ydata(), np.diff(he_leaky.param_history_[:, k]))
    assert axes[0].get_ylim() == axes[17].get_ylim()


def test_update_grid_same_scales_labels_on_outer_panels(blog):
    net = FFNetwork((16, 8), epochs=3, random_state=0, record_params=True)
    net.fit(blog.X_train, blog.y_train)
    axes = visible_axes(plots.update_grid(net, max_panels_per_layer=5, ncols=6))  # 15 panels
    assert len({a.get_xlim() for a in axes}) == 1 and len({a.get_ylim() for a in axes}) == 1

    def shown(a, axis):
        return any(t.get_visible() for t in getattr(a, f"get_{axis}ticklabels")())

    # x labels under the lowest panel of each column (the second row for the three
    # columns the third row leaves empty), y labels on the first column
    assert [k for k, a in enumerate(axes) if shown(a, "x")] == [9, 10, 11, 12, 13, 14]
    assert [k for k, a in enumerate(axes) if shown(a, "y")] == [0, 6, 12]


def test_update_grid_zero_init_tanh_weights_do_not_move(blog):
    net = blog_network("tanh", "zeros").fit(blog.X_train, blog.y_train)
    fig = plots.update_grid(net)
    for a in visible_axes(fig):
        if a.get_title().startswith("W"):
            assert np.all(a.get_lines()[-1].get_ydata() == 0)


def test_update_grid_samples_large_networks(blog):
    net = FFNetwork((16, 8), epochs=3, random_state=0, record_params=True)
    net.fit(blog.X_train, blog.y_train)
    fig = plots.update_grid(net, max_panels_per_layer=5)
    titles = [a.get_title() for a in visible_axes(fig)]
    assert len(titles) == 15
    for layer in (1, 2, 3):
        assert sum(t[1] == str(layer) for t in titles) == 5
    assert set(titles) <= set(net.param_names_)
    assert "sampled" in fig.get_suptitle()
    again = [a.get_title() for a in visible_axes(plots.update_grid(net, max_panels_per_layer=5))]
    assert again == titles  # seeded
    with pytest.raises(ValueError, match="record_params=True"):
        plots.update_grid(FFNetwork((4,), epochs=2, random_state=0).fit(blog.X_train, blog.y_train))
    with pytest.raises(ValueError, match="max_panels_per_layer must be an integer >= 1, got 0"):
        plots.update_grid(net, max_panels_per_layer=0)


# --------------------------------------------------------------------------- beyond the blog


def test_boundary_grid_panels_and_regions(blog, blog_nets):
    nets = dict(blog_nets)
    del nets[("zeros", "leaky_relu")]
    fig = plots.boundary_grid(nets, blog, resolution=30)
    assert len(fig.axes) == 4
    by_pos = {
        (a.get_subplotspec().rowspan.start, a.get_subplotspec().colspan.start): a for a in fig.axes
    }
    assert "not run" in [t.get_text() for t in by_pos[(0, 1)].texts]
    a = by_pos[(1, 1)]  # he + leaky_relu
    net = nets[("he", "leaky_relu")]
    gx, gy, grid = plots._mesh(blog.X, 30)
    assert np.array_equal(a.images[0].get_array(), net.predict(grid).reshape(gx.shape))
    assert a.get_title() == f"{net.score(blog.X_val, blog.y_val):.2f}"
    assert by_pos[(0, 0)].get_ylabel() == "zeros"
    with pytest.raises(ValueError, match="keys must be \\(init, activation\\) pairs"):
        plots.boundary_grid({"he": net}, blog)
    with pytest.raises(ValueError, match="row order names \\['lsuv'\\]"):
        plots.boundary_grid(nets, blog, row_order=["lsuv"])


def summary_frame():
    rows = []
    for opt, shift in (("gd", 0.0), ("adam", 0.05)):
        for i, init in enumerate(("zeros", "he")):
            for j, act in enumerate(("tanh", "relu", "elu")):
                m = 0.5 + 0.1 * i + 0.05 * j + shift
                rows.append(
                    dict(optimizer=opt, init=init, activation=act, learning_rate=0.1, mean=m,
                         ci_low=m - 0.02, ci_high=m + 0.02, best=False, tied=False)
                )  # fmt: skip
    df = pd.DataFrame(rows)
    df.loc[(df.optimizer == "adam") & (df.init == "he") & (df.activation == "elu"), "best"] = True
    df.loc[(df.optimizer == "adam") & (df.init == "he") & (df.activation == "relu"), "tied"] = True
    return df


def test_accuracy_heatmap_cells_and_marks():
    df = summary_frame()
    fig = plots.accuracy_heatmap(df)
    heat = [a for a in fig.axes if a.images]
    assert len(heat) == 2  # one per optimizer, plus a colorbar
    assert len(fig.axes) == 3
    gd, adam = heat
    assert gd.get_title() == "optimizer gd"
    expected = df[df.optimizer == "adam"].pivot(index="init", columns="activation", values="mean")
    expected = expected.loc[["zeros", "he"], ["tanh", "relu", "elu"]].to_numpy()
    assert np.allclose(adam.images[0].get_array(), expected)
    texts = {t.get_position(): t.get_text() for t in adam.texts}
    assert texts[(2, 1)].startswith("★ 0.75") and "±0.02" in texts[(2, 1)]
    assert texts[(1, 1)].startswith("≈ ")
    assert not any("★" in t.get_text() for t in gd.texts)


def test_accuracy_heatmap_keeps_the_best_of_varied_configurations():
    df = summary_frame()
    worse = df.assign(learning_rate=1.0, mean=df["mean"] - 0.3, best=False, tied=False)
    fig = plots.accuracy_heatmap(pd.concat([worse, df]), by="optimizer")
    gd = fig.axes[0]
    assert "best over learning_rate" in gd.get_title()
    assert np.isclose(np.nanmax(gd.images[0].get_array()), 0.7)  # not 0.4 (lr 1.0)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['mean'\]"):
        plots.accuracy_heatmap(df.drop(columns="mean"))
    with pytest.raises(ValueError, match="empty"):
        plots.accuracy_heatmap(df.iloc[:0])


def test_layer_histograms_init_and_trained(blog):
    net = FFNetwork((4, 3), activation="tanh", init="xavier", epochs=5, random_state=0)
    fig = plots.layer_histograms(net, blog)
    assert len(fig.axes) == 4
    assert not hasattr(net, "coefs_")  # the caller's network is not fitted behind its back
    for a in fig.axes:
        assert [t.get_text().split(" (")[0] for t in a.get_legend().get_texts()] == [
            "layer 1",
            "layer 2",
        ]
    assert "initialization" in fig.axes[0].get_title()
    # tanh activations lie in [-1, 1]
    lo, hi = fig.axes[0].get_xlim()
    assert -1.2 < lo and hi < 1.2
    fitted = FFNetwork((4, 3), activation="tanh", init="xavier", epochs=5, random_state=0)
    fitted.set_params(record_params=True).fit(blog.X_train, blog.y_train)
    last = plots._params_at(fitted, fitted.n_iter_)
    assert np.array_equal(last[0][0], fitted.coefs_[0])
    assert np.array_equal(last[3][0], fitted.intercepts_[1])
    with pytest.raises(ValueError, match="hidden layers are 1..2"):
        plots.layer_histograms(fitted, blog, layers=[3])


def test_variance_curves():
    diag = pd.DataFrame(
        {
            "layer": [1, 2, 3] * 2,
            "init": ["he"] * 3 + ["xavier"] * 3,
            "var_forward": [1, 0.5, 0.25, 1, 1, 1],
            "var_backward": [1, 2, 4, 1, 1.1, 1.2],
            "mean": 0.0,
        }
    )
    fig = plots.variance_curves(diag, by="init")
    lines = fig.axes[0].get_lines()
    assert len(lines) == 4
    assert lines[0].get_label() == "he: var_forward"
    assert np.allclose(lines[0].get_ydata(), [1, 0.5, 0.25])
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="no variance column"):
        plots.variance_curves(diag[["layer", "mean"]])


def test_animate_training_writes_a_gif(blog, tmp_path):
    net = FFNetwork((4,), activation="tanh", init="xavier", epochs=8, random_state=0)
    anim = plots.animate_training(net, blog, path=tmp_path / "a.gif", frames=4, resolution=20)
    assert not hasattr(net, "coefs_")
    with Image.open(anim.path) as im:
        assert im.format == "GIF"
        assert im.n_frames == anim.n_frames == len(anim.epochs)
    assert anim.epochs[0] == 0 and anim.epochs[-1] == 8
    assert anim._repr_html_().startswith('<img src="data:image/gif;base64,R0lGOD')
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.animate_training(net, blog, path=tmp_path / "nope" / "a.gif")
    with pytest.raises(ValueError, match="frames must be an integer >= 2, got 1"):
        plots.animate_training(net, blog, path=tmp_path / "b.gif", frames=1)


def test_figures_are_not_blank(blog, he_leaky):
    pixels = rgb(plots.dataset(blog, labels="mod2"))
    reds = np.all(pixels == (255, 0, 0), axis=-1).sum()
    greens = np.all(pixels == (0, 128, 0), axis=-1).sum()
    assert reds > 50 and greens > 50
    assert rgb(plots.update_grid(he_leaky)).std() > 10


# --- figures of diagnostics and theory --------------------------------------------------------
def test_diagnostics_figures(tmp_path):
    from initlab import diagnostics

    X = diagnostics.gaussian_inputs(20, 8)
    df = diagnostics.propagation((8,) * 3, "tanh", "xavier", X, n_models=2)
    fig = plots.propagation(df)
    assert len(fig.axes) == 4
    # each model a thin line, the median thick: 2 models + 1 median per panel
    assert [len(a.lines) for a in fig.axes] == [3] * 4
    assert fig.axes[0].get_yscale() == "log"
    fig.savefig(tmp_path / "p.png")
    assert (tmp_path / "p.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="unknown column"):
        plots.propagation(df, columns=("nope",))
    s = diagnostics.jacobian_singular_values((8,) * 3, "tanh", "xavier", X[:2])
    fig = plots.spectrum(s, label="tanh")
    plots.spectrum(s * 2, label="doubled", ax=fig.axes[0])
    assert len(fig.axes[0].patches) == 2
    with pytest.raises(ValueError, match="no finite"):
        plots.spectrum(np.array([np.nan]))


def test_record_figure_one_line_per_layer():
    from initlab import diagnostics

    d = datasets.load("blog")
    rec = diagnostics.record(blog_network("tanh", "he"), d.X_train, d.y_train, every=10)
    fig = plots.record(rec)
    # tanh has no dead units: that column is left out; one line per hidden layer
    assert [a.get_title() for a in fig.axes] == ["a_var", "grad_var", "saturated"]
    assert len(fig.axes[0].lines) == 1
    with pytest.raises(ValueError, match="nothing to plot"):
        plots.record(rec, columns=("dead",))


def test_phase_diagram_marks_the_initializers():
    from initlab import activations, initializers

    torch_gain = initializers.variance_scaling(
        activations.get("tanh").gain ** 2, "fan_in", name="torch_gain"
    )
    fig = plots.phase_diagram(
        "tanh",
        np.linspace(0.1, 3.5, 12),
        np.linspace(0.0, 0.3, 5),
        width=128,
        inits=("lecun", "xavier", "he", torch_gain, "random"),
    )
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    markers = {line.get_gid(): line for line in ax.lines}
    assert {"lecun_normal", "xavier_normal", "he_normal", "torch_gain", "random"} <= set(markers)
    assert markers["he_normal"].get_xdata()[0] == pytest.approx(2.0)
    assert markers["torch_gain"].get_xdata()[0] == pytest.approx(25 / 9)
    # random N(0, 1) has sigma_w^2 = 128: pinned at the right edge and labelled off chart
    assert markers["random"].get_xdata()[0] == pytest.approx(3.5)
    assert "off chart" in markers["random"].get_label()
    assert any("128" in t.get_text() for t in ax.texts)
    assert ax.collections  # heat map and critical contour


def test_panels_colour_by_hue_across_layers_and_check_input():
    df = pd.DataFrame({"x": [1, 2, 1, 2], "y": [1.0, 2.0, 3.0, 4.0], "g": ["a", "a", "b", "b"]})
    fig = plots.panels(
        [
            plots.Panel(
                "t",
                [
                    plots.Lines(df, "x", "y", hue="g"),
                    plots.Lines(df.assign(y=df.y * 2), "x", "y", hue="g", ls=":", label=""),
                ],
                hlines=(1,),
            )
        ],
        title="title",
    )
    ax = fig.axes[0]
    colours = [line.get_color() for line in ax.lines if line.get_linestyle() != ":"]
    dotted = [line.get_color() for line in ax.lines if line.get_linestyle() == ":"][:2]
    assert colours == dotted and colours[0] != colours[1]  # same hue, same colour
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError, match="lacks column"):
        plots.panels([plots.Panel("t", [plots.Lines(df, "x", "nope")])])
    with pytest.raises(TypeError, match="plots.Panel"):
        plots.panels([])


def test_edge_of_chaos_figure_marks_the_jumps():
    fig = plots.edge_of_chaos(
        "gelu", [0.0, 0.3], compare=["gelu", "tanh"], sigma_b2_grid=[0.0, 0.1, 0.3]
    )
    left, right = fig.axes[:2]
    crosses = [line for line in left.lines if line.get_marker() == "x"]
    assert len(crosses) == 1  # only sigma_b2 = 0 jumps, at 2.352
    assert crosses[0].get_xdata()[0] == pytest.approx(2.352, abs=1e-3)
    labels = [line.get_label() for line in right.lines]
    assert "gelu: jump (none)" in labels and "tanh: edge of chaos" in labels
    assert "tanh: jump (none)" not in labels


def test_every_figure_function_is_exported():
    # a figure added to a subject module is public once it is in that module's __all__
    import importlib
    import inspect

    for name in ("data", "layers", "panels", "studies", "theory", "training"):
        module = importlib.import_module(f"initlab.plots.{name}")
        public = {
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module.__name__
        }
        assert public == set(module.__all__), (name, public ^ set(module.__all__))
        assert set(module.__all__) <= set(plots.__all__)
        assert all(getattr(plots, n) is getattr(module, n) for n in module.__all__)

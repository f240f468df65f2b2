"""Signal-propagation diagnostics against hand-computed values and analytic cases."""

import numpy as np
import pytest
from typer.testing import CliRunner

from initlab import blog_network, datasets, diagnostics, engine, initializers
from initlab.cli import app


def _net(activation, W1, b1, W2, b2):
    """A one-hidden-layer population (M = 1) with the given weights."""
    n_in, n_hidden = W1.shape
    pop = engine.Population((n_in, n_hidden, W2.shape[1]), activation)
    params = [np.asarray(p, float)[None] for p in (W1, b1, W2, b2)]
    return pop, params


def test_layer_stats_match_hand_computation():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 3))
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    W1, b1 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((4, 3)), rng.standard_normal(3)
    pop, params = _net("tanh", W1, b1, W2, b2)
    df = diagnostics.layer_stats(pop, params, X, y)
    # by hand: forward, softmax cross-entropy, backward for one sample at a time
    z1 = X @ W1 + b1
    a1 = np.tanh(z1)
    z2 = a1 @ W2 + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d2 = p - np.eye(3)[y]  # per-sample dL/dz2
    d1 = (d2 @ W2.T) * (1 - a1**2)
    dW1 = X.T @ d1 / len(X)  # gradient of the mean loss
    hidden, out = df.iloc[0], df.iloc[1]
    num = df.select_dtypes("number").iloc[0].astype(float)
    assert hidden["kind"] == "hidden" and out["kind"] == "output"
    np.testing.assert_allclose(num[["z_mean", "z_var"]], [z1.mean(), z1.var()], rtol=1e-12)
    np.testing.assert_allclose(num[["a_mean", "a_var"]], [a1.mean(), a1.var()], rtol=1e-12)
    np.testing.assert_allclose(hidden["a_sq"], (a1**2).mean(), rtol=1e-12)
    np.testing.assert_allclose(hidden["grad_var"], d1.var(), rtol=1e-10)
    np.testing.assert_allclose(out["grad_var"], d2.var(), rtol=1e-10)
    np.testing.assert_allclose(hidden["dW_var"], dW1.var(), rtol=1e-10)
    np.testing.assert_allclose(hidden["W_var"], W1.var(), rtol=1e-12)
    np.testing.assert_allclose(out["a_mean"], 1 / 3, rtol=1e-12)  # probabilities
    assert hidden["copies"] == 0 and np.isnan(hidden["dead"])
    assert list(df.columns) == diagnostics.COLUMNS


def test_saturation_threshold_is_documented_level():
    # unit 0 sits at z = 2.7 (|tanh| = 0.991, saturated), unit 1 at z = 2.6 (0.989, not)
    X = np.ones((5, 1))
    pop, params = _net("tanh", np.array([[2.7, 2.6]]), np.zeros(2), np.ones((2, 2)), np.zeros(2))
    df = diagnostics.layer_stats(pop, params, X)
    assert df.iloc[0]["saturated"] == pytest.approx(0.5)
    # sigmoid: the same 1% of the half-range next to 0 or 1
    pop, params = _net(
        "sigmoid", np.array([[6.0, -5.0, 0.0]]), np.zeros(3), np.ones((3, 2)), np.zeros(2)
    )
    df = diagnostics.layer_stats(pop, params, X)  # expit(6) = 0.9975, expit(-5) = 0.0067
    assert df.iloc[0]["saturated"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="saturation must be in"):
        diagnostics.layer_stats(pop, params, X, saturation=1.5)


def test_dead_units_are_zero_for_every_input():
    X = np.array([[1.0, 2.0], [0.5, 0.1], [3.0, 1.0]])  # all positive
    W1 = np.array([[-1.0, 1.0, 1.0], [-2.0, 1.0, -1.0]])  # unit 0 always <= 0
    pop, params = _net("relu", W1, np.zeros(3), np.ones((3, 2)), np.zeros(2))
    df = diagnostics.layer_stats(pop, params, X)
    # unit 2 is negative for row 0 only: not dead
    assert df.iloc[0]["dead"] == pytest.approx(1 / 3)
    df = diagnostics.layer_stats(pop, params, X[:1])
    assert df.iloc[0]["dead"] == pytest.approx(2 / 3)


def test_copies_count_identical_units():
    W = np.array([[1.0, 2.0, 1.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    b = np.array([0.0, 0.0, 0.0, 1.0])
    assert diagnostics.count_copies(W, b) == 1  # units 0 and 2; unit 3 differs by its bias
    assert diagnostics.count_copies(np.zeros((3, 5)), np.zeros(5)) == 4
    assert (
        diagnostics.count_copies(np.random.default_rng(0).standard_normal((4, 6)), np.zeros(6)) == 0
    )
    X = diagnostics.gaussian_inputs(20, 3)
    zero = diagnostics.propagation((4, 5), "tanh", "zeros", X)
    he = diagnostics.propagation((4, 5), "tanh", "he", X)
    assert zero[zero.kind == "hidden"]["copies"].tolist() == [3, 4]
    assert he[he.kind == "hidden"]["copies"].tolist() == [0, 0]


def test_propagation_he_keeps_relu_variance_xavier_halves_it():
    X = diagnostics.gaussian_inputs(200, 128)
    he = diagnostics.propagation((128,) * 8, "relu", "he_normal", X, n_models=4)
    xa = diagnostics.propagation((128,) * 8, "relu", "lecun_normal", X, n_models=4)

    def ratio(df):
        z = df[df.kind == "hidden"].groupby("layer")["z_var"].mean()
        return (z.iloc[-1] / z.iloc[0]) ** (1 / 7)

    assert 0.85 < ratio(he) < 1.15
    assert 0.4 < ratio(xa) < 0.6
    assert set(he["model"]) == {0, 1, 2, 3}


def test_jacobian_matches_finite_differences_and_linear_product():
    X = diagnostics.gaussian_inputs(3, 4, random_state=1)
    pop, params = diagnostics.build((5, 3), "tanh", "xavier", X, n_models=2)
    J = diagnostics.jacobian(pop, params, X)
    assert J.shape == (2, 3, 3, 4)
    eps = 1e-6
    num = np.zeros_like(J)
    for k in range(4):
        step = np.zeros(4)
        step[k] = eps
        up = np.moveaxis(pop.forward(params, X + step).acts[-1], 0, -1)
        down = np.moveaxis(pop.forward(params, X - step).acts[-1], 0, -1)
        num[..., k] = (up - down) / (2 * eps)
    np.testing.assert_allclose(J, num, atol=1e-8)
    # a linear network's Jacobian is the product of its weights, whatever the input
    pop, params = diagnostics.build((5, 6), "linear", "he", X)
    J = diagnostics.jacobian(pop, params, X, include_output=True)
    product = (params[0][0] @ params[2][0] @ params[4][0]).T
    for n in range(3):
        np.testing.assert_allclose(J[0, n], product, atol=1e-12)


def test_orthogonal_linear_network_has_singular_values_exactly_one():
    X = diagnostics.gaussian_inputs(2, 32)
    s = diagnostics.jacobian_singular_values((32,) * 20, "linear", "orthogonal", X)
    np.testing.assert_allclose(s, 1.0, atol=1e-12)
    g = diagnostics.jacobian_singular_values((32,) * 20, "linear", "lecun_normal", X)
    assert g.max() / g.min() > 100  # Gaussian products are far from isometric


def test_diagnose_fitted_network_and_record_agree():
    d = datasets.load("blog")
    net = blog_network("tanh", "xavier")
    rec = diagnostics.record(net, d.X_train, d.y_train, every=10, X_val=d.X_val, y_val=d.y_val)
    assert sorted(rec["epoch"].unique()) == [0, 10, 20, 30, 40, 50]
    assert not hasattr(net, "coefs_")  # the configuration is untouched
    net.fit(d.X_train, d.y_train)
    final = diagnostics.diagnose(net, d.X_train, d.y_train)
    last = rec[rec.epoch == 50].reset_index(drop=True)
    cols = ["z_mean", "z_var", "a_var", "grad_var", "dW_var", "W_var"]
    np.testing.assert_allclose(last[cols], final[cols], rtol=1e-10, atol=1e-15)
    assert rec["val_acc"].iloc[-1] == pytest.approx(0.86)  # the blog's tanh + xavier
    assert rec[rec.epoch == 0]["W_moved"].eq(0).all() and rec["W_moved"].iloc[-1] > 0


def test_record_zero_init_keeps_relu_hidden_weights_frozen():
    d = datasets.load("blog")
    rec = diagnostics.record(blog_network("relu", "zeros"), d.X_train, d.y_train, every=5)
    hidden = rec[rec.layer == 1]
    assert (hidden["W_moved"] == 0).all() and (hidden["copies"] == 1).all()
    assert rec[rec.layer == 2]["W_moved"].iloc[-1] == 0  # W2 stays 0 too (only b2 learns)


def test_bad_input_has_clear_errors():
    X = diagnostics.gaussian_inputs(10, 4)
    with pytest.raises(ValueError, match="depth 0"):
        diagnostics.propagation((), "relu", "he", X)
    with pytest.raises(ValueError, match=r"bad width 0"):
        diagnostics.propagation((4, 0), "relu", "he", X)
    with pytest.raises(ValueError, match="unknown activation 'relux'; did you mean 'relu'"):
        diagnostics.propagation((4,), "relux", "he", X)
    with pytest.raises(ValueError, match="n_models must be an integer >= 1"):
        diagnostics.propagation((4,), "relu", "he", X, n_models=0)
    pop, params = diagnostics.build((4,), "relu", "he", X)
    with pytest.raises(ValueError, match="X has 3 features; the network expects 4"):
        diagnostics.layer_stats(pop, params, X[:, :3])
    with pytest.raises(ValueError, match="X has 3 features; the network expects 4"):
        diagnostics.jacobian(pop, params, X[:, :3])
    with pytest.raises(ValueError, match="labels 0..1"):
        diagnostics.layer_stats(pop, params, X, np.full(10, 5))
    d = datasets.load("blog")
    net = blog_network("tanh", "he").fit(d.X_train, d.y_train)
    with pytest.raises(ValueError, match="X has 3 features; the network expects 2"):
        diagnostics.diagnose(net, np.ones((5, 3)))
    with pytest.raises(ValueError, match="not fitted"):
        diagnostics.diagnose(blog_network("tanh", "he"), d.X_train)
    with pytest.raises(ValueError, match="every must be an integer >= 1"):
        diagnostics.record(blog_network("tanh", "he"), d.X_train, d.y_train, every=0)
    with pytest.raises(ValueError, match="NaN"):
        diagnostics.propagation((4,), "relu", "he", np.full((3, 4), np.nan))


runner = CliRunner()


def test_cli_diagnose_writes_plots(tmp_path):
    result = runner.invoke(
        app,
        [
            "diagnose",
            "--activation",
            "relu",
            "--init",
            "he",
            "--depth",
            "4",
            "--width",
            "16",
            "--samples",
            "32",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "grad_var" in result.output and "dead" in result.output
    for name in ("propagation.png", "propagation.csv", "jacobian.png"):
        assert (tmp_path / name).exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--depth", "0"], "--depth must be at least 1"),
        (["--width", "0"], "--width must be a positive integer"),
        (["--activation", "sigmoid", "--init", "critical"], "no edge of chaos"),
        (["--init", "hee"], "did you mean 'he_normal'"),
    ],
)
def test_cli_diagnose_bad_input(args, message, tmp_path):
    result = runner.invoke(app, ["diagnose", *args, "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_critical_init_uses_mean_field_edge_of_chaos():
    from initlab.meanfield import initializers_for

    w, b = initializers_for("tanh", "critical", sigma_b2=0.05)
    assert w.scale == pytest.approx(1.76095, abs=1e-4) and b.name == "normal"
    assert b.params["std"] == pytest.approx(0.05**0.5)
    w, b = initializers_for("relu", "he")
    assert w is initializers.get("he_normal") and b.name == "zeros"
    w, _ = initializers_for("relu", "he", sigma_w2=1.5)  # an explicit variance wins
    assert w.scale == 1.5 and w.mode == "fan_in" and w.distribution == "normal"


def test_cli_critical_init_reports_the_jump_of_gelu(tmp_path):
    # chi_1 jumps from 0.59 to 1.18 at sigma_w^2 = 2.352: not an edge of chaos to use
    result = runner.invoke(app, ["diagnose", "-a", "gelu", "-i", "critical", "-o", str(tmp_path)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "no edge of chaos" in out and "jumps across 1" in out and "2.35" in out
    ok = runner.invoke(
        app,
        ["diagnose", "-a", "gelu", "-i", "critical", "--sigma-b2", "0.3", "--depth", "3"]
        + ["--width", "16", "--samples", "16", "--no-jacobian", "-o", str(tmp_path)],
    )
    assert ok.exit_code == 0, ok.output
    assert "critical(sigma_w2=1.956" in " ".join(ok.output.split())

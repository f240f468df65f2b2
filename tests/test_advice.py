"""initlab.advise: mean-field advice that matches measurements, and --check that trains it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

import initlab
from initlab import activations, datasets, diagnostics, engine, meanfield, optim
from initlab.advice import Advice, advise
from initlab.cli import app

runner = CliRunner()


def flat(res) -> str:
    return " ".join(res.output.split())


def test_relu_advice_is_he_with_the_analytic_numbers():
    a = initlab.advise("relu", depth=50, width=256)
    assert isinstance(a, Advice)
    assert a.recommended.name == "he_normal" and a.recommended.sigma_w2 == 2.0
    he, lecun = a.candidate("he"), a.candidate("lecun_normal")
    assert he.phase == "critical" and he.grad_factor == pytest.approx(1.0, abs=1e-12)
    assert he.q_last == pytest.approx(he.q_first, rel=1e-12)
    # LeCun halves both the signal and the squared gradient per ReLU layer (He et al. 2015)
    assert lecun.grad_factor == pytest.approx(0.5**49, rel=1e-9)
    assert lecun.q_last / lecun.q_first == pytest.approx(0.5**49, rel=1e-9)
    assert lecun.xi_grad == pytest.approx(1 / math.log(2)) and not lecun.trainable
    assert a.candidate("critical").sigma_w2 == pytest.approx(2.0, abs=1e-9)
    assert a.p_dead == pytest.approx(50 * 2.0**-256, rel=1e-9)  # 1 - (1 - 2^-N)^L, Lu 2019
    narrow = advise("relu", depth=10, width=3)
    assert narrow.p_dead == pytest.approx(1 - (1 - 1 / 8) ** 10, rel=1e-12)


def test_gelu_advice_is_the_edge_of_chaos_with_bias_not_the_jump():
    a = advise("gelu", 50, 256)
    r = a.recommended
    edge = meanfield.edge_of_chaos("gelu", 0.2)
    assert r.name == "critical" and r.sigma_b2 == 0.2
    assert r.sigma_w2 == pytest.approx(edge.sigma_w2, rel=1e-12) and r.chi1 == pytest.approx(1.0)
    assert [e.sigma_b2 for e in a.edges] == [0.0, 0.05, 0.1, 0.2]  # none below 0.2
    assert all(e.jumps for e in a.edges[:3])
    he = a.candidate("he_normal")  # sigma_w2 = 2 < 2.352: the signal collapses to q* = 0
    assert he.phase == "ordered" and he.chi1 == pytest.approx(0.5) and he.q_star == 0.0
    text = " ".join(t for t, _ in a.notes)
    assert "jumps across 1 at sigma_w2 = 2.352" in text


@pytest.mark.parametrize("name", activations.names())
def test_every_activation_gets_consistent_advice(name):
    a = advise(name, 20, 64)
    scores = [c.score for c in a.candidates]
    assert a.recommended.score <= min(scores) + 1e-6  # a named init wins a tie
    assert {c.name for c in a.candidates} >= {"he_normal", "lecun_normal", "xavier_normal"}
    for c in a.candidates:
        assert c.source and c.phase in ("ordered", "critical", "chaotic")
        assert c.trainable == (20 <= 6 * c.xi_c)
        if c.name == "critical":
            assert c.chi1 == pytest.approx(1.0, abs=1e-6)
            assert meanfield.edge_of_chaos(name, c.sigma_b2).sigma_w2 == c.sigma_w2
    assert (a.p_dead is None) == (name != "relu")
    assert len(a.frame()) == len(a.candidates) and a.frame()["recommended"].sum() == 1


@pytest.mark.parametrize(
    ("name", "inits"),
    [
        ("tanh", ["he_normal", "lecun_normal", "critical"]),
        ("selu", ["lecun_normal", "critical"]),
        ("gelu", ["lecun_normal", "critical"]),
    ],
)
def test_predicted_signal_and_gradient_over_depth_match_a_wide_network(name, inits):
    # The orbit of the variance map and the product of chi_1 along it are what a wide
    # network measures layer by layer (diagnostics: pre-activation and gradient variance).
    depth, width = 12, 512
    a = advise(name, depth, width)
    X = diagnostics.gaussian_inputs(256, width, 0)  # mean square 1 = q0
    for init in inits:
        c = a.candidate(init)
        w, b = a.initializers(init)
        df = diagnostics.propagation((width,) * depth, name, w, X, b, 0, 2)
        h = df[df["kind"] == "hidden"].groupby("layer").mean(numeric_only=True)
        q = (h["z_var"] + h["z_mean"] ** 2).to_numpy()
        g = h["grad_var"].to_numpy()
        assert q[0] == pytest.approx(c.q_first, rel=0.03), init
        assert q[-1] / q[0] == pytest.approx(c.q_last / c.q_first, rel=0.12), init
        assert g[0] / g[-1] == pytest.approx(c.grad_factor, rel=0.15), init


def test_data_set_the_input_size_and_variance():
    a = advise("tanh", 5, 32, "iris")
    d = datasets.load("iris")
    assert a.n_features == d.n_features == 4
    assert a.q0 == pytest.approx(float(np.mean(d.X_train**2)))
    assert advise("tanh", 5, 32, q0=4.0).candidate("lecun_normal").q_first == 4.0


def test_check_trains_every_candidate_as_one_population():
    a = advise("tanh", 4, 16).check(
        "iris", seeds=[0, 1], epochs=3, learning_rate=0.05, batch_size=64
    )
    assert len(a.runs) == 2 * len(a.candidates)
    assert set(a.checked["init"]) == {c.name for c in a.candidates}
    assert {"mean", "ci_low", "ci_high", "best", "tied", "train_loss", "predicted_rank"} <= set(
        a.checked.columns
    )
    assert a.checked["best"].sum() == 1 and a.check_setup["epochs"] == 3
    # population == loop: each candidate and seed alone trains to the same numbers
    d = datasets.load("iris")
    for c in a.candidates[::2]:
        w, b = a.initializers(c.name)
        pop = engine.Population((d.n_features, 16, 16, 16, 16, d.n_classes), "tanh")
        params = engine.init_params(pop, 1, w, b)
        tr = engine.Trainer(
            pop, params, optim.build("momentum", 0.05), d.X_train, d.y_train, d.X_val,
            d.y_val, batch_size=64, record=False,
        )  # fmt: skip
        tr.step(3)
        got = a.runs[(a.runs["init"] == c.name) & (a.runs["seed"] == 1)].iloc[0]
        assert got["train_loss"] == pytest.approx(float(tr.result().final["train_loss"][0]), 1e-12)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="depth must be an integer >= 1, got 0"):
        advise("relu", 0, 10)
    with pytest.raises(ValueError, match="did you mean 'relu'"):
        advise("relux", 3, 10)
    with pytest.raises(ValueError, match="sigma_b2 must be a finite number >= 0"):
        advise("relu", 3, 10, sigma_b2=-1.0)
    with pytest.raises(ValueError, match="no candidate 'he_uniform'"):
        advise("relu", 3, 10).candidate("he_uniform")
    with pytest.raises(ValueError, match="seeds is empty"):
        advise("relu", 3, 10).check("iris", seeds=[])


def test_cli_advise_prints_the_advice():
    res = runner.invoke(app, ["advise", "--activation", "relu", "--depth", "50", "--width", "256"])
    assert res.exit_code == 0, res.output
    out = flat(res)
    assert "Recommended: he_normal: W ~ N(0, 2 / fan_in), b = 0" in out
    assert "P(dead at birth)" in out and "He et al. 2015" in out and "Lu" in out
    res = runner.invoke(app, ["advise", "-a", "gelu", "--depth", "50", "--width", "256"])
    out = flat(res)
    assert res.exit_code == 0 and "Recommended: the edge of chaos: W ~ N(0, 1.971" in out
    assert "b ~ N(0, 0.2)" in out and "jumps across 1" in out


def test_cli_advise_check_and_errors():
    res = runner.invoke(
        app,
        ["advise", "-a", "tanh", "--depth", "3", "--width", "8", "-d", "iris", "--check"]
        + ["--seeds", "2", "--epochs", "2"],
    )
    assert res.exit_code == 0, res.output
    assert "--check: iris, 2 seeds, 2 epochs" in flat(res) and "★" in res.output
    bad = runner.invoke(app, ["advise", "--depth", "0", "--width", "8"])
    assert bad.exit_code == 2 and "depth must be an integer >= 1" in flat(bad)

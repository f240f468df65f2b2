"""initlab.torch: PyTorch models diagnosed by hooks and initialized by initlab's initializers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from initlab import datasets, diagnostics, engine, initializers, meanfield
from initlab.cli import app

torch = pytest.importorskip("torch")
itorch = pytest.importorskip("initlab.torch")
nn = torch.nn

TORCH_MODULES = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}
runner = CliRunner()


def test_importing_initlab_does_not_import_torch():
    code = (
        "import sys, initlab, initlab.cli, initlab.advice, initlab.diagnostics, "
        "initlab.meanfield, initlab.experiments; initlab.advise; "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def mlp(sizes, activation, dtype=torch.float64):
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        mods.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            mods.append(TORCH_MODULES[activation]())
    return nn.Sequential(*mods).to(dtype)


def _same_table(ours, theirs, rtol=1e-10):
    assert list(ours.columns) == list(theirs.columns) == diagnostics.COLUMNS
    assert ours[["layer", "kind", "fan_in", "width"]].equals(
        theirs[["layer", "kind", "fan_in", "width"]]
    )
    num = diagnostics.COLUMNS[5:]
    np.testing.assert_allclose(
        ours[num].to_numpy(float), theirs[num].to_numpy(float), rtol=rtol, atol=1e-300
    )


@pytest.mark.parametrize(("activation", "init"), [("tanh", "xavier_normal"), ("relu", "he_normal")])
def test_ten_layer_mlp_matches_initlab_network_to_1e_10(activation, init):
    # init_ draws exactly the network engine.init_params draws (same generator, same order);
    # the hooks' table equals diagnostics.layer_stats on that network
    sizes = (32, *(48,) * 10, 5)
    X = diagnostics.gaussian_inputs(96, 32, 1)
    y = diagnostics.random_labels(96, 5, 1)
    pop = engine.Population(sizes, activation)
    params = engine.init_params(pop, 7, init)
    model = itorch.init_(mlp(sizes, activation), init, seed=7)
    linears = itorch.layers(model)
    for i, layer in enumerate(linears):
        assert np.array_equal(layer.weight.detach().numpy().T, params[2 * i][0])
        assert np.array_equal(layer.bias.detach().numpy(), params[2 * i + 1][0])
    ours = diagnostics.layer_stats(pop, params, X, y)
    theirs = itorch.diagnose(model, X, y)
    _same_table(ours, theirs)
    assert (theirs["kind"] == "hidden").sum() == 10
    assert all(p.grad is None for p in model.parameters())  # left as it was
    # without labels the gradient columns are NaN, as for initlab networks
    no_y = itorch.diagnose(model, X)
    assert no_y["grad_var"].isna().all() and np.allclose(no_y["z_var"], theirs["z_var"])


def test_copied_weights_with_copies_dead_units_and_saturation_match():
    # a torch model built from an initlab network's weights (here with identical units and
    # saturating / dead pathologies) reports the same pathologies
    sizes = (16, 24, 24, 24, 3)
    X = diagnostics.gaussian_inputs(64, 16, 2) * 3.0
    y = diagnostics.random_labels(64, 3, 2)
    for activation, init in (("relu", "zeros"), ("sigmoid", "random"), ("relu", "random")):
        pop = engine.Population(sizes, activation)
        params = engine.init_params(pop, 3, init, "normal")
        model = mlp(sizes, activation)
        with torch.no_grad():
            for i, layer in enumerate(itorch.layers(model)):
                layer.weight.copy_(torch.from_numpy(params[2 * i][0].T))
                layer.bias.copy_(torch.from_numpy(params[2 * i + 1][0]))
        ours = diagnostics.layer_stats(pop, params, X, y)
        theirs = itorch.diagnose(model, X, y)
        _same_table(ours, theirs)
    assert theirs["dead"].iloc[:3].notna().all()


def small_cnn(dtype=torch.float64):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(8 * 6 * 6, 10),
    ).to(dtype)


def test_small_cnn_channels_are_units():
    d = datasets.load("digits")
    X = d.X_train[:128].reshape(-1, 1, 8, 8)
    y = d.y_train[:128]
    model = small_cnn()
    with torch.no_grad():
        model[0].bias[0] = -100.0  # channel 0 of the first conv is dead everywhere
    df = itorch.diagnose(model, X, y)
    assert df["kind"].tolist() == ["hidden", "hidden", "output"]
    assert df["fan_in"].tolist() == [9, 72, 288] and df["width"].tolist() == [8, 8, 10]
    # the same quantities by hand, with torch's own autograd
    Xt = torch.tensor(X, requires_grad=False)
    z1 = model[0](Xt)
    z1.retain_grad()
    a1 = torch.relu(z1)
    z2 = model[2](a1)
    z2.retain_grad()
    z3 = model[5](torch.relu(z2).flatten(1))
    z3.retain_grad()
    torch.nn.functional.cross_entropy(z3, torch.tensor(y)).backward()
    for row, z in zip(df.itertuples(), (z1, z2, z3), strict=True):
        np.testing.assert_allclose(row.z_var, z.detach().numpy().var(), rtol=1e-12)
        np.testing.assert_allclose(row.grad_var, (z.grad.numpy() * 128).var(), rtol=1e-12)
    dead = (z1.detach().numpy() <= 0).all(axis=(0, 2, 3)).mean()
    assert df["dead"].iloc[0] == dead >= 1 / 8
    np.testing.assert_allclose(df["a_var"].iloc[1], torch.relu(z2).detach().numpy().var())
    np.testing.assert_allclose(df["dW_var"].iloc[0], model[0].weight.grad.numpy().var())


@pytest.mark.parametrize(
    "name", ["lecun_normal", "lecun_uniform", "xavier_normal", "xavier_uniform", "he_normal",
             "he_uniform", "random"],
)  # fmt: skip
def test_init_draws_the_numpy_initializers_distribution(name):
    # KS test against an independent NumPy draw of the same initializer (and a wrong one)
    layer = nn.Linear(300, 200).double()
    itorch.init_(layer, name, seed=1)
    ours = layer.weight.detach().numpy().ravel()
    ref = initializers.get(name)(np.random.default_rng(2), (300, 200)).ravel()
    assert stats.ks_2samp(ours, ref).pvalue > 1e-3
    wrong = initializers.get("lecun_normal" if "he" in name else "he_normal")
    assert stats.ks_2samp(ours, wrong(np.random.default_rng(2), (300, 200)).ravel()).pvalue < 1e-6
    assert (layer.bias.detach().numpy() == 0).all()


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("xavier_normal", lambda w: nn.init.xavier_normal_(w)),
        ("xavier_uniform", lambda w: nn.init.xavier_uniform_(w)),
        ("he_normal", lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
        ("he_uniform", lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")),
    ],
)
def test_init_of_a_convolution_uses_torch_fans(name, reference):
    conv = nn.Conv2d(16, 32, 5).double()
    itorch.init_(conv, name, seed=3)
    ours = conv.weight.detach().numpy().ravel()
    torch.manual_seed(4)
    theirs = torch.empty_like(conv.weight)
    reference(theirs)
    assert stats.ks_2samp(ours, theirs.numpy().ravel()).pvalue > 1e-3
    assert ours.var() == pytest.approx(theirs.var().item(), rel=0.05)


def test_init_critical_reads_the_activation_and_refuses_a_jump():
    model = mlp((64, *(128,) * 4, 10), "tanh")
    itorch.init_(model, "critical", sigma_b2=0.05, seed=0)
    sw = meanfield.critical_sigma_w2("tanh", 0.05)
    for layer in itorch.layers(model):
        w = layer.weight.detach().numpy()
        assert w.var() * w.shape[1] == pytest.approx(sw, rel=0.06)
        assert layer.bias.detach().numpy().var() == pytest.approx(0.05, rel=0.6)
    with pytest.raises(meanfield.NoEdgeOfChaos, match="jumps across 1"):
        itorch.init_(mlp((8, 8, 2), "gelu"), "critical")
    mixed = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(
        ValueError, match=r"activation modules found: relu, tanh\); pass activation="
    ):
        itorch.init_(mixed, "critical")
    itorch.init_(mixed, "critical", activation="relu")
    assert mixed[0].weight.detach().numpy().var() * 4 == pytest.approx(2.0, rel=0.9)


def test_init_lsuv_gives_unit_variance_on_the_data():
    d = datasets.load("digits")
    model = mlp((64, *(64,) * 6, 10), "tanh")
    itorch.init_(model, "lsuv", X=d.X_train, seed=0)
    seen = []
    hooks = [m.register_forward_hook(lambda m, a, o: seen.append(o)) for m in itorch.layers(model)]
    with torch.no_grad():
        model(torch.tensor(d.X_train[:1024]))
    for h in hooks:
        h.remove()
    assert all(abs(z.var(unbiased=False).item() - 1) <= 0.1 for z in seen)
    with pytest.raises(ValueError, match="needs data: pass X"):
        itorch.init_(model, "lsuv")


def test_functional_activation_needs_naming():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 2)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    model = Functional().double()
    X = diagnostics.gaussian_inputs(32, 8, 0)
    df = itorch.diagnose(model, X, activation="relu")
    z = model.a(torch.tensor(X)).detach().numpy()
    assert df["a_var"].iloc[0] == pytest.approx(np.maximum(z, 0).var(), rel=1e-12)
    assert df["dead"].notna().iloc[0]
    with pytest.raises(ValueError, match="no nn.Linear or nn.Conv"):
        itorch.diagnose(nn.Sequential(nn.ReLU()), X)


MODELS = """
import torch
from torch import nn


def mlp():
    return nn.Sequential(
        nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 10)
    ).double()


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 64, 10)
    ).double()
"""


def test_cli_diagnose_torch_model(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(MODELS)
    res = runner.invoke(
        app, ["diagnose", "--torch", f"{path}:mlp", "--samples", "64", "-o", str(tmp_path)]
    )
    assert res.exit_code == 0, res.output
    assert "grad_var" in res.output and "saturated" in res.output
    assert (tmp_path / "propagation.csv").exists() and (tmp_path / "propagation.png").exists()
    res = runner.invoke(
        app,
        ["diagnose", "--torch", f"{path}:cnn", "--input-shape", "1,8,8", "-d", "digits"]
        + ["--init", "he_normal", "-o", str(tmp_path)],
    )
    assert res.exit_code == 0, res.output
    assert "he_normal" in res.output and "dead" in res.output
    bad = runner.invoke(app, ["diagnose", "--torch", f"{path}:cnn", "-o", str(tmp_path)])
    assert bad.exit_code == 2 and "input shape" in " ".join(bad.output.split())
    bad = runner.invoke(app, ["diagnose", "--torch", f"{path}:nope", "-o", str(tmp_path)])
    assert bad.exit_code == 2 and "has no 'nope'" in " ".join(bad.output.split())

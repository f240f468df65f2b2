"""Cross-checks against PyTorch (skipped cleanly where torch is not installed)."""

import math

import numpy as np
import pytest

from initlab import activations, engine, initializers, optim

torch = pytest.importorskip("torch")
F = torch.nn.functional

TORCH_ACTS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.1),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,  # erf form by default
    "silu": F.silu,
    "softplus": lambda z: F.softplus(z, threshold=1000.0),  # torch is linear past 20 by default
    "mish": F.mish,
    "linear": lambda z: z,
}


@pytest.mark.parametrize("name", activations.names())
def test_activation_and_gradient_match_torch(name):
    z = np.linspace(-30, 30, 601)
    zt = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    out = TORCH_ACTS[name](zt)
    out.sum().backward()
    act = activations.get(name)
    np.testing.assert_allclose(act(z), out.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.grad(z), zt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "name, gain_name, param",
    [
        ("tanh", "tanh", None),
        ("relu", "relu", None),
        ("leaky_relu", "leaky_relu", 0.1),
        ("selu", "selu", None),
        ("sigmoid", "sigmoid", None),
        ("linear", "linear", None),
    ],
)
def test_gain_matches_calculate_gain(name, gain_name, param):
    assert activations.get(name).gain == pytest.approx(
        torch.nn.init.calculate_gain(gain_name, param), rel=1e-12
    )


def _torch_init(name, shape_out_in):
    w = torch.empty(*shape_out_in, dtype=torch.float64)
    torch.manual_seed(0)
    {
        "xavier_normal": torch.nn.init.xavier_normal_,
        "xavier_uniform": torch.nn.init.xavier_uniform_,
        "he_normal": lambda t: torch.nn.init.kaiming_normal_(t, nonlinearity="relu"),
        "he_uniform": lambda t: torch.nn.init.kaiming_uniform_(t, nonlinearity="relu"),
        "orthogonal": torch.nn.init.orthogonal_,
    }[name](w)
    return w.numpy().T  # torch weights are (out, in); ours (in, out)


@pytest.mark.parametrize(
    "name", ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform", "orthogonal"]
)
def test_initializer_statistics_match_torch(name):
    fan_in, fan_out = 400, 250
    ours = initializers.get(name)(np.random.default_rng(0), (fan_in, fan_out))
    theirs = _torch_init(name, (fan_out, fan_in))
    assert ours.var() == pytest.approx(theirs.var(), rel=0.03)
    assert abs(ours.mean()) < 3 * math.sqrt(theirs.var() / ours.size)
    assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.25)


def _torch_optimizer(name, params, lr):
    o = torch.optim
    return {
        "gd": lambda: o.SGD(params, lr=lr),
        "momentum": lambda: o.SGD(params, lr=lr, momentum=0.9),
        "nag": lambda: o.SGD(params, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: o.Adagrad(params, lr=lr, eps=1e-10),
        "rmsprop": lambda: o.RMSprop(params, lr=lr, alpha=0.9, eps=1e-8),
        "adam": lambda: o.Adam(params, lr=lr),
        "adamw": lambda: o.AdamW(params, lr=lr, weight_decay=0.01),
    }[name]()


@pytest.mark.parametrize("name", ["gd", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw"])
def test_training_trajectory_matches_torch_optim(name):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3))
    y = rng.integers(0, 3, 64)
    pop = engine.Population((3, 8, 6, 3), "tanh")
    params = engine.init_params(pop, 1, "xavier_normal", "normal")
    lr = 0.05
    res = engine.train(pop, params, optim.build(name, lr), X, y, 25)

    layers = [torch.nn.Linear(a, b, dtype=torch.float64) for a, b in [(3, 8), (8, 6), (6, 3)]]
    with torch.no_grad():
        for i, layer in enumerate(layers):
            layer.weight.copy_(torch.tensor(params[2 * i][0].T))
            layer.bias.copy_(torch.tensor(params[2 * i + 1][0]))
    tparams = [p for layer in layers for p in layer.parameters()]
    opt = _torch_optimizer(name, tparams, lr)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        h = Xt
        for i, layer in enumerate(layers):
            h = layer(h)
            if i < 2:
                h = torch.tanh(h)
        loss = F.cross_entropy(h, yt)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    np.testing.assert_allclose(res.history["train_loss"][:25, 0], losses, rtol=1e-10)
    for i, layer in enumerate(layers):
        np.testing.assert_allclose(
            res.params[2 * i][0], layer.weight.detach().numpy().T, rtol=1e-9, atol=1e-12
        )

"""Optimizers: convergence on a quadratic, per-model hyperparameters, registry and checks."""

import numpy as np
import pytest

from initlab import optim

SETTINGS = {
    "gd": 0.1,
    "minibatch": 0.1,
    "momentum": 0.05,
    "nag": 0.05,
    "adagrad": 0.5,
    "rmsprop": 0.02,
    "adam": 0.05,
    "adamw": 0.05,
}


def test_every_optimizer_has_a_setting():
    assert set(SETTINGS) == set(optim.names())


@pytest.mark.parametrize("name", optim.names())
def test_converges_on_an_ill_conditioned_quadratic(name):
    # f(p) = 1/2 sum(a * (p - c)^2), minimum at c
    a = np.array([[1.0, 10.0]])
    c = np.array([[3.0, -2.0]])
    params = [np.zeros((1, 2))]
    hyper = {"weight_decay": 0.0} if name == "adamw" else {}
    opt = optim.build(name, SETTINGS[name], **hyper)
    state = opt.init(params)
    for _ in range(2000):
        grads = [a * (params[0] - c)]
        updates, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, updates)
    np.testing.assert_allclose(params[0], c, atol=2e-2)


def test_adamw_decays_towards_zero_without_gradient():
    params = [np.ones((1, 3))]
    opt = optim.build("adamw", 0.1, weight_decay=0.5)
    state = opt.init(params)
    updates, state = opt.update([np.zeros((1, 3))], state, params)
    np.testing.assert_allclose(updates[0], -0.1 * 0.5 * np.ones((1, 3)))


@pytest.mark.parametrize("name", optim.names())
def test_per_model_hyperparameters_equal_separate_runs(name):
    rng = np.random.default_rng(0)
    lrs = np.array([0.01, 0.05, 0.1])
    params = [rng.standard_normal((3, 2, 4)), rng.standard_normal((3, 4))]
    grads_seq = [[rng.standard_normal(p.shape) for p in params] for _ in range(5)]
    opt = optim.build(name, lrs)
    state = opt.init(params)
    p_pop = [p.copy() for p in params]
    for grads in grads_seq:
        ups, state = opt.update(grads, state, p_pop)
        p_pop = optim.apply_updates(p_pop, ups)
    for m, lr in enumerate(lrs):
        single = [p[m : m + 1].copy() for p in params]
        opt1 = optim.build(name, lr)
        st = opt1.init(single)
        for grads in grads_seq:
            ups, st = opt1.update([g[m : m + 1] for g in grads], st, single)
            single = optim.apply_updates(single, ups)
        for a, b in zip(p_pop, single, strict=True):
            np.testing.assert_array_equal(a[m : m + 1], b)


def test_state_is_explicit_and_not_mutated():
    params = [np.ones((1, 2))]
    opt = optim.build("adam", 0.1)
    s0 = opt.init(params)
    _, s1 = opt.update([np.ones((1, 2))], s0, params)
    assert s0.count == 0 and s1.count == 1
    assert not s0.mu[0].any()


def test_blog_names_and_hyperparameter_mapping():
    assert optim.get("AdaGrad").name == "adagrad"
    assert optim.get("RMSProp").name == "rmsprop"
    assert optim.get("MiniBatch").default_batch_size == 100
    assert optim.get("NAG").name == "nag"
    assert optim.translate_blog_hyperparameters({"eta": 1, "gamma": 0.9, "beta": 0.9}) == {
        "learning_rate": 1,
        "momentum": 0.9,
        "rho": 0.9,
    }


def test_bad_hyperparameters_are_named():
    with pytest.raises(ValueError, match=r"learning_rate must be a finite number > 0, got -0.1"):
        optim.build("gd", -0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        optim.build("gd", 0.0)
    with pytest.raises(ValueError, match=r"momentum must be a finite number in \[0, 1\), got 1.5"):
        optim.build("momentum", 0.1, momentum=1.5)
    with pytest.raises(ValueError, match="the blog's 'gamma' is 'momentum' here"):
        optim.build("momentum", 0.1, gamma=0.9)
    with pytest.raises(ValueError, match="unknown optimizer 'adan'; did you mean 'adam'"):
        optim.get("adan")

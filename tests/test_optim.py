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
    "lion": 0.005,
}


def test_every_optimizer_has_a_setting():
    assert set(SETTINGS) == set(optim.names())


@pytest.mark.parametrize("name", optim.names())
def test_converges_on_an_ill_conditioned_quadratic(name):
    # f(p) = 1/2 sum(a * (p - c)^2), minimum at c
    a = np.array([[1.0, 10.0]])
    c = np.array([[3.0, -2.0]])
    params = [np.zeros((1, 2))]
    hyper = {"weight_decay": 0.0} if name in ("adamw", "lion") else {}
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


# --- the composed optimizers are today's formulas, to the bit ---------------------------------
def _reference(name, lr, hyper):
    """The update rules as written before optimizers were chains, one expression each."""
    h = {**optim.get(name).defaults, **hyper}

    def b(v, p):  # a scalar or per-model (M,) hyperparameter, broadcast over p
        v = np.asarray(v, dtype=p.dtype)
        return v if v.ndim == 0 else v.reshape((-1,) + (1,) * (p.ndim - 1))

    state = {"t": 0}

    def step(grads, params):
        if "s" not in state:
            state["s"] = [np.zeros_like(p) for p in params]
            state["m"] = [np.zeros_like(p) for p in params]
        state["t"] += 1
        t, out = state["t"], []
        for i, (g, p) in enumerate(zip(grads, params, strict=True)):
            s, m = state["s"][i], state["m"][i]
            if name in ("gd", "minibatch"):
                u = -b(lr, g) * g
            elif name in ("momentum", "nag"):
                s = b(h["momentum"], g) * s + g
                u = (
                    -b(lr, g) * s
                    if name == "momentum"
                    else -b(lr, g) * (g + b(h["momentum"], g) * s)
                )
            elif name == "adagrad":
                s = s + g * g
                u = -b(lr, g) * g / (np.sqrt(s) + b(h["eps"], g))
            elif name == "rmsprop":
                s = b(h["rho"], g) * s + (1 - b(h["rho"], g)) * (g * g)
                u = -b(lr, g) * g / (np.sqrt(s) + b(h["eps"], g))
            else:  # adam, adamw
                b1, b2 = b(h["beta1"], g), b(h["beta2"], g)
                m = b1 * m + (1 - b1) * g
                s = b2 * s + (1 - b2) * (g * g)
                u = -b(lr, g) * ((m / (1 - b1**t)) / (np.sqrt(s / (1 - b2**t)) + b(h["eps"], g)))
                if name == "adamw":
                    u = u - b(lr, g) * b(h["weight_decay"], g) * p
            state["s"][i], state["m"][i] = s, m
            out.append(u)
        return out

    return step


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "name", ["gd", "minibatch", "momentum", "nag", "adagrad", "rmsprop", "adam", "adamw"]
)
def test_chains_are_bit_identical_to_the_textbook_expressions(name, dtype):
    rng = np.random.default_rng(1)
    lrs = np.array([0.01, 0.05, 0.3])
    hyper = {"weight_decay": np.array([0.0, 0.01, 0.1])} if name == "adamw" else {}
    params = [
        rng.standard_normal((3, 4, 5)).astype(dtype),
        rng.standard_normal((3, 5)).astype(dtype),
    ]
    opt, ref = optim.build(name, lrs, **hyper), _reference(name, lrs, hyper)
    state, p_ref = opt.init(params), [p.copy() for p in params]
    for _ in range(30):
        grads = [rng.standard_normal(p.shape).astype(dtype) for p in params]
        ups, state = opt.update(grads, state, params)
        expected = ref(grads, p_ref)
        for u, e in zip(ups, expected, strict=True):
            assert u.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(u, e)
        params = optim.apply_updates(params, ups)
        p_ref = optim.apply_updates(p_ref, expected)


def test_lion_matches_the_papers_program():
    # Chen et al. (2023), Program 1, written out for one step at a time
    def lion_step(p, g, m, lr, beta1, beta2, wd):
        update = np.sign(beta1 * m + (1 - beta1) * g)
        m = beta2 * m + (1 - beta2) * g
        return p - lr * (update + wd * p), m

    rng = np.random.default_rng(2)
    lrs, wds = np.array([1e-3, 3e-3]), np.array([0.0, 0.1])
    params = [rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4))]
    opt = optim.build("lion", lrs, weight_decay=wds, beta1=0.8)
    state = opt.init(params)
    ref = [p.copy() for p in params]
    moms = [np.zeros_like(p) for p in params]
    for _ in range(40):
        grads = [rng.standard_normal(p.shape) for p in params]
        ups, state = opt.update(grads, state, params)
        params = optim.apply_updates(params, ups)
        for i, g in enumerate(grads):
            shape = (-1,) + (1,) * (g.ndim - 1)
            ref[i], moms[i] = lion_step(
                ref[i], g, moms[i], lrs.reshape(shape), 0.8, 0.99, wds.reshape(shape)
            )
    for a, b in zip(params, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-15)
    # every coordinate moved by exactly lr per step (wd = 0 for model 0)
    assert np.allclose(np.abs(ups[0][0]), 1e-3)


def test_registry_reads_defaults_from_the_signature_and_chains_compose():
    spec = optim.get("adamw")
    assert dict(spec.defaults) == {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}
    assert spec.bounds["weight_decay"] == (0.0, np.inf, False)
    assert optim.get("lion").defaults["beta2"] == 0.99
    assert "weight_decay" in optim.hyperparameters()
    # a chain of transformations is an optimizer: SGD with momentum and decoupled decay
    opt = optim.chain(
        optim.scale_by_momentum(0.5),
        optim.add_decayed_weights(0.1),
        optim.scale_by_learning_rate(0.2),
    )
    p = [np.ones((1, 2))]
    state = opt.init(p)
    ups, state = opt.update([np.ones((1, 2))], state, p)
    np.testing.assert_allclose(ups[0], -0.2 * (1 + 0.1))
    ups, state = opt.update([np.ones((1, 2))], state, p)
    np.testing.assert_allclose(ups[0], -0.2 * (1.5 + 0.1))
    with pytest.raises(TypeError, match="need a default"):
        optim.OptimizerSpec("bad", lambda learning_rate, beta: optim.gd(learning_rate))


def test_a_learning_rate_folds_once():
    # a chain that already steps with a learning rate, scaled again, scales by both
    p, g = [np.ones((1, 2))], [np.ones((1, 2))]
    twice = optim.chain(optim.momentum(0.1), optim.scale_by_learning_rate(-0.5))
    ups, _ = twice.update(g, twice.init(p), p)
    np.testing.assert_allclose(ups[0], 0.1 * 0.5 * -1 * -1 * -1)  # -lr1 * -lr2 * g


def test_named_optimizers_carry_their_recipe_for_the_compiled_engine():
    assert optim.build("adamw", 0.1).recipe == (
        "adam",
        {"learning_rate": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
    )
    assert optim.build("adam", 0.1).recipe[1]["weight_decay"] == 0.0
    assert optim.rmsprop(0.2, rho=0.5).recipe == (
        "rmsprop",
        {"learning_rate": 0.2, "rho": 0.5, "eps": 1e-8},
    )
    assert optim.build("lion", 0.1).recipe is None  # the NumPy engine trains it
    custom = optim.chain(optim.scale_by_momentum(0.9), optim.scale_by_learning_rate(0.1))
    assert custom.recipe is None

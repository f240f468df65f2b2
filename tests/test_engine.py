"""The population engine: whole-network gradient checks, kernels, population == loop."""

import warnings

import numpy as np
import pytest
from conftest import numeric_grad

from initlab import activations, engine, losses, optim
from initlab.engine import Population, Trainer, init_params

ACTS = activations.names()


def _problem(rng, n=13, d=3, k=3):
    X = rng.standard_normal((n, d))
    y = np.arange(n) % k
    return X, y


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("hidden", [(), (4,), (5, 3), (3, 6, 4)])
def test_backprop_matches_central_differences(act, hidden, rng):
    X, y = _problem(rng)
    pop = Population((3, *hidden, 3), act, "cross_entropy", n_models=2)
    params = init_params(pop, [1, 2], "xavier_normal", "normal")
    pen = dict(l1=np.array([0.0, 0.01]), l2=np.array([0.05, 0.0])) if len(hidden) == 1 else {}
    loss, grads = pop.loss_and_grads(params, X, y, **pen)
    for k in range(len(params)):
        for m in range(2):

            def f(pm, k=k, m=m):
                ps = [q.copy() for q in params]
                ps[k][m] = pm
                return pop.loss_and_grads(ps, X, y, **pen)[0][m]

            num = numeric_grad(f, params[k][m])
            np.testing.assert_allclose(grads[k][m], num, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("loss_name", losses.names())
def test_backprop_for_every_loss(loss_name, rng):
    X, _ = _problem(rng)
    y = np.arange(len(X)) % 2
    k = losses.get(loss_name).n_outputs(2)
    pop = Population((3, 4, 5, k), "tanh", loss_name, n_models=1)
    params = init_params(pop, 0, "xavier_normal", "normal")
    _, grads = pop.loss_and_grads(params, X, y)
    for i, p in enumerate(params):

        def f(pm, i=i):
            ps = [q.copy() for q in params]
            ps[i] = pm
            return pop.loss_and_grads(ps, X, y)[0][0]

        np.testing.assert_allclose(grads[i], numeric_grad(f, p), rtol=1e-5, atol=1e-9)


def test_small_and_blas_kernels_agree(rng, monkeypatch):
    X, y = _problem(rng, n=40, d=3)
    pop = Population((3, 4, 5, 3), "gelu", n_models=3)
    params = init_params(pop, [0, 1, 2], "he_normal", "normal")
    monkeypatch.setattr(engine, "SMALL_LAYER", 10**9)
    l1, g1 = pop.loss_and_grads(params, X, y)
    monkeypatch.setattr(engine, "SMALL_LAYER", 0)
    l2, g2 = pop.loss_and_grads(params, X, y)
    np.testing.assert_allclose(l1, l2, rtol=1e-13)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-15)


OPTS = optim.names()


def _compiled(name):
    recipe = optim.get(name).build(0.1).recipe
    return recipe is not None and recipe[0] in engine.FAST_PATH["optimizers"]


# every optimizer on NumPy and the fused passes; those with a compiled kernel on the kernels too
ENGINE_OPTS = (
    [(o, "numpy") for o in OPTS]
    + [(o, "numba") for o in OPTS if _compiled(o)]
    + [(o, "fused") for o in OPTS]
)


@pytest.mark.parametrize("opt_name, eng", ENGINE_OPTS)
@pytest.mark.parametrize("act", ["tanh", "relu", "leaky_relu", "sigmoid", "selu"])
def test_population_equals_loop(opt_name, act, eng, rng):
    if eng != "numpy":
        pytest.importorskip("numba")
    X, y = _problem(rng, n=60, d=2, k=4)
    Xv, yv = _problem(rng, n=20, d=2, k=4)
    seeds = [3, 4, 5]
    inits = ["xavier_normal", "he_uniform", "orthogonal"]
    lrs = np.array([0.05, 0.1, 0.02])
    slopes = np.array([0.1, 0.2, 0.01])
    batch = 16 if opt_name == "minibatch" else None
    hyper = {"weight_decay": np.array([0.0, 0.01, 0.1])} if opt_name == "adamw" else {}
    l1, l2 = np.array([0.0, 1e-3, 1e-2]), np.array([1e-2, 0.0, 1e-3])
    a = activations.get(act, slope=slopes) if act == "leaky_relu" else act
    pop = Population((2, 8, 5, 4), a, n_models=3)
    params = init_params(pop, seeds, inits, "normal")
    res = engine.train(
        pop,
        params,
        optim.build(opt_name, lrs, **hyper),
        X,
        y,
        15,
        X_val=Xv,
        y_val=yv,
        batch_size=batch,
        shuffle=True,
        shuffle_seed=9,
        l1=l1,
        l2=l2,
        engine=eng,
    )
    assert res.engine == eng
    for m in range(3):
        a1 = activations.get(act, slope=slopes[m]) if act == "leaky_relu" else act
        one = Population((2, 8, 5, 4), a1, n_models=1)
        p1 = init_params(one, seeds[m], inits[m], "normal")
        h1 = {k: v[m] for k, v in hyper.items()}
        r1 = engine.train(
            one,
            p1,
            optim.build(opt_name, lrs[m], **h1),
            X,
            y,
            15,
            X_val=Xv,
            y_val=yv,
            batch_size=batch,
            shuffle=True,
            shuffle_seed=9,
            l1=l1[m],
            l2=l2[m],
            engine=eng,
        )
        for pa, pb in zip(res.params, r1.params, strict=True):
            np.testing.assert_allclose(pa[m], pb[0], rtol=1e-12, atol=1e-13)
        for key in res.history:
            np.testing.assert_allclose(
                res.history[key][:, m], r1.history[key][:, 0], rtol=1e-12, atol=1e-13
            )


def test_full_batch_history_is_the_state_after_each_epoch(rng):
    X, y = _problem(rng, n=30, d=2, k=3)
    pop = Population((2, 6, 3), "tanh")
    params = init_params(pop, 0, "xavier_normal")
    res = engine.train(pop, params, optim.build("gd", 0.5), X, y, 5)
    assert res.history["train_loss"].shape == (6, 1)
    trainer = Trainer(pop, params, optim.build("gd", 0.5), X, y, record=False)
    for e in range(6):
        loss, _ = pop.loss_and_grads(trainer.params, X, y)
        assert loss[0] == pytest.approx(res.history["train_loss"][e, 0], rel=1e-13)
        trainer.step(1)


def test_divergence_is_flagged_and_isolated(rng):
    X, y = _problem(rng, n=50, d=2, k=3)
    X = X * 50
    pop = Population((2, 16, 3), "relu", n_models=3)
    params = init_params(pop, [0, 0, 0], "random")
    lrs = np.array([0.01, 1e200, 0.01])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing spills onto the user's terminal
        res = engine.train(pop, params, optim.build("gd", lrs), X, y, 30)
        ref = engine.train(
            Population((2, 16, 3), "relu"),
            [p[:1] for p in params],
            optim.build("gd", 0.01),
            X,
            y,
            30,
        )
    assert list(res.diverged) == [False, True, False]
    assert res.diverged_epoch[1] >= 1 and res.diverged_epoch[0] == -1
    np.testing.assert_allclose(res.params[0][0], ref.params[0][0], rtol=1e-12)
    np.testing.assert_allclose(res.params[0][2], ref.params[0][0], rtol=1e-12)


def test_initial_weights_depend_only_on_the_model_config():
    big = Population((2, 5, 3), "tanh", n_models=4)
    small = Population((2, 5, 3), "tanh", n_models=1)
    pb = init_params(big, [7, 8, 9, 10], ["he_normal", "random", "xavier_normal", "zeros"])
    ps = init_params(small, 9, "xavier_normal")
    for a, b in zip(pb, ps, strict=True):
        np.testing.assert_array_equal(a[2], b[0])


def test_blog_init_order_is_w1_b1_w2_b2():
    np.random.seed(0)
    expected = [
        np.random.randn(2, 2),
        np.random.randn(1, 2),
        np.random.randn(2, 4) * np.sqrt(1 / 2),
        np.random.randn(1, 4),
    ]
    expected[0] = expected[0] * np.sqrt(1 / 2)
    pop = Population((2, 2, 4), "sigmoid")
    params = init_params(pop, 0, "lecun_normal", "normal", rng_kind="legacy")
    np.random.seed(0)
    W1 = np.random.randn(2, 2) * np.sqrt(1 / 2)
    B1 = np.random.randn(1, 2)
    W2 = np.random.randn(2, 4) * np.sqrt(1 / 2)
    B2 = np.random.randn(1, 4)
    for got, want in zip(params, [W1, B1[0], W2, B2[0]], strict=True):
        np.testing.assert_array_equal(got[0], want)


def test_lsuv_reaches_unit_variance(rng):
    X = rng.standard_normal((500, 10))
    pop = Population((10, 64, 64, 64, 3), "relu", n_models=2)
    params = init_params(pop, [0, 1], "lsuv", X=X)
    for layer, z in enumerate(pop.trace(params, X)["z"]):
        for m in range(2):
            assert abs(z[m].var() - 1) < 0.1, (layer, m)


def test_float32_training_stays_float32(rng):
    X, y = _problem(rng, n=40, d=2, k=3)
    pop = Population((2, 8, 3), "tanh", dtype="float32")
    params = init_params(pop, 0, "xavier_normal")
    res = engine.train(pop, params, optim.build("adam", 0.01), X, y, 5)
    assert all(p.dtype == np.float32 for p in res.params)
    ref = engine.train(
        Population((2, 8, 3), "tanh"),
        init_params(Population((2, 8, 3), "tanh"), 0, "xavier_normal"),
        optim.build("adam", 0.01),
        X,
        y,
        5,
    )
    np.testing.assert_allclose(res.params[0], ref.params[0], rtol=1e-4, atol=1e-5)


def test_bad_population_arguments():
    with pytest.raises(ValueError, match="layer sizes"):
        Population((2, 0, 3), "relu")
    with pytest.raises(ValueError, match="dtype"):
        Population((2, 3), "relu", dtype="int32")
    with pytest.raises(ValueError, match="3 values for 2 models"):
        Population((2, 3, 2), activations.get("leaky_relu", slope=np.ones(3)), n_models=2)
    pop = Population((2, 3, 2), "relu")
    with pytest.raises(ValueError, match="expect 2 features"):
        pop.predict_proba(init_params(pop, 0), np.zeros((4, 5)))
    with pytest.raises(ValueError, match="lsuv' initializer needs data"):
        init_params(pop, 0, "lsuv")

"""The compiled engines (initlab.kernels, initlab.fused) against the NumPy reference engine.

Table-driven over every activation, loss and optimizer they compile: after
one epoch both engines agree to rounding (float64), the per-epoch history
too; a model's numbers do not depend on the population, the block or the
thread that trains it (bit for bit); the elementary functions are within 2
ulp of libm.
"""

import subprocess
import sys

import numpy as np
import pytest

from initlab import activations, engine, losses, optim
from initlab.engine import FAST_PATH, Population, Trainer, init_params
from initlab.errors import ConfigError

numba = pytest.importorskip("numba")
from initlab import fused, kernels  # noqa: E402

OPTS = optim.names()
# the named optimizers the kernels run (the others train with NumPy: engine_for)
COMPILED_OPTS = [
    n for n in OPTS if (optim.get(n).build(0.1).recipe or (None,))[0] in FAST_PATH["optimizers"]
]
ACTS = list(FAST_PATH["activations"])
LOSSES = list(FAST_PATH["losses"])
ULP = np.finfo(np.float64).eps


def _data(rng, n=60, d=2, k=4):
    X = rng.standard_normal((n, d))
    return X, np.arange(n) % k


def _pair(pop, params, opt, X, y, epochs, compiled="numba", **kw):
    """The same training by both engines: ``(numpy trainer, compiled trainer)`` after ``epochs``."""
    out = []
    for eng in ("numpy", compiled):
        tr = Trainer(pop, params, opt, X, y, engine=eng, **kw)
        assert tr.engine == eng
        tr.step(epochs)
        out.append(tr)
    return out


def _rel(a, b):
    return np.max(np.abs(a - b) / (np.abs(a) + 1e-12))


def test_the_fast_path_tables_match_the_registries():
    """The kernels compile what engine.FAST_PATH promises; the rest is NumPy's."""
    assert set(FAST_PATH["activations"]) <= set(activations.names())
    assert set(FAST_PATH["losses"]) <= set(losses.names())
    assert set(kernels.ACTIVATIONS) == set(FAST_PATH["activations"])
    assert set(kernels.LOSSES) == set(FAST_PATH["losses"])
    assert set(kernels.OPTIMIZERS) == set(FAST_PATH["optimizers"])
    compiled = set()
    for name in OPTS:  # a named optimizer either has a kernel recipe or trains on NumPy
        recipe = optim.get(name).build(0.1).recipe
        if recipe is not None and recipe[0] in FAST_PATH["optimizers"]:
            compiled.add(recipe[0])
    assert compiled == set(FAST_PATH["optimizers"])
    for name in set(losses.names()) - set(FAST_PATH["losses"]):
        assert engine.engine_for((2, 2, 4), "tanh", name, "gd") == "numpy"


@pytest.mark.parametrize("compiled", ["numba", "fused"])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("act", ACTS)
def test_every_activation_and_loss_matches_numpy(act, loss, compiled, rng):
    X, y = _data(rng)
    Xv, yv = _data(rng, n=20)
    if loss == "binary_cross_entropy":
        y, yv = y % 2, yv % 2
    k = losses.get(loss).n_outputs(2 if loss == "binary_cross_entropy" else 4)
    a = activations.get(act, slope=np.array([0.1, 0.2, 0.01])) if act == "leaky_relu" else act
    pop = Population((2, 6, 5, k), a, loss, n_models=3)
    params = init_params(pop, [3, 4, 5], ["xavier_normal", "he_uniform", "orthogonal"], "normal")
    kw = dict(X_val=Xv, y_val=yv, compiled=compiled)
    one = _pair(pop, params, optim.build("gd", np.array([0.05, 0.1, 0.02])), X, y, 1, **kw)
    for p, q in zip(one[0].params, one[1].params, strict=True):
        assert _rel(p, q) < 1e-13
    ten = _pair(pop, params, optim.build("gd", np.array([0.05, 0.1, 0.02])), X, y, 10, **kw)
    h0, h1 = ten[0].result().history, ten[1].result().history
    assert set(h0) == set(h1) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    for key in h0:
        np.testing.assert_allclose(h1[key], h0[key], rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize(
    "opt_name, batch, compiled",
    [(o, b, "numba") for o in COMPILED_OPTS for b in (None, 16)]
    + [(o, b, "fused") for o in OPTS for b in (None, 16)],  # the fused engine: every optimizer
)
def test_every_optimizer_matches_numpy_with_penalties(opt_name, batch, compiled, rng):
    X, y = _data(rng)
    pop = Population((2, 8, 4), "tanh", n_models=3)
    params = init_params(pop, [0, 1, 2], "xavier_normal", "normal")
    hyper = {"weight_decay": np.array([0.0, 0.01, 0.1])} if opt_name == "adamw" else {}
    opt = optim.build(opt_name, np.array([0.05, 0.1, 0.02]), **hyper)
    kw = dict(batch_size=batch, shuffle=True, shuffle_seed=3, l1=np.array([0, 1e-3, 1e-2]), l2=0.01)
    kw["compiled"] = compiled
    for epochs, tol in [(1, 1e-12), (15, 1e-10)]:
        ref, fast = _pair(pop, params, opt, X, y, epochs, **kw)
        for p, q in zip(ref.params, fast.params, strict=True):
            assert _rel(p, q) < tol, epochs


def test_pausing_and_resuming_is_the_same_training(rng):
    X, y = _data(rng)
    pop = Population((2, 5, 4), "relu", n_models=2)
    params = init_params(pop, [0, 1], "he_normal")
    opt = optim.build("adam", 0.01)
    at_once = Trainer(pop, params, opt, X, y, engine="numba", batch_size=25, shuffle=True)
    at_once.step(6)
    pieces = Trainer(pop, params, opt, X, y, engine="numba", batch_size=25, shuffle=True)
    for n in (1, 2, 3):
        pieces.step(n)
    for p, q in zip(at_once.params, pieces.params, strict=True):
        np.testing.assert_array_equal(p, q)
    for key, rows in at_once.result().history.items():
        np.testing.assert_array_equal(rows, pieces.result().history[key])


def test_a_models_numbers_do_not_depend_on_its_population_or_thread(rng):
    X, y = _data(rng, n=90)
    seeds = list(range(11))
    lrs = np.linspace(0.05, 0.5, 11)
    big = Population((2, 4, 4), "sigmoid", n_models=11)
    params = init_params(big, seeds, "xavier_normal", "normal")
    runs = []
    for threads in (1, 2):
        tr = Trainer(
            big, params, optim.build("momentum", lrs), X, y, engine="numba", threads=threads
        )
        tr.step(20)
        runs.append(tr.params)
    for p, q in zip(*runs, strict=True):
        np.testing.assert_array_equal(p, q)
    for m in (0, 6, 10):
        one = Population((2, 4, 4), "sigmoid")
        tr = Trainer(
            one,
            [p[m : m + 1] for p in params],
            optim.build("momentum", lrs[m]),
            X,
            y,
            engine="numba",
        )
        tr.step(20)
        for p, q in zip(runs[0], tr.params, strict=True):
            np.testing.assert_array_equal(p[m], q[0])


@pytest.mark.parametrize("compiled", ["numba", "fused"])
def test_float32_matches_numpy_float32(compiled, rng):
    X, y = _data(rng)
    pop = Population((2, 8, 4), "tanh", dtype="float32", n_models=2)
    params = init_params(pop, [0, 1], "xavier_normal", "normal")
    ref, fast = _pair(pop, params, optim.build("adam", 0.01), X, y, 5, compiled)
    for p, q in zip(ref.params, fast.params, strict=True):
        assert q.dtype == np.float32
        np.testing.assert_allclose(q, p, rtol=1e-4, atol=1e-5)


def test_a_gradient_step_is_the_penalized_gradient(rng):
    """One GD step of the kernels moves every parameter by -lr times the NumPy gradient
    of loss + penalty, and that gradient passes a central-difference check."""
    from conftest import numeric_grad

    X, y = _data(rng, n=30)
    pop = Population((2, 3, 4), "tanh", n_models=2)
    params = init_params(pop, [0, 1], "xavier_normal", "normal")
    l1, l2 = np.array([0.01, 0.0]), np.array([0.1, 0.3])
    _, grads = pop.loss_and_grads(params, X, y, l1=l1, l2=l2)
    for k, p in enumerate(params):
        for m in range(2):

            def f(pm, k=k, m=m):
                ps = [q.copy() for q in params]
                ps[k][m] = pm
                return pop.loss_and_grads(ps, X, y, l1=l1, l2=l2)[0][m]

            np.testing.assert_allclose(grads[k][m], numeric_grad(f, p[m]), rtol=1e-6, atol=1e-8)
    lr = 1e-3
    tr = Trainer(pop, params, optim.build("gd", lr), X, y, l1=l1, l2=l2, engine="numba")
    tr.step(1)
    for p0, p1, g in zip(params, tr.params, grads, strict=True):
        np.testing.assert_allclose((p0 - p1) / lr, g, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("eng", ["numpy", "numba"])
def test_penalties_are_not_part_of_the_reported_loss(eng, rng):
    X, y = _data(rng)
    pop = Population((2, 5, 4), "tanh")
    params = init_params(pop, 0, "xavier_normal")
    res = Trainer(pop, params, optim.build("gd", 0.1), X, y, l2=10.0, engine=eng).result()
    data_loss, _ = pop.loss_and_grads(params, X, y)
    assert res.history["train_loss"][0, 0] == pytest.approx(data_loss[0], rel=1e-13)


@pytest.mark.parametrize("eng", ["numpy", "numba"])
def test_bad_penalties_are_clear_errors(eng, rng):
    X, y = _data(rng)
    pop = Population((2, 5, 4), "tanh", n_models=2)
    params = init_params(pop, [0, 1], "xavier_normal")
    with pytest.raises(ValueError, match="l1 must be a finite number >= 0, got -0.1"):
        Trainer(pop, params, optim.build("gd", 0.1), X, y, l1=-0.1, engine=eng)
    with pytest.raises(ConfigError, match="l2 has 3 values for 2 models"):
        Trainer(pop, params, optim.build("gd", 0.1), X, y, l2=np.zeros(3), engine=eng)


# --- divergence -----------------------------------------------------------------------------
def _blow_up(eng, factor=engine.DIVERGENCE_FACTOR, batch=None):
    """Three copies of a ReLU net; the middle one with a learning rate that makes its loss
    explode (finite for a while: 1e12 and beyond) while the others train normally."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, 2)) * 3
    y = (X[:, 0] > 0).astype(int) + 2 * (X[:, 1] > 0)
    pop = Population((2, 8, 4), "linear", n_models=3)
    params = init_params(pop, [0, 0, 0], "xavier_normal")
    lrs = np.array([0.05, 40.0, 0.05])
    tr = Trainer(
        pop,
        params,
        optim.build("gd", lrs),
        X,
        y,
        divergence_factor=factor,
        engine=eng,
        batch_size=batch,
    )
    tr.step(12)
    return tr.result()


@pytest.mark.parametrize("batch", [None, 20])
def test_a_finite_but_exploding_loss_is_divergence(batch):
    results = {eng: _blow_up(eng, batch=batch) for eng in ("numpy", "numba")}
    for res in results.values():
        loss = res.history["train_loss"][:, 1]
        first = res.diverged_epoch[1]
        assert list(res.diverged) == [False, True, False]
        assert np.isfinite(loss[first]) or batch is not None  # caught before inf/NaN
        assert np.nanmax(loss[np.isfinite(loss)]) > engine.DIVERGENCE_FLOOR
    np.testing.assert_array_equal(results["numpy"].diverged_epoch, results["numba"].diverged_epoch)
    off = _blow_up("numba", factor=None, batch=batch)
    assert off.diverged_epoch[1] > results["numba"].diverged_epoch[1] or not off.diverged[1]


def test_the_divergence_limit_is_relative_to_the_initial_loss():
    """A network that starts with a huge loss (1.5e7, above the 1e4 floor) and keeps it has
    not diverged: the limit is 1e3 times its initial loss."""
    pop = Population((2, 3), "linear")
    params = [np.array([[[1e7, -1e7, 0.0], [0.0, 0.0, 0.0]]]), np.zeros((1, 3))]
    X = np.ones((4, 2))
    y = np.array([1, 1, 2, 2])  # the true logit is 2e7 or 1e7 below the max
    for eng in ("numpy", "numba"):
        res = Trainer(pop, params, optim.build("gd", 1e-9), X, y, engine=eng).result()
        assert res.history["train_loss"][0, 0] == pytest.approx(1.5e7, rel=1e-6)
        assert not res.diverged[0]
    with pytest.raises(ValueError, match="divergence_factor must be a finite number >= 1"):
        Trainer(pop, params, optim.build("gd", 0.1), X, y, divergence_factor=0.5)


def test_the_fused_engine_trains_a_model_as_if_alone(rng):
    """Bit for bit: a model's numbers do not depend on the other models of its population."""
    X, y = _data(rng, n=90)
    lrs = np.linspace(0.05, 0.5, 5)
    sizes = (2, 12, 12, 4)
    big = Population(sizes, "tanh", n_models=5)
    params = init_params(big, list(range(5)), "xavier_normal", "normal")
    tr = Trainer(big, params, optim.build("momentum", lrs), X, y, engine="fused")
    tr.step(20)
    for m in (0, 3):
        one = Trainer(
            Population(sizes, "tanh"), [p[m : m + 1] for p in params],
            optim.build("momentum", lrs[m]), X, y, engine="fused",
        )  # fmt: skip
        one.step(20)
        for p, q in zip(tr.params, one.params, strict=True):
            np.testing.assert_array_equal(p[m], q[0])
        for key, rows in tr.result().history.items():
            np.testing.assert_array_equal(rows[:, m], one.result().history[key][:, 0])


def test_the_fused_engine_agrees_on_a_deep_network_and_flags_divergence(rng):
    """24 tanh layers (the deep preset's shape) agree after 5 epochs, to 1e-12 of each
    parameter array's scale (the first layer's updates are ~1e-5 of its weights, and
    rounding differences grow through the depth: 5e-12 relative, element by element); a
    24-layer ReLU net from N(0, 1) weights diverges at the same epoch on both engines."""
    X, y = _data(rng, n=80, k=2)
    sizes = (2,) + (16,) * 24 + (2,)
    tanh = Population(sizes, "tanh", n_models=2)
    params = init_params(tanh, [0, 1], "xavier_normal")
    ref, fast = _pair(tanh, params, optim.build("momentum", 0.05), X, y, 5, "fused")
    for p, q in zip(ref.params, fast.params, strict=True):
        assert np.max(np.abs(p - q)) < 1e-12 * np.max(np.abs(p))
    relu = Population(sizes, "relu", n_models=2)
    params = init_params(relu, [0, 1], "normal")
    ref, fast = _pair(relu, params, optim.build("momentum", 0.05), X, y, 3, "fused")
    np.testing.assert_array_equal(ref.result().diverged_epoch, fast.result().diverged_epoch)
    assert np.all(fast.result().diverged_epoch >= 0)


# --- choosing the engine --------------------------------------------------------------------
def test_auto_picks_the_kernels_for_small_networks_and_fused_passes_for_wide_ones(monkeypatch):
    monkeypatch.delenv("INITLAB_ENGINE", raising=False)
    opt = optim.build("gd", 0.1)
    wide = Population((2, 64, 64, 4), "tanh")
    assert engine.choose_engine(Population((2, 2, 4), "tanh"), opt) == "numba"
    assert engine.choose_engine(wide, opt) == "fused"
    assert engine.choose_engine(wide, opt, sample_epochs=50 * 750) == "fused"  # W2's runs
    assert engine.choose_engine(wide, opt, sample_epochs=2 * 750) == "numpy"  # too short
    smallest = Population((2, 40, 2), "tanh")  # 160 weights: the kernels'
    assert engine.choose_engine(smallest, opt, sample_epochs=50 * 750) == "numpy"
    assert engine.choose_engine(Population((2, 41, 2), "tanh"), opt, sample_epochs=97_000) == (
        "numpy"
    )  # 164 weights x 97,000 sample-epochs: below FUSED_MIN_WORK
    assert engine.choose_engine(smallest, opt, sample_epochs=10**5) == "numba"
    custom = optim.GradientTransformation(opt.init, opt.update)  # no recipe
    assert engine.choose_engine(Population((2, 2, 4), "tanh"), custom) == "numpy"
    assert engine.choose_engine(wide, custom) == "fused"  # the optimizer stays NumPy's
    with pytest.raises(ConfigError, match="it has no recipe"):
        engine.choose_engine(Population((2, 2, 4), "tanh"), custom, "numba")
    with pytest.raises(
        ConfigError, match="engine must be one of auto, numpy, numba, fused, got 'jax'"
    ):
        engine.choose_engine(Population((2, 2, 4), "tanh"), opt, "jax")


def test_the_fused_engine_refuses_labels_outside_its_outputs(rng):
    X, _ = _data(rng)
    pop = Population((2, 16, 16, 4), "tanh")
    params = init_params(pop, 0, "xavier_normal")
    with pytest.raises(ValueError, match=r"labels must be 0..3 for 4 outputs, got 0..4"):
        Trainer(pop, params, optim.build("gd", 0.1), X, np.arange(60) % 5, engine="fused")


def test_the_fused_engine_names_what_it_cannot_train(monkeypatch):
    monkeypatch.setattr(engine, "FAST_PATH", {**FAST_PATH, "activations": ("relu",)})
    with pytest.raises(ConfigError, match="engine 'fused' cannot train.*'tanh' has no compiled"):
        engine.choose_engine(Population((2, 64, 4), "tanh"), optim.build("gd", 0.1), "fused")
    auto = engine.choose_engine(Population((2, 64, 4), "tanh"), optim.build("gd", 0.1))
    assert auto == "numpy"


def test_the_environment_turns_the_kernels_off(monkeypatch, rng):
    X, y = _data(rng)
    pop = Population((2, 2, 4), "tanh")
    params = init_params(pop, 0, "xavier_normal")
    monkeypatch.setenv("INITLAB_ENGINE", "numpy")
    tr = Trainer(pop, params, optim.build("gd", 0.1), X, y)
    assert tr.engine == "numpy" and tr.result().engine == "numpy"
    assert Trainer(pop, params, optim.build("gd", 0.1), X, y, engine="numba").engine == "numba"
    monkeypatch.setenv("INITLAB_ENGINE", "fast")
    with pytest.raises(ConfigError, match="INITLAB_ENGINE must be one of auto, numpy, numba"):
        Trainer(pop, params, optim.build("gd", 0.1), X, y)


def test_importing_initlab_does_not_import_numba():
    code = (
        "import sys, initlab, initlab.engine, initlab.sweep, initlab.study\n"
        "assert 'numba' not in sys.modules, 'numba imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- elementary functions -------------------------------------------------------------------
@numba.njit(error_model="numpy")
def _apply(which, x, out):
    for i in range(x.shape[0]):
        if which == 0:
            out[i] = kernels._exp(x[i])
        elif which == 1:
            out[i] = kernels._expm1(x[i])
        elif which == 2:
            out[i] = kernels._log(x[i])
        elif which == 3:
            out[i] = kernels._tanh(x[i])
        else:
            out[i] = fused._tanh_fd(x[i])[0]


@pytest.mark.parametrize(
    "which, ref, domain",
    [(0, np.exp, (-745, 709)), (1, np.expm1, (-60, 0)), (2, np.log, None), (3, np.tanh, (-30, 30)),
     (4, np.tanh, (-30, 30))],
)  # fmt: skip
def test_elementary_functions_are_within_two_ulp(which, ref, domain, rng):
    if domain is None:
        x = np.concatenate([10.0 ** rng.uniform(-310, 308, 20000), rng.uniform(0.5, 2, 5000)])
    else:
        lo, hi = domain
        x = np.concatenate([rng.uniform(lo, hi, 20000), rng.uniform(-1e-3, 1e-3, 2000)])
        x = x[(x >= lo) & (x <= hi)]
    out = np.empty_like(x)
    _apply(which, x, out)
    want = ref(x)
    normal = np.abs(want) >= np.finfo(np.float64).tiny  # subnormals: within 2 of their ulps
    assert np.max(np.abs(out[normal] - want[normal]) / np.abs(want[normal])) <= 2 * ULP
    assert np.max(np.abs(out[~normal] - want[~normal]), initial=0) <= 2 * 5e-324
    special = np.array([np.nan, np.inf, -np.inf, 0.0, 710.0, -746.0, 1e300, -1e300])
    if which == 1:
        special = special[~(special > 0)]
    got = np.empty_like(special)
    _apply(which, special, got)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, ref(special))

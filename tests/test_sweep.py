"""initlab.sweep: grids equal the estimator, chunking and processes change nothing."""

import numpy as np
import pandas as pd
import pytest

import initlab
from initlab import activations, datasets, optim
from initlab.sweep import chunks, plan


@pytest.fixture(scope="module")
def moons():
    return datasets.load("moons", n_samples=200, noise=0.2, random_state=0)


@pytest.mark.parametrize("act", activations.names())
def test_sweep_run_equals_ffnetwork_for_every_activation(moons, act):
    slope = {"leaky_slope": 0.2} if act == "leaky_relu" else {}  # only leaky_relu has one
    runs = initlab.sweep(
        moons,
        (5, 4),
        [act],
        ["xavier", "he"],
        ["adam"],
        [0.01],
        seeds=[1, 2],
        epochs=15,
        **slope,
    )
    for _, row in runs.iterrows():
        net = initlab.FFNetwork(
            (5, 4),
            activation=act,
            init=row.init,
            optimizer="adam",
            learning_rate=0.01,
            epochs=15,
            random_state=int(row.seed),
            **slope,
        ).fit(moons.X_train, moons.y_train)
        assert row.train_loss == pytest.approx(net.history_["train_loss"][-1], rel=1e-12)
        assert row.val_acc == pytest.approx(net.score(moons.X_val, moons.y_val), abs=1e-12)


@pytest.mark.parametrize("opt", optim.names())
def test_sweep_run_equals_ffnetwork_for_every_optimizer(moons, opt):
    hyper = {"momentum": [0.5, 0.9]} if opt in ("momentum", "nag") else {}
    runs, curves = initlab.sweep(
        moons,
        (6,),
        ["tanh"],
        ["xavier"],
        [opt],
        [0.05, 0.1],
        seeds=[0],
        epochs=12,
        batch_size=None,
        curves=True,
        **hyper,
    )
    assert len(runs) == 2 * (2 if hyper else 1)
    for i, row in runs.iterrows():
        extra = {"momentum": row.momentum} if hyper else {}
        net = initlab.FFNetwork(
            (6,),
            activation="tanh",
            init="xavier",
            optimizer=opt,
            learning_rate=row.learning_rate,
            epochs=12,
            random_state=0,
            **extra,
        ).fit(moons.X_train, moons.y_train, moons.X_val, moons.y_val)
        c = curves[curves.run == i]
        np.testing.assert_allclose(c.train_loss, net.history_["train_loss"], rtol=1e-12)
        np.testing.assert_allclose(c.val_acc, net.history_["val_acc"], rtol=1e-12)


def test_chunking_and_processes_give_identical_numbers(moons):
    args = (
        moons,
        (4,),
        ["tanh", "relu"],
        ["xavier", "he", "random"],
        ["gd", "momentum"],
        [0.1, 0.3],
    )
    base = initlab.sweep(*args, seeds=range(3), epochs=10)
    small = initlab.sweep(*args, seeds=range(3), epochs=10, max_memory=80_000)
    procs = initlab.sweep(*args, seeds=range(3), epochs=10, n_jobs=2)
    cols = ["train_loss", "train_acc", "val_loss", "val_acc", "diverged_epoch"]
    pd.testing.assert_frame_equal(base[cols], small[cols])
    pd.testing.assert_frame_equal(base[cols], procs[cols])


def test_chunks_respect_the_memory_budget(moons):
    specs = plan((8,), ["tanh"], ["xavier"], ["gd"], [0.1], seeds=range(40), epochs=5)
    few = chunks(specs, moons, max_memory=10**9)
    many = chunks(specs, moons, max_memory=200_000)
    assert len(few) == 1 and len(many) > 1
    assert sum(len(c.specs) for c in many) == 40
    with pytest.raises(ValueError, match=r"too small for even one model.*minimum is \d+ bytes"):
        chunks(specs, moons, max_memory=1000)


def test_grid_is_factorial_and_hyperparameters_apply_where_they_exist():
    specs = plan(
        (4,),
        ["tanh", "leaky_relu"],
        ["xavier"],
        ["gd", "momentum", "adam"],
        [0.1],
        seeds=[0, 1],
        epochs=3,
        momentum=[0.5, 0.9],
        leaky_slope=[0.1, 0.2],
    )
    # per activation: tanh 1 slope, leaky 2 slopes; per optimizer: gd 1, momentum 2, adam 1
    assert len(specs) == (1 + 2) * (1 + 2 + 1) * 2
    assert {s.momentum for s in specs if s.optimizer == "adam"} == {None}  # adam has none
    assert {s.momentum for s in specs if s.optimizer == "momentum"} == {0.5, 0.9}
    assert all(s.beta1 == 0.9 for s in specs if s.optimizer == "adam")  # its default, filled
    assert all(s.leaky_slope is None for s in specs if s.activation == "tanh")


def test_names_are_canonical_so_hashes_are_stable():
    a = plan((4,), ["Tanh"], ["xavier"], ["GD"], [0.1], seeds=[0], epochs=3)[0]
    b = plan((4,), ["tanh"], ["xavier_normal"], ["gd"], [0.1], seeds=[0], epochs=3)[0]
    assert a == b and a.hash("d") == b.hash("d") and a.hash("d") != a.hash("other data")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activations": []}, "activations is empty"),
        ({"inits": ["he", "he"]}, "lists 'he_normal' twice"),
        ({"optimizers": ["adamm"]}, "did you mean 'adam'"),
        ({"seeds": [0, 1.5]}, r"seeds must be an integer in \[0, 2\*\*32\), got 1.5"),
        ({"seeds": ["a"]}, "seeds must be an integer"),
        ({"seeds": [2**32]}, r"seeds must be an integer in \[0, 2\*\*32\), got 4294967296"),
        ({"learning_rates": [-1]}, "learning_rates must be a finite number > 0, got -1"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
        ({"gamma": [0.9]}, "gamma applies to the optimizers momentum, nag; none of this run's"),
        ({"hidden_layer_sizes": (4, 0)}, "positive integers"),
    ],
)
def test_bad_grids_are_explained(kwargs, match):
    args = dict(
        hidden_layer_sizes=(4,),
        activations=["tanh"],
        inits=["xavier"],
        optimizers=["gd"],
        learning_rates=[0.1],
        seeds=[0],
        epochs=3,
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        plan(**args)


def test_blog_bias_recipe():
    specs = plan(
        (2,), ["tanh"], ["zeros", "he"], ["gd"], [1.0], seeds=[0], epochs=1, bias_init="blog"
    )
    assert {s.init: s.bias_init for s in specs} == {"zeros": "zeros", "he_normal": "normal"}


def test_sweep_reproduces_the_blog_grid():
    runs = initlab.sweep(
        "blog",
        (2,),
        ["sigmoid", "tanh", "leaky_relu"],
        ["zeros", "lecun_normal", "he"],
        ["gd"],
        [1.0],
        seeds=[0],
        epochs=50,
        bias_init="blog",
        rng_kind="legacy",
    )
    acc = runs.set_index(["activation", "init"]).val_acc
    assert acc["sigmoid", "zeros"] == pytest.approx(0.54)
    assert acc["tanh", "lecun_normal"] == pytest.approx(0.86)
    assert acc["leaky_relu", "he_normal"] == pytest.approx(0.92)


def test_float32_sweep(moons):
    r64 = initlab.sweep(moons, (8,), ["tanh"], ["xavier"], ["adam"], [0.01], seeds=[0], epochs=20)
    r32 = initlab.sweep(
        moons, (8,), ["tanh"], ["xavier"], ["adam"], [0.01], seeds=[0], epochs=20, dtype="float32"
    )
    assert r32.train_loss[0] == pytest.approx(r64.train_loss[0], rel=1e-4)


def test_progress_reports_model_epochs(moons):
    seen = []
    initlab.sweep(
        moons,
        (4,),
        ["tanh", "relu"],
        ["xavier"],
        ["gd"],
        [0.1],
        seeds=[0, 1],
        epochs=5,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[-1] == (20, 20)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

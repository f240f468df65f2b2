"""Regression as a capability of the library: loss, data sets, estimator, sweeps, studies."""

from __future__ import annotations

import numpy as np
import pytest

import initlab
from initlab import FFNetwork, FFRegressor, datasets, losses, runs
from initlab.engine import Population, init_params
from initlab.errors import ConfigError
from initlab.study import Study


def test_squared_error_value_and_gradient_by_central_differences():
    loss = losses.get("squared_error")
    rng = np.random.default_rng(0)
    z, y = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    assert loss.value(z, y) == pytest.approx(((z - y) ** 2).mean(axis=-1).mean())
    g = loss.grad(z, y)
    eps = 1e-6
    for i in range(7):
        for k in range(2):
            zp, zm = z.copy(), z.copy()
            zp[i, k] += eps
            zm[i, k] -= eps
            num = (loss.value(zp, y) - loss.value(zm, y)) / (2 * eps)
            assert g[i, k] == pytest.approx(num, rel=1e-6, abs=1e-9)


def test_whole_network_gradient_for_regression():
    pop = Population((2, 5, 4, 1), "tanh", "squared_error", n_models=2)
    params = init_params(pop, [0, 1], "xavier_normal", "normal")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(9, 2)), rng.normal(size=9)
    loss, grads = pop.loss_and_grads(params, X, y)
    eps = 1e-6
    for p, g in zip(params, grads, strict=True):
        flat, gflat = p.reshape(-1), g.reshape(-1)
        for j in range(0, flat.size, 3):
            old = flat[j]
            flat[j] = old + eps
            up = pop.loss_and_grads(params, X, y)[0]
            flat[j] = old - eps
            down = pop.loss_and_grads(params, X, y)[0]
            flat[j] = old
            model = j // (flat.size // 2)
            assert gflat[j] == pytest.approx((up - down)[model] / (2 * eps), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("name", ["plane", "multigauss"])
def test_tf_playgrounds_regression_sets(name):
    data = datasets.load(name, n_samples=400, noise=0.0)
    assert data.task == "regression" and data.n_classes == 0 and data.y_train.dtype == float
    assert len(data.y_train) == 300 and len(data.y_val) == 100
    assert datasets.load(name, n_samples=400).fingerprint == data.fingerprint  # seeded
    raw = datasets.load(name, n_samples=400, noise=0.0, standardize=False)
    x1, x2 = raw.X_train.T
    if name == "plane":
        np.testing.assert_allclose(raw.y_train, (x1 + x2) / 10)
    else:
        assert raw.y_train.min() >= -1 and raw.y_train.max() <= 1
        assert (raw.y_train > 0.5).any() and (raw.y_train < -0.5).any()


def test_the_regressor_learns_and_is_a_scikit_learn_estimator():
    from sklearn.utils.estimator_checks import check_estimator

    data = datasets.load("plane", noise=0.0)
    net = FFRegressor((8,), activation="tanh", epochs=200, random_state=0)
    net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    assert net.score(data.X_val, data.y_val) > 0.95  # R^2
    assert set(net.history_) == {"train_loss", "val_loss"}
    assert net.history_["val_loss"][-1] < 0.1 * net.history_["val_loss"][0]
    pred = net.predict(data.X_val)
    assert pred.shape == (len(data.X_val),)
    assert net.history_["val_loss"][-1] == pytest.approx(np.mean((pred - data.y_val) ** 2))
    results = check_estimator(FFRegressor(), on_fail=None)
    assert not [r["check_name"] for r in results if r["status"] == "failed"]


def test_losses_and_estimators_must_agree_on_the_task():
    X, y = np.eye(4), np.array([0.0, 1.0, 0.5, 2.0])
    with pytest.raises(ConfigError, match="FFRegressor is for regression: use FFNetwork"):
        FFRegressor(loss="cross_entropy").fit(X, y)
    with pytest.raises(ConfigError, match="use FFRegressor"):
        FFNetwork(loss="squared_error").fit(X, [0, 1, 0, 1])
    with pytest.raises(ConfigError, match="'plane' is a regression problem"):
        initlab.sweep("plane", (4,), ["tanh"], ["xavier"], ["adam"], [0.01], [0], 3,
                      loss="cross_entropy")  # fmt: skip
    with pytest.raises(ConfigError, match="is a classification problem"):
        initlab.sweep("moons", (4,), ["tanh"], ["xavier"], ["adam"], [0.01], [0], 3,
                      loss="squared_error")  # fmt: skip


def test_sweep_equals_the_regressor_and_a_study_ranks_by_val_loss(tmp_path):
    data = datasets.load("multigauss", n_samples=200)
    frame = initlab.sweep(data, (8,), ["tanh", "relu"], ["xavier", "he"], ["adam"], [0.02],
                          seeds=[0, 1], epochs=15)  # fmt: skip
    assert set(frame.loss) == {"squared_error"} and frame.val_acc.isna().all()
    for _, row in frame.iterrows():
        net = runs.RunSpec.from_row(row).network()
        assert isinstance(net, FFRegressor)
        net.fit(data.X_train, data.y_train, data.X_val, data.y_val)
        assert net.history_["val_loss"][-1] == pytest.approx(row.val_loss, rel=1e-12)
    s = Study(
        "reg",
        [{"name": "plane", "n_samples": 200}, {"name": "moons", "n_samples": 200}],
        hidden=[[6]],
        activations=["tanh"],
        inits=["xavier", "he"],
        epochs=5,
        seeds=2,
    )
    planned = {p.label: p for p in s.plan()}
    assert planned["plane(n_samples=200)"].specs[0].loss == "squared_error"
    assert planned["moons(n_samples=200)"].specs[0].loss == "cross_entropy"
    only = Study(
        "plane",
        [{"name": "plane", "n_samples": 200}],
        hidden=[[6]],
        activations=["tanh"],
        inits=["xavier", "he"],
        epochs=5,
        seeds=2,
    )
    only.run(tmp_path / "s.db")
    assert only.default_metric() == "val_loss"
    summary = only.summary()
    assert summary["best"].sum() == 1
    best = summary[summary.best].iloc[0]
    assert best["mean"] == summary["mean"].min()  # a loss: lower is better

"""The playground's curriculum features on the server: engineered input features,
regression, per-epoch layer statistics, the network view, weight editing,
divergence reports and lessons (the page itself: tests/test_web_browser.py)."""

from __future__ import annotations

import base64
import json
import sys
import warnings

import numpy as np
import pytest

from initlab import datasets
from initlab.errors import ConfigError
from initlab.web import config as wconfig
from initlab.web import netview
from initlab.web.config import LESSONS, parse_config
from initlab.web.session import Session

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SMALL = {"dataset": "moons", "n_samples": 200, "hidden": [4], "epochs": 60}
ALL = datasets.feature_names(2)


def _floats(b64: str, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.float32).reshape(shape)


def _bytes(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.uint8)


# ------------------------------------------------------------------------ features
def test_expand_features_match_their_formulas():
    X = np.random.default_rng(0).normal(size=(50, 2))
    F = datasets.expand_features(X, ALL)
    x1, x2 = X[:, 0], X[:, 1]
    expected = np.column_stack([x1, x2, x1**2, x2**2, x1 * x2, np.sin(x1), np.sin(x2)])
    np.testing.assert_array_equal(F, expected)
    assert ALL == ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    # spellings from the page's labels are accepted and canonicalised
    assert datasets.check_features(["x1²", "x1 · x2", "sin(x2)"], 2) == ("x1^2", "x1*x2", "sin(x2)")


@pytest.mark.parametrize(
    "bad, message",
    [(["x3"], "unknown feature 'x3'"), ([], "non-empty"), ("x1", "non-empty"),
     (["x1", "x1"], "twice"), (["cos(x1)"], "unknown feature")],
)  # fmt: skip
def test_bad_features_are_named(bad, message):
    with pytest.raises(ConfigError, match=message) as info:
        datasets.load("moons", features=bad)
    assert info.value.field == "features"


def test_load_with_features_is_the_transform_of_the_plain_set():
    plain = datasets.load("moons", noise=0.3)
    feats = datasets.load("moons", noise=0.3, features=["x1", "x1*x2", "sin(x2)"])
    assert feats.feature_names == ("x1", "x1*x2", "sin(x2)") and feats.input_names == ("x1", "x2")
    np.testing.assert_array_equal(
        feats.X_train, datasets.expand_features(plain.X_train, feats.options["features"])
    )
    np.testing.assert_array_equal(feats.y_train, plain.y_train)
    # new raw inputs: standardized with the training statistics, then expanded
    raw = datasets.load("moons", noise=0.3, standardize=False)
    np.testing.assert_allclose(feats.transform(raw.X_train), feats.X_train, atol=1e-12)
    # features are part of the identity; none keeps the old identity
    assert feats.id != plain.id and "features" not in plain.options
    again = datasets.load(feats.name, **feats.options)
    assert again.id == feats.id
    np.testing.assert_array_equal(again.X_val, feats.X_val)


def test_a_network_learns_a_circle_from_squares_without_hidden_layers():
    lesson = LESSONS["features-circle"]
    session = Session(parse_config({**lesson.settings, "epochs": 300}))
    assert session.data.feature_names == ("x1^2", "x2^2")
    assert session.groups[0].population.layer_sizes == (2, 2)
    session.advance(300)
    assert session.frame()["metrics"]["val_acc"][0] > 0.9
    plain = Session(parse_config({**lesson.settings, "features": ["x1", "x2"], "epochs": 300}))
    plain.advance(300)
    assert plain.frame()["metrics"]["val_acc"][0] < 0.75


def test_exported_study_reproduces_the_features():
    study_mod = pytest.importorskip("initlab.study")
    cfg = parse_config({**SMALL, "features": ["x1", "x2", "x1^2", "sin(x1)"], "l2": 0.01})
    study = study_mod.Study.from_dict(tomllib.loads(wconfig.export_toml(cfg)))
    [(data, specs, _)] = study.plan()
    session = Session(cfg)
    assert data.id == session.data.id
    np.testing.assert_array_equal(data.X_train, session.data.X_train)
    assert sorted(specs, key=repr) == sorted(session.specs(), key=repr)
    code = wconfig.export_python(cfg).replace("epochs=60", "epochs=3")
    ns: dict = {}
    exec(compile(code, "<export>", "exec"), ns)
    session.advance(3)
    np.testing.assert_allclose(
        ns["net"].history_["val_loss"][-1], session.frame()["metrics"]["val_loss"][0], rtol=1e-10
    )


def test_features_are_validated_by_the_config():
    with pytest.raises(ConfigError) as info:
        parse_config({"features": ["x1", "x7"]})
    assert info.value.field == "features"
    assert parse_config({"features": "x1,x1^2"}).features == ("x1", "x1^2")


# ------------------------------------------------------------------------ regression
def test_regression_sets_default_to_squared_error_and_refuse_a_classifier_loss():
    cfg = parse_config({"dataset": "multigauss"})
    assert cfg.task == "regression" and cfg.run["loss"] == "squared_error"
    assert parse_config({"dataset": "moons"}).run["loss"] == "cross_entropy"
    with pytest.raises(ConfigError, match="regression problem") as info:
        parse_config({"dataset": "plane", "loss": "cross_entropy"})
    assert info.value.field == "loss"
    with pytest.raises(ConfigError) as info:
        parse_config({"dataset": "moons", "loss": "squared_error"})
    assert info.value.field == "loss"
    o = wconfig.options()
    assert (
        o["dataset_tasks"]["plane"] == "regression"
        and o["dataset_tasks"]["xor"] == "classification"
    )
    assert {x["name"]: x["task"] for x in o["losses"]}["squared_error"] == "regression"


def test_regression_session_draws_the_predicted_value():
    cfg = parse_config({"dataset": "plane", "hidden": [], "optimizer": "gd",
                        "learning_rate": 0.1, "epochs": 200})  # fmt: skip
    s = Session(cfg)
    d = s.describe()
    assert d["task"] == "regression" and d["n_classes"] == 0 and d["value_scale"] > 0
    s.advance(200)
    f = s.frame()
    assert f["metrics"]["val_loss"][0] < 0.01 and f["metrics"]["val_acc"] == [None]
    g = d["grid"]
    b = _bytes(f["boundary"]).reshape(g, g)
    # y = (x1 + x2) / 10 in raw units: the plane rises to the upper right (row 0 is the top)
    assert b[0, -1] > 200 and b[-1, 0] < 56 and abs(int(b[0, 0]) - 128) < 20
    pred = s.groups[0].population.predict(s.groups[0].trainer.params, s.grid)[0, :, 0]
    expected = np.rint(128 + 127 * np.clip(pred / d["value_scale"], -1, 1))
    np.testing.assert_array_equal(b.ravel(), expected)
    code = wconfig.export_python(cfg)
    assert "initlab.FFRegressor(" in code and "R^2" in code


# ------------------------------------------------------------------------ statistics
def test_layer_statistics_are_recorded_every_epoch():
    s = Session(parse_config({**SMALL, "hidden": [5, 3]}))
    f0 = s.frame()
    assert f0["n_stats"] == 1
    s.advance(7)
    f = s.frame()
    assert f["from_epoch"] == 1 and f["n_stats"] == 7  # epochs 1..7, none skipped
    L, K, Q = 3, len(netview.KINDS), len(netview.QUANTILES) + 1
    stats = _floats(f["stats"], (7, L, K, Q))
    # the last epoch's numbers are those of the network as it is now
    grp = s.groups[0]
    X, y = s.data.X_train[s.stat_idx], s.data.y_train[s.stat_idx]
    tr = grp.population.trace(grp.trainer.params, X, y)
    for layer in range(L):
        W = grp.trainer.params[2 * layer][0]
        np.testing.assert_allclose(
            stats[-1, layer, 0, :5], np.percentile(W, netview.QUANTILES), rtol=1e-6
        )
        dW = tr["dW"][layer][0]
        np.testing.assert_allclose(stats[-1, layer, 3, 5], np.sqrt(np.mean(dW**2)), rtol=1e-6)
        z = tr["z"][layer][0]
        np.testing.assert_allclose(stats[-1, layer, 1, 2], np.median(z), rtol=1e-5, atol=1e-7)
    # every epoch differs from the previous one (no forward-filling)
    assert all(not np.array_equal(stats[e], stats[e + 1]) for e in range(6))
    assert np.all(np.diff(stats[..., :5], axis=-1) >= 0)  # quantiles are ordered


# ------------------------------------------------------------------------ network view
def test_diagram_pictures_are_each_units_output_on_the_plane():
    s = Session(parse_config({**SMALL, "hidden": [20, 3], "features": ["x1", "x2", "x1*x2"]}))
    s.advance(2)
    f = s.frame()
    layers = f["diagram"]["layers"]
    d = s.describe()
    G = d["unit_grid"] ** 2
    assert [(x["units"], x["shown"]) for x in layers] == [(3, 3), (20, 16), (3, 3), (2, 2)]
    grp = s.groups[0]
    tr = grp.population.trace(grp.trainer.params, s.unit_grid)
    for index, layer in enumerate(layers):
        pics = _bytes(layer["pictures"]).reshape(layer["shown"], G).astype(float)
        a = s.unit_grid if index == 0 else tr["a"][index - 1][0]
        expected = np.rint(128 + 127 * a[:, : layer["shown"]].T / layer["scale"])
        np.testing.assert_array_equal(pics, expected)
        assert np.isclose(layer["scale"], np.abs(a[:, : layer["shown"]]).max())
        if index:
            W = grp.trainer.params[2 * (index - 1)][0]
            prev = layers[index - 1]["shown"]
            np.testing.assert_allclose(layer["weights"], W[:prev, : layer["shown"]], atol=5e-5)
            assert np.shape(layer["grads"]) == (prev, layer["shown"])
            assert len(layer["unit_grad"]) == layer["shown"] and not any(layer["nan"])
    assert d["diagram_units"] == 16


def test_editing_a_weight_changes_the_network_and_its_metrics():
    s = Session(parse_config(SMALL))
    s.advance(3)
    before = s.frame(False)
    s.set_weight(1, 2, 4.5, source=1)
    s.set_weight(2, 0, -2.0)  # the output's first bias
    assert s.groups[0].trainer.params[0][0, 1, 2] == 4.5
    assert s.groups[0].trainer.params[3][0, 0] == -2.0
    after = s.frame(False)
    assert after["epoch"] == 3 and after["metrics"]["train_loss"] != before["metrics"]["train_loss"]
    assert after["diagram"]["layers"][1]["weights"][1][2] == 4.5
    # the metrics are those of the edited network, and training goes on from it
    m = s.groups[0].trainer._evaluate()
    np.testing.assert_allclose(after["metrics"]["train_loss"][0], m["train_loss"][0])
    s.advance(1)
    assert s.epoch == 4
    for args, field in [((3, 0, 1.0), "layer"), ((1, 9, 1.0), "to"), ((1, 0, 1.0, 5), "from"),
                        ((1, 0, float("nan")), "value"), ((1, 0, 1e9), "value")]:  # fmt: skip
        with pytest.raises(ConfigError) as info:
            s.set_weight(*args)
        assert info.value.field == field


def test_weights_route():
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        from initlab.web.app import create_app

        with TestClient(create_app()) as client:
            sid = client.post("/api/sessions", json=SMALL).json()["id"]
            r = client.post(
                f"/api/sessions/{sid}/weights", json={"layer": 1, "from": 0, "to": 1, "value": 2.5}
            )
            assert r.status_code == 200, r.text
            assert r.json()["diagram"]["layers"][1]["weights"][0][1] == 2.5
            r = client.post(f"/api/sessions/{sid}/weights", json={"layer": 7, "to": 0, "value": 1})
            assert r.status_code == 422 and r.json()["field"] == "layer"
            r = client.post(f"/api/sessions/{sid}/weights", json={"value": 1})
            assert r.status_code == 422
            grid = {"mode": "compare", "rows": {"axis": "seed", "values": [0, 1]},
                    "cols": {"axis": "init", "values": ["zeros", "he_normal"]}}  # fmt: skip
            cmp = client.post("/api/sessions", json={**SMALL, **grid}).json()["id"]
            r = client.post(f"/api/sessions/{cmp}/weights", json={"layer": 1, "to": 0, "value": 1})
            assert r.status_code == 422 and r.json()["field"] == "mode"


# ------------------------------------------------------------------------ divergence
def test_divergence_names_the_epoch_and_the_first_nonfinite_layer():
    s = Session(parse_config(LESSONS["learning-rate-divergence"].settings))
    assert s.frame()["divergence"] == []
    for _ in range(20):
        s.advance(2)
        f = s.frame()
        if any(d["layer"] for d in f["divergence"]):
            break
    [entry] = f["divergence"]
    assert entry["model"] == 0 and 0 < entry["epoch"] <= s.epoch
    assert entry["layer"] == 1  # the first layer overflows first (forward order)
    assert not np.isfinite(np.stack(s._rows)[entry["epoch"], 0, 0]) or f["diverged"] == [True]
    assert np.all(np.isfinite(np.stack(s._rows)[: entry["epoch"], 0, 0]))  # the first one
    json.dumps(f, allow_nan=False)  # the frame stays valid JSON


def test_nonfinite_units_are_flagged():
    s = Session(parse_config({**SMALL, "hidden": [4, 3]}))
    s.groups[0].trainer.params[0][0, :, 1] = np.nan  # unit 2 of the first hidden layer
    layers = s.frame()["diagram"]["layers"]
    assert layers[0]["nan"] == [False, False]
    assert layers[1]["nan"] == [False, True, False, False]
    assert all(layers[2]["nan"]) and all(layers[3]["nan"])  # everything it feeds


def test_compare_mode_reports_divergence_per_panel():
    grid = {"mode": "compare", "dataset": "plane", "optimizer": "gd", "hidden": [8, 8],
            "activation": "relu", "init": "he_normal",
            "rows": {"axis": "learning_rate", "values": [0.01, 3.0]},
            "cols": {"axis": "seed", "values": [0, 1]}}  # fmt: skip
    s = Session(parse_config({**SMALL, **grid, "n_samples": 500}))
    s.advance(40)
    models = {d["model"] for d in s.frame()["divergence"]}
    assert models and models <= {2, 3}  # in the learning rate 3 row only


# ------------------------------------------------------------------------ lessons
def test_every_lesson_is_a_valid_configuration_with_known_controls():
    o = wconfig.options()
    controls = {f["name"] for f in o["fields"]} | set(wconfig._fields())
    controls |= {"features", "discretize", "speed", "mode"}
    assert {"zero-symmetry", "sigmoid-depth", "he-vs-xavier-relu-10"} <= set(LESSONS)
    for lesson in LESSONS.values():
        cfg = parse_config(lesson.settings)
        assert lesson.title and len(lesson.text) > 80
        assert set(lesson.hide) <= controls, lesson.name
        assert cfg.to_json()  # round-trips
    assert [x["name"] for x in o["lessons"]] == list(LESSONS)
    deep = parse_config(LESSONS["he-vs-xavier-relu-10"].settings)
    assert len(deep.run["hidden"]) == 10 and deep.cols.name == "seed"


def test_zero_init_keeps_every_hidden_unit_identical():
    s = Session(parse_config(LESSONS["zero-symmetry"].settings))
    s.advance(50)
    f = s.frame()
    W1 = s.groups[0].trainer.params[0][0]
    assert np.all(W1 == 0)  # no gradient ever reaches the hidden weights
    pics = f["diagram"]["layers"][1]
    assert len(set(_bytes(pics["pictures"]).tolist())) == 1  # every unit draws the same picture


def test_sigmoid_depth_lesson_shows_gradients_shrinking_towards_the_input():
    s = Session(parse_config(LESSONS["sigmoid-depth"].settings))
    s.advance(10)
    f = s.frame()
    n_layers = len(s.describe()["layer_sizes"]) - 1
    stats = _floats(f["stats"], (f["n_stats"], n_layers, 4, 6))
    grad_rms = stats[-1, :, 3, 5]  # weight gradients' RMS per layer
    assert np.all(np.diff(grad_rms) > 0)  # every layer closer to the input learns slower
    assert grad_rms[-1] > 30 * grad_rms[0]


def test_he_beats_xavier_for_deep_relu_as_the_lesson_says():
    s = Session(parse_config(LESSONS["he-vs-xavier-relu-10"].settings))
    s.advance(50)
    acc = np.array(s.frame(False)["metrics"]["val_acc"]).reshape(2, 4)  # rows: xavier, he
    assert acc[1].mean() > acc[0].mean() + 0.05

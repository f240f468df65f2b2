"""The playground's HTTP API, through Starlette's test client.

Every control's parameter is validated (422 naming the field), streams
deliver epochs in order, reset restores the same initial weights, sessions
are bounded and expire, and the exported Python reproduces the server's run.
"""

from __future__ import annotations

import base64
import json
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("httpx")

with warnings.catch_warnings():  # starlette 1.x prefers httpx2 for its test client
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from initlab.web import config as wconfig  # noqa: E402
from initlab.web.app import create_app  # noqa: E402
from initlab.web.config import Limits, parse_config  # noqa: E402
from initlab.web.session import Session, SessionStore, unit_activity  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


SMALL = {"dataset": "moons", "n_samples": 200, "hidden": [4], "epochs": 60}


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def client(clock):
    store = SessionStore(Limits(max_sessions=3, idle_timeout=60), clock=clock)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(create_app(store=store)) as c:
            yield c


def create(client, **cfg):
    r = client.post("/api/sessions", json={**SMALL, **cfg})
    assert r.status_code == 201, r.text
    return r.json()


def read_events(response):
    events, event = [], {}
    for line in response.iter_lines():
        if not line:
            if event:
                events.append(event)
            event = {}
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line.startswith("id: "):
            event["id"] = int(line[4:])
    if event:
        events.append(event)
    return events


# ------------------------------------------------------------------------------- validation
# Each control of the page: (field, a bad value, text the message must contain).
BAD = [
    ("mode", "grid", "single, compare"),
    ("dataset", "iris", "moons"),
    ("dataset", 3, "unknown data set"),
    ("noise", -0.1, "noise must be in [0, 1]"),
    ("noise", "lots", "finite number"),
    ("n_samples", 10, "between 40 and"),
    ("n_samples", 10**6, "server limit"),
    ("val_size", 0.95, "val_size must be in [0.1, 0.9]"),
    ("data_seed", -1, "data_seed"),
    ("hidden", [8, 500], "server limit on width"),
    ("hidden", [2] * (Limits().max_depth + 1), f"at most {Limits().max_depth} allowed"),
    ("hidden", [0], "hidden must be positive integers"),
    ("hidden", ["wide"], "integer"),
    ("hidden", 8, "list of layer widths"),
    ("activation", "relux", "did you mean 'relu'"),
    ("leaky_slope", 2.0, "leaky_slope must be a finite number in [0, 1], got 2.0"),
    ("init", "xavierr", "did you mean"),
    ("bias_init", "random_bias", "bias initializer"),
    ("optimizer", "adamx", "did you mean 'adam"),
    ("learning_rate", 0, "learning_rate must be a finite number > 0, got 0"),
    ("learning_rate", 50, "learning_rate must be in (0, 10]"),
    ("learning_rate", None, "finite number"),
    ("hyperparameters", {"gamma": 0.9}, "unknown hyperparameter 'gamma'"),
    ("hyperparameters", {"beta1": 1.5}, "beta1 must be a finite number in [0, 1)"),
    ("hyperparameters", {"eps": float("nan")}, "finite"),
    ("hyperparameters", [0.9], "must be an object"),
    ("batch_size", -5, "0/None for full batch"),
    ("batch_size", 2.5, "integer"),
    ("shuffle", "yes", "true or false"),
    ("seed", -1, "seed must be an integer in [0, 2**32)"),
    ("seed", True, "integer"),
    ("epochs", 0, "epochs must be an integer >= 1"),
    ("epochs", 10**7, "server limit"),
    ("colour", "red", "unknown setting 'colour'"),
]


@pytest.mark.parametrize("field,value,message", BAD, ids=[f"{b[0]}={b[1]!r}" for b in BAD])
def test_every_control_is_validated(client, field, value, message):
    body = {**SMALL, field: value}
    if field == "hyperparameters" and isinstance(value, dict) and "beta1" in value:
        body["optimizer"] = "adam"
    if field == "eps":
        body["optimizer"] = "adam"
    r = client.post("/api/sessions", content=json.dumps(body, allow_nan=True))
    assert r.status_code == 422, r.text
    err = r.json()
    assert message in err["error"]
    fields = (field, *(value if isinstance(value, dict) else ()))
    assert err["field"].split(".")[0] in fields
    # the same check guards the export
    assert client.post("/api/export", content=json.dumps(body, allow_nan=True)).status_code == 422


COMPARE_BAD = [
    ({"rows": {"axis": "colour", "values": ["a"]}}, "rows.axis", "activation, init"),
    ({"rows": {"axis": "activation", "values": []}}, "rows.values", "non-empty"),
    ({"rows": {"axis": "activation", "values": ["tanh", "tanhh"]}}, "rows.values", "did you mean"),
    ({"rows": {"axis": "activation", "values": ["tanh", "tanh"]}}, "rows.values", "repeats"),
    ({"rows": {"axis": "seed", "values": list(range(7))}}, "rows.values", "at most 6"),
    ({"rows": {"axis": "learning_rate", "values": [0.1, -1]}}, "rows.values", "> 0, got -1"),
    ({"rows": {"axis": "learning_rate", "values": [0.1, 50]}}, "rows.values", "(0, 10]"),
    ({"rows": {"axis": "init", "values": ["he"]}}, "cols.axis", "pick two axes"),
    ({"rows": {"axis": "activation", "values": ["tanh"], "colour": 1}}, "rows", "unknown key"),
]


@pytest.mark.parametrize("patch,field,message", COMPARE_BAD)
def test_compare_axes_are_validated(client, patch, field, message):
    body = {**SMALL, "mode": "compare", "cols": {"axis": "init", "values": ["zeros", "he"]}}
    body.update(patch)
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == field
    assert message in r.json()["error"]


def test_compare_size_is_bounded():
    limits = Limits(max_models=8)
    raw = {
        "mode": "compare",
        "rows": {"axis": "activation", "values": ["tanh", "relu", "sigmoid"]},
        "cols": {"axis": "seed", "values": [0, 1, 2]},
    }
    with pytest.raises(wconfig.ConfigError, match="would train 9 networks; at most 8"):
        parse_config(raw, limits)


GOOD = [
    ("dataset", "spiral"),
    ("dataset", "blog_mod2"),
    ("noise", 0.35),
    ("n_samples", 120),
    ("val_size", 0.4),
    ("data_seed", 7),
    ("hidden", [3, 5]),
    ("activation", "leaky_relu"),
    ("leaky_slope", 0.3),
    ("init", "he_uniform"),
    ("bias_init", "normal"),
    ("optimizer", "momentum"),
    ("learning_rate", 0.5),
    ("batch_size", 32),
    ("shuffle", True),
    ("seed", 12345),
    ("epochs", 3),
]


@pytest.mark.parametrize("field,value", GOOD)
def test_every_control_is_applied(client, field, value):
    d = create(client, **{field: value})
    assert d["config"][field] == value
    # and it changes what the server trains: the data, the network or the initial weights
    base = create(client)
    changed = (
        d["train"] != base["train"]
        or d["layer_sizes"] != base["layer_sizes"]
        or d["frame"]["boundary"] != base["frame"]["boundary"]
        or d["max_epochs"] != base["max_epochs"]
        or field in ("optimizer", "learning_rate", "batch_size", "shuffle", "leaky_slope")
    )
    assert changed
    for sid in (d["id"], base["id"]):
        client.delete(f"/api/sessions/{sid}")


def test_blog_dataset_is_the_blog_split(client):
    d = create(client, dataset="blog", hidden=[2])
    assert len(d["train"]["y"]) == 750 and len(d["val"]["y"]) == 250
    assert d["n_classes"] == 4 and d["layer_sizes"] == [2, 2, 4]
    d2 = create(client, dataset="blog_mod2", hidden=[2])
    assert d2["n_classes"] == 2


def test_aliases_come_back_canonical(client):
    d = create(client, init="xavier", optimizer="Adam", activation="ReLU")
    assert (d["config"]["init"], d["config"]["optimizer"], d["config"]["activation"]) == (
        "xavier_normal",
        "adam",
        "relu",
    )


def test_bad_bodies_and_unknown_sessions(client):
    r = client.post("/api/sessions", content=b"{not json")
    assert r.status_code == 422 and "not valid JSON" in r.json()["error"]
    r = client.post("/api/sessions", content=b"[1, 2]")
    assert r.status_code == 422 and "JSON object" in r.json()["error"]
    r = client.post("/api/sessions", content=b"x" * 70000)
    assert r.status_code == 413 and "at most" in r.json()["error"]
    r = client.post("/api/sessions/nope/step", json={"epochs": 1})
    assert r.status_code == 404 and "'nope'" in r.json()["error"]
    sid = create(client)["id"]
    for epochs, msg in [(0, "between 1 and 100"), (101, "between 1 and 100"), ("2", "integer")]:
        r = client.post(f"/api/sessions/{sid}/step", json={"epochs": epochs})
        assert r.status_code == 422 and msg in r.json()["error"], r.text
    r = client.post(f"/api/sessions/{sid}/reseed", json={"seed": -3})
    assert r.status_code == 422 and r.json()["field"] == "seed"
    r = client.get(f"/api/sessions/{sid}/stream?fps=1000")
    assert r.status_code == 422 and r.json()["field"] == "fps"
    r = client.get(f"/api/sessions/{sid}/stream?epochs_per_frame=abc")
    assert r.status_code == 422 and "integer" in r.json()["error"]


def test_options_and_page(client):
    o = client.get("/api/options").json()
    assert "xavier_normal" in [i["name"] for i in o["inits"]]
    assert "leaky_relu" in [a["name"] for a in o["activations"]]
    assert set(o["datasets"]) >= {"blog", "blog_mod2", "moons", "circles", "xor", "spiral", "gauss"}
    assert o["limits"]["max_sessions"] == 3
    adam = next(x for x in o["optimizers"] if x["name"] == "adam")
    assert adam["defaults"]["beta1"] == 0.9
    page = client.get("/")
    assert page.status_code == 200 and "initlab playground" in page.text
    for asset in ("app.js", "style.css"):
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and len(r.text) > 1000
    # offline: no external URLs in the page or its assets
    for text in (page.text, client.get("/static/app.js").text):
        assert "http://" not in text and "https://" not in text


# ------------------------------------------------------------------------------- streaming
def test_stream_delivers_epochs_in_order(client):
    sid = create(client, epochs=500)["id"]
    with client.stream("GET", f"/api/sessions/{sid}/stream?max_frames=6&epochs_per_frame=3") as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = read_events(r)
    frames = [e["data"] for e in events if e["event"] == "frame"]
    assert [f["epoch"] for f in frames] == [3, 6, 9, 12, 15, 18]
    assert [e["id"] for e in events if e["event"] == "frame"] == [3, 6, 9, 12, 15, 18]
    # each frame carries the metrics of exactly the epochs since the previous one
    expected_from = 1
    for f in frames:
        assert f["from_epoch"] == expected_from
        assert len(f["history"]["val_acc"]) == f["epoch"] - f["from_epoch"] + 1
        assert f["n_updates"] == 3
        expected_from = f["epoch"] + 1
    assert events[-1]["event"] == "end" and events[-1]["data"]["reason"] == "max_frames"
    # training went somewhere: loss falls on moons with adam
    assert frames[-1]["metrics"]["train_loss"][0] < frames[0]["history"]["train_loss"][0][0]


def test_stream_stops_at_the_epoch_limit(client):
    sid = create(client, epochs=7)["id"]
    with client.stream("GET", f"/api/sessions/{sid}/stream?epochs_per_frame=5") as r:
        events = read_events(r)
    frames = [e["data"] for e in events if e["event"] == "frame"]
    assert [f["epoch"] for f in frames] == [5, 7]
    assert frames[-1]["finished"] is True
    assert events[-1]["data"] == {"reason": "finished", "epoch": 7}
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 5})
    assert r.json()["epoch"] == 7  # never past the limit


def test_adaptive_frames_train_several_epochs_when_fast(client):
    sid = create(client, epochs=2000)["id"]
    with client.stream("GET", f"/api/sessions/{sid}/stream?max_frames=8") as r:
        frames = [e["data"] for e in read_events(r) if e["event"] == "frame"]
    epochs = [f["epoch"] for f in frames]
    assert epochs == sorted(set(epochs)) and len(epochs) == 8
    assert epochs[0] == 1  # the first frame measures one epoch
    assert max(np.diff(epochs)) <= Limits().max_epochs_per_frame


def test_pause_ends_the_stream(client):
    sid = create(client, epochs=500)["id"]
    client.post(f"/api/sessions/{sid}/pause")
    store = client.app.state.store
    session = store.get(sid)
    session.stream_token += 1  # a stream opened by another tab...
    token = session.stream_token
    with client.stream("GET", f"/api/sessions/{sid}/stream?max_frames=3") as r:
        events = read_events(r)
    assert session.stream_token == token + 1
    assert events[-1]["data"]["reason"] == "max_frames"
    assert session.playing is False  # the stream's end pauses it


def test_step_and_boundary_change(client):
    d = create(client, hidden=[6], learning_rate=0.05)
    sid = d["id"]
    f1 = client.post(f"/api/sessions/{sid}/step", json={"epochs": 1}).json()
    f2 = client.post(f"/api/sessions/{sid}/step", json={"epochs": 20}).json()
    assert (f1["epoch"], f2["epoch"]) == (1, 21)
    g, K = d["grid"], d["n_classes"]
    b0 = np.frombuffer(base64.b64decode(d["frame"]["boundary"]), np.uint8).reshape(1, g, g, K)
    b2 = np.frombuffer(base64.b64decode(f2["boundary"]), np.uint8).reshape(1, g, g, K)
    assert np.abs(b2.astype(int) - b0).max() > 20
    # probabilities sum to about 1 per grid cell (uint8 rounding)
    assert np.all(np.abs(b2.sum(axis=-1).astype(int) - 255) <= K)
    ups = np.frombuffer(base64.b64decode(f2["updates"]), np.float32).reshape(20, d["n_params"])
    assert np.all(np.isfinite(ups)) and np.abs(ups).max() > 0
    assert [layer["name"] for layer in f2["layers"]] == ["hidden 1", "output"]


# ------------------------------------------------------------------------------- reset / seed
def _weights(client, sid):
    return client.app.state.store.get(sid).current_params()


def test_reset_restores_the_same_initial_weights(client):
    d = create(client)
    sid = d["id"]
    w0 = _weights(client, sid)
    first = client.post(f"/api/sessions/{sid}/step", json={"epochs": 15}).json()
    assert not np.allclose(_weights(client, sid)[0][0], w0[0][0])
    f = client.post(f"/api/sessions/{sid}/reset").json()
    assert f["epoch"] == 0 and f["from_epoch"] == 0
    assert f["boundary"] == d["frame"]["boundary"]
    for a, b in zip(_weights(client, sid)[0], w0[0], strict=True):
        np.testing.assert_array_equal(a, b)
    again = client.post(f"/api/sessions/{sid}/step", json={"epochs": 15}).json()
    assert again["history"] == first["history"]  # optimizer state was reset too


def test_new_seed_gives_new_weights_and_is_reproducible(client):
    d = create(client)
    sid = d["id"]
    r = client.post(f"/api/sessions/{sid}/reseed", json={"seed": 42}).json()
    assert r["config"]["seed"] == 42 and r["frame"]["epoch"] == 0
    assert r["train"] == d["train"]  # same data
    w42 = _weights(client, sid)
    other = create(client, seed=42)
    for a, b in zip(_weights(client, other["id"])[0], w42[0], strict=True):
        np.testing.assert_array_equal(a, b)
    assert r["frame"]["boundary"] != d["frame"]["boundary"]


# ------------------------------------------------------------------------------- compare mode
BLOG_GRID = {
    "mode": "compare",
    "dataset": "blog",
    "hidden": [2],
    "optimizer": "gd",
    "learning_rate": 1.0,
    "rows": {"axis": "activation", "values": ["sigmoid", "tanh", "relu", "leaky_relu"]},
    "cols": {"axis": "init", "values": ["zeros", "random", "xavier", "he"]},
}


def test_compare_grid_equals_single_runs():
    store = SessionStore(Limits())
    grid = store.create(parse_config(BLOG_GRID))
    assert len(grid.models) == 16 and len(grid.groups) == 4  # one population per activation
    grid.advance(5)
    f = grid.frame()
    assert len(f["metrics"]["val_acc"]) == 16
    g = grid.grid_size
    assert len(base64.b64decode(f["boundary"])) == 16 * g * g * 4
    single_cfg = {k: v for k, v in BLOG_GRID.items() if k not in ("mode", "rows", "cols")}
    for m in (1, 6, 15):  # sigmoid+random, tanh+xavier, leaky_relu+he
        act = BLOG_GRID["rows"]["values"][m // 4]
        init = BLOG_GRID["cols"]["values"][m % 4]
        one = Session(parse_config({**single_cfg, "activation": act, "init": init}))
        one.advance(5)
        h = one.frame()["history"]
        for key in ("train_loss", "val_acc"):
            got = [row[m] for row in f["history"][key]]
            want = [row[0] for row in h[key]]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_compare_with_optimizer_and_learning_rate_axes(client):
    d = create(
        client,
        mode="compare",
        hyperparameters={"momentum": 0.5, "beta1": 0.8},
        rows={"axis": "optimizer", "values": ["gd", "momentum", "adam"]},
        cols={"axis": "learning_rate", "values": [0.01, 0.1]},
    )
    assert len(d["models"]) == 6 and d["rows"]["axis"] == "optimizer"
    f = client.post(f"/api/sessions/{d['id']}/step", json={"epochs": 3}).json()
    assert len(f["metrics"]["train_loss"]) == 6 and "layers" not in f


# ------------------------------------------------------------------------------- limits
def test_sessions_are_bounded_and_replaceable(client):
    ids = [create(client)["id"] for _ in range(3)]
    r = client.post("/api/sessions", json=SMALL)
    assert r.status_code == 503
    assert "allows 3" in r.json()["error"] and r.headers["retry-after"]
    r = client.post(f"/api/sessions?replace={ids[0]}", json=SMALL)
    assert r.status_code == 201
    assert client.get(f"/api/sessions/{ids[0]}").status_code == 404
    assert client.get("/api/health").json() == {"ok": True, "sessions": 3}


def test_idle_sessions_are_cleaned_up(client, clock):
    old = create(client)["id"]
    clock.now += 45
    client.get(f"/api/sessions/{old}")  # a request keeps it alive
    clock.now += 30
    fresh = create(client)["id"]
    clock.now += 40  # old: 70 s since its last request, fresh: 40 s
    assert client.app.state.store.cleanup() == [old]
    clock.now += 21
    assert client.app.state.store.cleanup() == [fresh]
    r = client.get(f"/api/sessions/{old}")
    assert r.status_code == 404 and "idle" in r.json()["error"]
    fresh = create(client)["id"]
    clock.now += 59
    client.post(f"/api/sessions/{fresh}/step", json={"epochs": 1})
    clock.now += 59
    assert client.app.state.store.cleanup() == []
    clock.now += 2
    assert client.app.state.store.cleanup() == [fresh]


def test_store_refuses_beyond_the_limit_even_when_busy(clock):
    store = SessionStore(Limits(max_sessions=1, idle_timeout=10), clock=clock)
    store.create(parse_config(SMALL))
    with pytest.raises(RuntimeError, match="allows 1"):
        store.create(parse_config(SMALL))
    clock.now += 11
    store.create(parse_config(SMALL))  # the idle one made room
    assert len(store) == 1


# ------------------------------------------------------------------------------- statistics
def test_unit_activity_flags_dead_and_saturated_units():
    from initlab import activations

    z = np.column_stack([np.full(100, -3.0), np.linspace(-1, 1, 100), np.full(100, 9.0)])
    np.testing.assert_allclose(unit_activity(activations.get("relu"), z), [1.0, 0.5, 0.0])
    np.testing.assert_allclose(unit_activity(activations.get("leaky_relu"), z), [0, 0, 0])
    np.testing.assert_allclose(unit_activity(activations.get("tanh"), z), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(unit_activity(activations.get("sigmoid"), z), [0.0, 0.0, 1.0])


def test_layer_stats_see_dead_relu_units(client):
    # all-"ones" biases with big negative... instead: zeros init kills every relu unit
    d = create(client, activation="relu", init="zeros", bias_init="zeros", hidden=[5, 3])
    layers = d["frame"]["layers"]
    assert layers[0]["kind"] == "dead" and layers[0]["flagged"] == 5
    d = create(client, activation="tanh", init="random", hidden=[5], learning_rate=0.01)
    assert d["frame"]["layers"][0]["kind"] == "saturated"


def test_big_networks_skip_sparklines(client):
    d = create(client, hidden=[20, 20])
    assert d["n_params"] > Limits().max_spark_params and d["param_names"] == []
    assert "updates" not in d["frame"]


# ------------------------------------------------------------------------------- export
def test_export_toml_and_python_reproduce_the_run(client):
    cfg = {
        **SMALL,
        "activation": "tanh",
        "init": "xavier",
        "optimizer": "momentum",
        "hyperparameters": {"momentum": 0.8, "beta1": 0.7},
        "epochs": 12,
        "seed": 3,
    }
    r = client.post("/api/export", json=cfg).json()
    study = tomllib.loads(r["toml"])["study"]
    assert study["activations"] == ["tanh"] and study["inits"] == ["xavier_normal"]
    assert study["hidden"] == [[4]] and study["batch_sizes"] == [0] and study["seeds"] == [3]
    assert study["datasets"] == [
        {"name": "moons", "n_samples": 200, "noise": 0.2, "val_size": 0.25, "random_state": 0}
    ]
    assert study["hyperparameters"] == {"momentum": [0.8]}  # tanh has no slope
    assert "beta1" not in r["python"]  # momentum has no beta1
    namespace: dict = {}
    exec(compile(r["python"], "<export>", "exec"), namespace)  # trains with FFNetwork
    net = namespace["net"]
    sid = create(client, **cfg)["id"]
    frame = client.post(f"/api/sessions/{sid}/step", json={"epochs": 12}).json()
    np.testing.assert_allclose(
        net.history_["val_loss"][-1], frame["metrics"]["val_loss"][0], rtol=1e-10
    )


def test_export_compare_grid():
    cfg = parse_config(BLOG_GRID)
    study = tomllib.loads(wconfig.export_toml(cfg))["study"]
    assert study["activations"] == ["sigmoid", "tanh", "relu", "leaky_relu"]
    assert study["inits"] == ["zeros", "random", "xavier_normal", "he_normal"]
    assert study["datasets"][0]["name"] == "blog" and study["learning_rates"] == [1.0]
    code = wconfig.export_python(cfg)
    assert "for row in rows:" in code and "activation=row" in code and "init=col" in code
    compile(code, "<export>", "exec")
    mod2 = wconfig.export_toml(parse_config({"dataset": "blog_mod2"}))
    assert tomllib.loads(mod2)["study"]["datasets"][0]["labels"] == "mod2"


BLOG_RECIPE = {
    **BLOG_GRID,
    "init": "zeros",
    "bias_init": "blog",
    "rng_kind": "legacy",
    "epochs": 50,
    "cols": {"axis": "init", "values": ["zeros", "random", "lecun_normal", "he_normal"]},
}


def test_blog_recipe_reproduces_the_blog():
    """The blog's grid, its exact recipe: the numbers of its post (via blog_network)."""
    grid = Session(parse_config(BLOG_RECIPE))
    grid.advance(50)
    acc = grid.frame()["metrics"]["val_acc"]
    # sigmoid + zeros, tanh + "xavier" (LeCun normal), leaky_relu + he
    assert (acc[0], acc[6], acc[15]) == (0.54, 0.86, 0.92)


def test_exported_study_plans_the_same_runs():
    study_mod = pytest.importorskip("initlab.study")
    for raw in (BLOG_RECIPE, {**SMALL, "optimizer": "rmsprop", "hyperparameters": {"rho": 0.8}}):
        cfg = parse_config(raw)
        study = study_mod.Study.from_dict(tomllib.loads(wconfig.export_toml(cfg)))
        [(data, specs, _)] = study.plan()
        session = Session(cfg)
        assert sorted(specs, key=repr) == sorted(session.specs(), key=repr)
        np.testing.assert_array_equal(data.X_train, session.data.X_train)
        # and the Python export trains the same first network
        code = wconfig.export_python(cfg).replace("epochs=50", "epochs=3")
        code = code.replace("epochs=60", "epochs=3")
        namespace: dict = {}
        exec(compile(code, "<export>", "exec"), namespace)
        session.advance(3)
        last = namespace["net"].history_["val_loss"][-1]
        np.testing.assert_allclose(last, session.frame()["metrics"]["val_loss"][-1], rtol=1e-10)


# ------------------------------------------------------------------------------- CLI
def test_serve_command_checks_its_arguments(monkeypatch):
    from typer.testing import CliRunner

    from initlab.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--port", "70000"])
    assert result.exit_code == 2 and "between 0 and 65535" in result.output
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if the web extra were missing
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2 and "pip install initlab[web]" in result.output


def test_serve_command_prints_the_address(monkeypatch):
    from typer.testing import CliRunner

    import initlab.web as web
    from initlab.cli import app

    seen = {}

    def fake_serve(host, port, open_browser, announce):
        seen.update(host=host, port=port, open_browser=open_browser)
        announce(f"initlab playground running at http://{host}:{port}/")

    monkeypatch.setattr(web, "serve", fake_serve)
    result = CliRunner().invoke(app, ["serve", "--port", "8123", "--open"])
    assert result.exit_code == 0, result.output
    assert seen == {"host": "127.0.0.1", "port": 8123, "open_browser": True}
    assert "http://127.0.0.1:8123/" in result.output


# ------------------------------------------------------------------------------- server: work
def _store_session(client, sid):
    return client.app.state.store.get(sid)


def _stop_at(session, epoch, action):
    """Make ``action()`` happen right after ``epoch`` is trained (as a request arriving
    mid-step would), deterministically."""
    one_epoch = session._one_epoch

    def wrapped():
        one_epoch()
        if session.epoch == epoch:
            action()

    session._one_epoch = wrapped


def test_training_threads_use_one_blas_thread(client):
    threadpoolctl = pytest.importorskip("threadpoolctl")

    async def ask():
        return await client.app.state.pool.run(threadpoolctl.threadpool_info)

    info = client.portal.call(ask)
    blas = [lib for lib in info if lib["user_api"] == "blas"]
    assert blas and all(lib["num_threads"] == 1 for lib in blas)


def test_pause_and_delete_stop_a_running_step_within_one_epoch(client):
    sid = create(client, epochs=1000)["id"]
    session = _store_session(client, sid)
    _stop_at(session, 3, session.interrupt)  # a pause arrives during epoch 3
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 100}).json()
    assert r["epochs_run"] == 3 and r["epoch"] == 3
    _stop_at(session, 5, lambda: client.app.state.store.delete(sid))
    r = client.post(f"/api/sessions/{sid}/step", json={"epochs": 100}).json()
    assert r["epochs_run"] == 2 and session.epoch == 5 and session.closed
    assert client.get(f"/api/sessions/{sid}").status_code == 404


def test_pause_stops_a_stream_within_one_epoch(client):
    sid = create(client, epochs=1000)["id"]
    session = _store_session(client, sid)
    _stop_at(session, 4, session.interrupt)
    with client.stream("GET", f"/api/sessions/{sid}/stream?epochs_per_frame=50") as r:
        events = read_events(r)
    assert events[-1]["data"] == {"reason": "paused", "epoch": 4}
    assert session.epoch == 4


def test_delete_ends_a_stream_within_one_epoch(client):
    sid = create(client, epochs=1000)["id"]
    session = _store_session(client, sid)
    _stop_at(session, 2, lambda: client.app.state.store.delete(sid))
    with client.stream("GET", f"/api/sessions/{sid}/stream?epochs_per_frame=50") as r:
        events = read_events(r)
    assert events[-1]["data"] == {"reason": "closed", "epoch": 2} and session.epoch == 2


def test_a_step_stops_when_its_time_budget_is_spent(clock, monkeypatch):
    monkeypatch.setattr(wconfig, "epoch_seconds", lambda config, limits: 0.0)
    store = SessionStore(Limits(step_seconds=1e-9), clock=clock)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(create_app(store=store)) as c:
            sid = create(c, epochs=1000)["id"]
            r = c.post(f"/api/sessions/{sid}/step", json={"epochs": 50}).json()
            assert r["epochs_run"] == 1 and r["epoch"] == 1  # one epoch, then the budget


HEAVY = {
    "mode": "compare",
    "n_samples": 2000,
    "batch_size": 1,
    "rows": {"axis": "activation", "values": ["relu", "tanh", "sigmoid", "elu", "selu", "gelu"]},
    "cols": {
        "axis": "optimizer",
        "values": ["gd", "adam", "momentum", "nag", "rmsprop", "adagrad"],
    },
}


def test_work_that_cannot_finish_is_refused_before_it_starts(client):
    r = client.post("/api/sessions", json=HEAVY)
    assert r.status_code == 422 and r.json()["field"] == "batch_size"
    err = r.json()["error"]
    assert "one epoch would take about" in err and "36 network(s)" in err
    assert "batches of 1" in err and "1 s per request" in err
    assert client.get("/api/health").json()["sessions"] == 0  # nothing was built
    # batch size 1 for a 6 x 6 grid of the default axes on 2000 points
    grid = {**HEAVY, "cols": {"axis": "init", "values": ["zeros", "random", "he", "xavier",
                                                       "lecun_normal", "orthogonal"]}}  # fmt: skip
    r = client.post("/api/sessions", json=grid)
    assert r.status_code == 422 and "one epoch would take" in r.json()["error"]
    assert client.post("/api/sessions", json={**grid, "batch_size": 50}).status_code == 201
    # the estimate grows with each factor of the work
    base = parse_config({**HEAVY, "batch_size": 100})
    est = wconfig.epoch_seconds
    assert est(parse_config({**HEAVY, "batch_size": 100, "n_samples": 1000})) < est(base)
    assert est(parse_config({**HEAVY, "batch_size": 100, "hidden": [16, 16]})) > est(base)
    assert est(parse_config({**SMALL, "batch_size": 100, "n_samples": 2000})) < est(base)
    # a tighter server refuses sooner
    with pytest.raises(wconfig.ConfigError, match="at most 0.001 s per request"):
        parse_config({**SMALL, "batch_size": 1}, Limits(step_seconds=0.001))


def test_health_options_and_small_requests_never_wait_for_training(clock):
    import threading

    store = SessionStore(Limits(train_threads=1), clock=clock)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TestClient(create_app(store=store)) as c:
            sid = create(c)["id"]
            busy, release = threading.Event(), threading.Event()

            def hog():
                busy.set()
                release.wait(30)

            async def occupy():
                await c.app.state.pool.run(hog)

            blocked = threading.Thread(target=lambda: c.portal.call(occupy))
            blocked.start()
            try:
                assert busy.wait(10)  # the only training thread is taken
                assert c.get("/api/health").status_code == 200
                assert c.get("/api/options").status_code == 200
                assert c.get(f"/api/sessions/{sid}").status_code == 200
                assert c.post(f"/api/sessions/{sid}/pause").status_code == 200
                assert c.post(f"/api/sessions/{sid}/heartbeat").status_code == 204
                assert create(c)["frame"]["epoch"] == 0
            finally:
                release.set()
                blocked.join(10)


# ------------------------------------------------------------------------------- server: live
def test_live_fields_come_from_the_schema(client):
    from initlab import runs

    live = client.get("/api/options").json()["live"]
    assert live == wconfig.live_fields()
    assert {"learning_rate", "epochs", "l1", "l2"} <= set(live)
    hyper = {f.name for f in runs.fields() if f.owner == "optimizer"}
    assert hyper <= set(live) and {"momentum", "beta1", "beta2", "rho", "eps"} <= hyper
    assert not {"hidden", "activation", "init", "seed", "batch_size", "dataset"} & set(live)


def test_live_learning_rate_keeps_weights_epoch_and_optimizer_state(client):
    d = create(client, optimizer="adam", learning_rate=0.01, epochs=100)
    sid = d["id"]
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 10})
    session = _store_session(client, sid)
    before = session.current_params()
    r = client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.05, "epochs": 300})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["config"]["learning_rate"] == 0.05 and out["max_epochs"] == 300
    assert out["frame"]["epoch"] == 10
    for a, b in zip(session.current_params()[0], before[0], strict=True):
        np.testing.assert_array_equal(a, b)
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 5})
    # the same as training 10 epochs, then retuning the engine's trainer in place
    from initlab import runs

    ref = Session(parse_config({**SMALL, "optimizer": "adam", "learning_rate": 0.01}))
    ref.advance(10)
    spec = parse_config({**SMALL, "optimizer": "adam", "learning_rate": 0.05}).specs()
    runs.retune(ref.groups[0].trainer, spec)
    ref.advance(5)
    for a, b in zip(session.current_params()[0], ref.current_params()[0], strict=True):
        np.testing.assert_array_equal(a, b)
    # and not as a fresh Adam from the same weights (its moments were kept)
    fresh = Session(parse_config({**SMALL, "optimizer": "adam", "learning_rate": 0.05}))
    fresh.groups[0].trainer.params = [p.copy() for p in before[0]]
    fresh.advance(5)
    assert not np.allclose(fresh.current_params()[0][0], ref.current_params()[0][0])


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_trainer_retune_keeps_the_state(engine):
    """Retuning to the same values changes nothing; to new values, both engines agree."""
    pytest.importorskip("numba") if engine == "numba" else None
    from initlab import runs, sweep
    from initlab.datasets import load

    data = load("moons", n_samples=200, random_state=0)
    specs = [runs.RunSpec.make(hidden=(4,), optimizer="momentum", learning_rate=0.1, epochs=9)]

    def trained(changes, eng):
        pop, params, opt = sweep.build(specs, data)
        tr = runs.trainer(specs, pop, params, opt, data.X_train, data.y_train, engine=eng)
        tr.step(4)
        runs.retune(tr, [specs[0].replace(**changes)])
        tr.step(5)
        return tr.params

    plain_pop, plain_params, opt = sweep.build(specs, data)
    plain = runs.trainer(specs, plain_pop, plain_params, opt, data.X_train, data.y_train,
                         engine=engine)  # fmt: skip
    plain.step(9)
    for a, b in zip(trained({}, engine), plain.params, strict=True):
        np.testing.assert_array_equal(a, b)
    new = {"learning_rate": 0.3, "momentum": 0.5, "l2": 0.01}
    for a, b in zip(trained(new, engine), trained(new, "numpy"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert not np.allclose(trained(new, engine)[0], plain.params[0])


def test_live_changes_are_validated(client):
    sid = create(client, optimizer="momentum")["id"]
    cases = [
        ({"hidden": [3]}, "hidden", "changing hidden restarts the run"),
        ({"activation": "relu"}, "activation", "changing activation restarts the run"),
        ({"seed": 3}, "seed", "restarts the run"),
        ({"colour": 1}, "colour", "unknown setting 'colour'"),
        ({"learning_rate": -1}, "learning_rate", "> 0"),
        ({"learning_rate": 50}, "learning_rate", "(0, 10]"),
        ({"epochs": 10**7}, "epochs", "server limit"),
        ({"momentum": 1.5}, "momentum", "momentum must be a finite number in [0, 1)"),
        ({"beta1": 0.5}, "beta1", "momentum has no hyperparameter beta1"),
        ({"l2": -0.1}, "l2", "l2"),
    ]
    for body, field, message in cases:
        r = client.patch(f"/api/sessions/{sid}", json=body)
        assert r.status_code == 422, (body, r.text)
        assert r.json()["field"] == field and message in r.json()["error"], (body, r.json())
    for bad in (b"[1]", b'"x"', b"{"):
        assert client.patch(f"/api/sessions/{sid}", content=bad).status_code == 422
    assert client.patch("/api/sessions/nope", json={"learning_rate": 0.1}).status_code == 404


def test_live_changes_in_compare_mode(client):
    d = create(
        client,
        mode="compare",
        rows={"axis": "activation", "values": ["tanh", "relu"]},
        cols={"axis": "learning_rate", "values": [0.01, 0.1]},
    )
    sid = d["id"]
    r = client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.5})
    assert r.status_code == 422 and r.json()["field"] == "learning_rate"
    assert "compare axis" in r.json()["error"]
    client.post(f"/api/sessions/{sid}/step", json={"epochs": 2})
    r = client.patch(f"/api/sessions/{sid}", json={"l2": 0.01, "hyperparameters": {"beta1": 0.8}})
    assert r.status_code == 200, r.text
    session = _store_session(client, sid)
    for g in session.groups:  # every population got the change
        assert np.all(np.asarray(g.trainer.l2) == 0.01)
        assert np.all(np.asarray(g.trainer.optimizer.recipe[1]["beta1"]) == 0.8)
    assert r.json()["config"]["hyperparameters"]["beta1"] == 0.8 and r.json()["frame"]["epoch"] == 2


# ------------------------------------------------------------------------------- divergence
DIVERGES = {**SMALL, "hidden": [16, 16, 16], "activation": "relu", "init": "random",
            "optimizer": "gd", "learning_rate": 10.0, "epochs": 200}  # fmt: skip


def test_divergence_pauses_and_names_the_epoch_and_layer(client):
    sid = create(client, **DIVERGES)["id"]
    with client.stream("GET", f"/api/sessions/{sid}/stream?epochs_per_frame=10") as r:
        events = read_events(r)
    assert events[-1]["data"]["reason"] == "diverged"
    frame = [e["data"] for e in events if e["event"] == "frame"][-1]
    [div] = frame["divergence"]
    session = _store_session(client, sid)
    first_nonfinite = div.get("nonfinite_epoch", div["epoch"])
    assert session.epoch == first_nonfinite < 200  # stopped at the epoch it went non-finite
    # replay: the first epoch with a non-finite parameter or loss, and its first layer
    ref = Session(parse_config(DIVERGES))
    trainer = ref.groups[0].trainer
    epoch, bad, loss = 0, [False], 0.0
    while not any(bad) and np.isfinite(loss):
        trainer.step(1)
        epoch += 1
        bad = [not np.isfinite(p).all() for p in trainer.params]
        loss = trainer.metrics()["train_loss"][0]
    assert div["model"] == 0 and first_nonfinite == epoch and div["epoch"] <= epoch
    # the first layer with a non-finite weight, bias or pre-activation (forward order),
    # else gradient, else the output; pre-activations and gradients on the training set
    assert ref.data.n_train <= 256  # (the session's statistics sample is all of it)
    tr = ref.groups[0].population.trace(trainer.params, ref.data.X_train, ref.data.y_train)
    n_layers = len(trainer.params) // 2
    P = trainer.params
    forward = [np.isfinite(P[2 * k]).all() and np.isfinite(P[2 * k + 1]).all()
               and np.isfinite(tr["z"][k]).all() for k in range(n_layers)]  # fmt: skip
    grads = [np.isfinite(tr["dW"][k]).all() and np.isfinite(tr["db"][k]).all()
             for k in range(n_layers)]  # fmt: skip
    layer = next((k + 1 for k, ok in enumerate(forward) if not ok), None)
    layer = layer or next((k + 1 for k, ok in enumerate(grads) if not ok), n_layers)
    assert div["layer"] == layer
    # the last finite picture: the parameters of the epoch before it diverged
    ref_before = Session(parse_config(DIVERGES))
    ref_before.advance(epoch - 1)
    last = session.last_finite_params()[0]
    for a, b in zip(last, ref_before.current_params()[0], strict=True):
        np.testing.assert_array_equal(a, b)
    # paused for good: steps do nothing until reset
    assert client.post(f"/api/sessions/{sid}/step", json={"epochs": 5}).json()["epochs_run"] == 0
    assert client.post(f"/api/sessions/{sid}/reset").json()["divergence"] == []


def test_the_frame_that_ends_a_stream_arrives_even_when_slow(client):
    import time

    for cfg, reason in [(DIVERGES, "diverged"), ({**SMALL, "epochs": 7}, "finished")]:
        sid = create(client, **cfg)["id"]
        session = _store_session(client, sid)
        frame = session.frame

        def slow(*args, frame=frame):  # a frame that takes longer than the stop check
            time.sleep(0.3)
            return frame(*args)

        session.frame = slow
        with client.stream("GET", f"/api/sessions/{sid}/stream?epochs_per_frame=50") as r:
            events = read_events(r)
        assert [e["event"] for e in events] == ["frame", "end"], events
        assert events[-1]["data"]["reason"] == reason
        assert events[0]["data"]["epoch"] == session.epoch


def test_divergence_in_compare_mode_keeps_the_others_training(client):
    d = create(client, **{**DIVERGES, "mode": "compare",
                          "rows": {"axis": "learning_rate", "values": [0.01, 10.0]},
                          "cols": {"axis": "seed", "values": [0, 1]}})  # fmt: skip
    f = client.post(f"/api/sessions/{d['id']}/step", json={"epochs": 60}).json()
    assert f["epochs_run"] == 60
    models = sorted(x["model"] for x in f["divergence"])
    assert models and set(models) <= {2, 3}  # only the learning rate of 10 diverged
    assert all(v is not None for v in f["metrics"]["train_loss"][:2])


# ------------------------------------------------------------------------------- speed
def test_speed_limits_the_epochs_per_second(client):
    import time

    sid = create(client, epochs=500)["id"]
    t0 = time.perf_counter()
    with client.stream("GET", f"/api/sessions/{sid}/stream?speed=20&max_frames=10") as r:
        frames = [e["data"] for e in read_events(r) if e["event"] == "frame"]
    elapsed = time.perf_counter() - t0
    epochs = frames[-1]["epoch"]
    # a rate limit: never faster than 20 epochs/s (the first epoch starts at once)
    assert epochs >= 10 and elapsed >= (epochs - 1) / 20
    with client.stream("GET", f"/api/sessions/{sid}/stream?speed=0&max_frames=4") as r:
        fast = [e["data"] for e in read_events(r) if e["event"] == "frame"]
    assert max(f["epoch"] - f["from_epoch"] + 1 for f in fast) > 1  # several epochs a frame


@pytest.mark.parametrize(
    "query,param",
    [("speed=fast", "speed"), ("speed=-1", "speed"), ("speed=nan", "speed"),
     ("speed=1e9", "speed"), ("fps=0", "fps"), ("max_frames=1.5", "max_frames"),
     ("epochs_per_frame=0", "epochs_per_frame")],
)  # fmt: skip
def test_bad_query_parameters_name_the_parameter(client, query, param):
    sid = create(client)["id"]
    r = client.get(f"/api/sessions/{sid}/stream?{query}")
    assert r.status_code == 422 and r.json()["field"] == param


# ------------------------------------------------------------------------------- bodies
def test_body_limit_is_checked_before_and_while_reading(client):
    r = client.post("/api/sessions", content=b"{}", headers={"Content-Length": str(10**9)})
    assert r.status_code == 413 and "1000000000 bytes" in r.json()["error"]
    r = client.post("/api/sessions", content=b"x" * (Limits().max_body + 1))
    assert r.status_code == 413 and r.json()["field"] == "body"
    # a chunked body (no Content-Length) is cut while streamed: tests/test_web_load.py


MALFORMED = [
    b"[" * 50_000 + b"]" * 50_000,  # nested too deeply
    b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    b'{"epochs": ' + b"9" * 5000 + b"}",  # a huge integer
    b'{"seed": 1' + b"0" * 40 + b"}",
    b'{"hidden": "\xff\xfe"}',  # not UTF-8
    b"\xef\xbb\xbf{}",  # a byte-order mark
    b'"a string"',
    b"42",
    b"null",
    b"NaN",
    b'{"noise": NaN}',
    b'{"noise": Infinity}',
    b'{"noise": 1e999}',
    b"{not json",
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_get_4xx_on_every_route(client, body):
    sid = create(client)["id"]
    for method, path in [
        ("POST", "/api/sessions"),
        ("POST", "/api/export"),
        ("PATCH", f"/api/sessions/{sid}"),
        ("POST", f"/api/sessions/{sid}/step"),
        ("POST", f"/api/sessions/{sid}/reseed"),
    ]:
        r = client.request(method, path, content=body)
        assert 400 <= r.status_code < 500, (method, path, r.status_code, r.text[:200])
        assert "error" in r.json()


ODD_VALUES = [float("nan"), float("inf"), -float("inf"), 10**29, -(10**29), 1e308, "x", "",
              [], [[[]]], {}, {"a": {"b": 1}}, None, True, -1, 0, 0.5]  # fmt: skip


def test_odd_values_in_every_setting_never_give_500(client):
    keys = wconfig._fields() + ["rows", "cols"]
    sid = create(client)["id"]
    for key in keys:
        for value in ODD_VALUES:
            body = json.dumps({**SMALL, key: value}, allow_nan=True)
            r = client.post("/api/export", content=body)
            assert r.status_code in (200, 422), (key, value, r.text[:200])
            if key in wconfig.live_fields():
                r = client.patch(f"/api/sessions/{sid}", content=json.dumps({key: value}))
                assert r.status_code in (200, 422), (key, value, r.text[:200])
        for value in ODD_VALUES:
            body = json.dumps({"hyperparameters": {"momentum": value}, "optimizer": "momentum"})
            assert client.post("/api/export", content=body).status_code in (200, 422)
    for value in ODD_VALUES:
        for path, key in [("step", "epochs"), ("reseed", "seed")]:
            r = client.post(f"/api/sessions/{sid}/{path}", content=json.dumps({key: value}))
            assert r.status_code in (200, 422), (path, value, r.text[:200])


# ------------------------------------------------------------------------------- sessions
def test_idle_timeout_is_short_and_heartbeats_keep_a_session(client, clock):
    assert Limits().idle_timeout <= 30
    sid = create(client)["id"]
    for _ in range(5):  # 5 x 50 s of heartbeats at 40 s intervals: alive
        clock.now += 40
        assert client.post(f"/api/sessions/{sid}/heartbeat").status_code == 204
        assert client.app.state.store.cleanup() == []
    clock.now += 61
    assert client.app.state.store.cleanup() == [sid]
    assert client.post(f"/api/sessions/{sid}/heartbeat").status_code == 404


def test_shutdown_ends_streams_and_training(client):
    sid = create(client, epochs=1000)["id"]
    session = _store_session(client, sid)
    _stop_at(session, 3, client.app.state.shutdown)
    with client.stream("GET", f"/api/sessions/{sid}/stream?epochs_per_frame=20") as r:
        events = read_events(r)
    assert events[-1]["data"] == {"reason": "shutdown", "epoch": 3}
    assert client.get("/api/health").json()["sessions"] == 0
    r = client.post("/api/sessions", json=SMALL)
    assert r.status_code == 503 and "shutting down" in r.json()["error"]

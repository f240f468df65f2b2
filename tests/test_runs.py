"""The run schema: one definition of a run, and everything that derives from it.

Each case a user found by trying the tool is reproduced here: data sets with the same
name, a study redefined under its name, duplicate runs after canonicalization, values
that used to fail whole chunks at training time, one name with two meanings, filters
that compared strings, hyperparameters dropped without a word.
"""

from __future__ import annotations

import inspect
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import initlab
from initlab import FFNetwork, activations, datasets, runs
from initlab._registry import Param
from initlab.cli import app
from initlab.errors import ConfigError, InitlabError
from initlab.store import Store
from initlab.study import Study, StudyConfigError, StudyConflict

cli = CliRunner()


def invoke(*args):
    return cli.invoke(app, [str(a) for a in args], catch_exceptions=False)


def flat(res) -> str:
    return " ".join(res.output.split())


# --- one owner ----------------------------------------------------------------------------
def test_every_surface_has_exactly_the_schemas_fields():
    names = set(runs.names())
    # FFNetwork's parameters
    params = set(inspect.signature(FFNetwork).parameters)
    estimator = {runs.get_field(p).name for p in params - {"recipe", "record_params"}}
    assert estimator == names and params - {"recipe", "record_params"} == {
        f.estimator for f in runs.fields()
    }
    # initlab train's options
    from typer.main import get_command

    command = get_command(app).commands["train"]
    options = {p.name for p in command.params} - {"dataset", "target", "recipe", "plots"}
    assert options == names
    # a study's TOML keys: the grid at the top level, conditional fields in hyperparameters
    from initlab import study as study_mod

    grid_keys = set(study_mod._study_keys())
    assert grid_keys == {f.key for f in runs.fields() if not f.conditional}
    conditional = {f.name for f in runs.fields() if f.conditional}
    Study("x", hyperparameters={k: [runs.get_field(k).low + 0.5] for k in []})  # empty ok
    for key in conditional:
        f = runs.get_field(key)
        value = 0.5 if f.high >= 1 else 0.5 * f.high
        Study("x", hyperparameters={key: [value]})  # accepted as a hyperparameter
    # the playground's fields
    pytest.importorskip("starlette")
    from initlab.web import config as wconfig

    web = {f["name"] for f in wconfig.options()["fields"]}
    assert web == names
    assert set(wconfig.PlaygroundConfig().run) == names
    # the store's flat columns
    from initlab.store import run_columns

    flat_cols = {c for c, _ in run_columns()} - {"dataset", "data_id", "data"}
    assert flat_cols == {f.name for f in runs.fields() if not f.conditional}


def test_hyperparameter_names_and_the_leaky_default_are_defined_once():
    import pathlib
    import re

    src = pathlib.Path(initlab.__file__).parent
    text = {p: p.read_text() for p in src.rglob("*.py")}
    listed = re.compile(r"""["']momentum["'],\s*["']rho["'],\s*["']beta1["']""")
    assert [p.name for p, t in text.items() if listed.search(t)] == []
    slope = [p.name for p, t in text.items() if re.search(r"leaky_slope\s*[=:]\s*0\.1\b", t)]
    assert slope == [], slope


def test_one_error_base():
    with pytest.raises(InitlabError):
        runs.RunSpec.make(activation="nope")
    assert issubclass(StudyConfigError, ConfigError) and issubclass(ConfigError, ValueError)


# --- names --------------------------------------------------------------------------------
def test_xavier_is_glorot_everywhere_and_the_blogs_xavier_is_its_recipe():
    assert runs.RunSpec.make(init="xavier").init == "xavier_normal"
    assert FFNetwork(init="xavier").spec().init == "xavier_normal"
    assert initlab.sweep.plan(init=["xavier"])[0].init == "xavier_normal"
    blog = runs.RunSpec.make(recipe="blog", activation="tanh", init="xavier")
    assert (blog.init, blog.bias_init, blog.rng_kind) == ("lecun_normal", "normal", "legacy")
    assert (blog.hidden, blog.learning_rate, blog.epochs, blog.optimizer) == ((2,), 1.0, 50, "gd")
    assert runs.label("init", "lecun_normal", "blog") == "lecun_normal (blog: xavier)"
    assert runs.label("init", "he_normal", "blog") == "he_normal"  # "he" means he everywhere
    out = invoke("list", "initializers").output
    assert "xavier_normal" in out and "xavier" in out


def test_train_with_the_blog_recipe_gives_the_blogs_numbers():
    res = invoke("train", "--recipe", "blog", "-a", "tanh", "-i", "xavier")
    assert res.exit_code == 0 and "86.00%" in res.output and "(blog: xavier)" in flat(res)
    # spelled out by hand, with Glorot's xavier, it is another network (50.8%)
    res = invoke(
        "train", "--hidden", "2", "-a", "tanh", "-i", "xavier", "-o", "gd", "--lr", "1",
        "-e", "50", "--bias-init", "normal", "--rng-kind", "legacy",
    )  # fmt: skip
    assert "50.80%" in res.output
    assert "750 training and 250 validation samples, 4 classes" in flat(res)


def test_blog_bias_and_recipe_work_in_the_estimator_and_the_cli():
    data = datasets.load("blog")
    net = FFNetwork(recipe="blog", activation="leaky_relu", init="he").fit(
        data.X_train, data.y_train
    )
    assert net.score(data.X_val, data.y_val) == pytest.approx(0.92)
    a = FFNetwork((3,), init="zeros", bias_init="blog", epochs=1).fit(data.X_train, data.y_train)
    assert a.spec_.bias_init == "zeros"  # the blog's biases are zeros with the zero init
    res = invoke("train", "--bias-init", "blog", "-e", "2")
    assert res.exit_code == 0


# --- bad input, before any work -----------------------------------------------------------
@pytest.mark.parametrize(
    "values, match",
    [
        ({"seed": 2**32}, r"seed must be an integer in \[0, 2\*\*32\), got 4294967296"),
        ({"activation": "leaky_relu", "leaky_slope": np.inf}, r"leaky_slope must be .*got inf"),
        ({"activation": "leaky_relu", "leaky_slope": np.nan}, r"leaky_slope must be .*got nan"),
        ({"shuffle_seed": -1}, r"shuffle_seed must be an integer in \[0, 2\*\*63\)"),
        ({"optimizer": "adam", "beta1": 1.0}, r"beta1 must be a finite number in \[0, 1\)"),
        ({"optimizer": "adam", "beta2": 1.0}, r"beta2 must be a finite number in \[0, 1\)"),
        ({"optimizer": "rmsprop", "rho": 1.0}, r"rho must be a finite number in \[0, 1\)"),
        ({"optimizer": "momentum", "momentum": 1.0}, r"momentum must be .* in \[0, 1\)"),
        ({"optimizer": "adam", "eps": 0.0}, r"eps must be a finite number > 0"),
        ({"optimizer": "adam", "weight_decay": 0.5}, "weight_decay applies to .* adamw"),
        ({"shuffle": "no"}, "shuffle must be true or false, got 'no'"),
        ({"shuffle": 1}, "shuffle must be true or false, got 1"),
        ({"seed": True}, "seed must be an integer"),
        ({"epochs": 2.0}, "epochs must be an integer"),
        ({"learning_rate": "fast"}, "learning_rate must be a finite number > 0"),
        ({"init": "xavir"}, "did you mean 'xavier"),
        ({"optimizer": 3}, "optimizer must be a name"),
        ({"dtype": "float16"}, "dtype must be one of float64, float32"),
        ({"hidden": [8, -1]}, "hidden must be positive integers"),
        ({"colour": "red"}, "unknown run setting 'colour'"),
    ],
)
def test_every_field_is_checked_with_a_clear_message(values, match):
    with pytest.raises(ConfigError, match=match):
        runs.RunSpec.make(**values)
    estimator = {runs.get_field(k).estimator: v for k, v in values.items() if k != "colour"}
    if "colour" not in values:
        for name in values:  # the estimator's names: random_state, hidden_layer_sizes
            f = runs.get_field(name)
            if match.startswith(f"{f.name} must"):
                match = f.estimator + match[len(f.name) :]
        with pytest.raises(ConfigError, match=match):
            FFNetwork(**estimator).fit(np.eye(4), [0, 1, 0, 1])


def test_a_study_with_one_bad_value_fails_before_touching_the_store(tmp_path):
    db = tmp_path / "s.db"
    for bad in (
        {"seeds": [0, 2**32]},
        {"activations": ["leaky_relu"], "hyperparameters": {"leaky_slope": [0.1, float("inf")]}},
        {"shuffle_seed": -1},
        {"optimizers": ["adam"], "hyperparameters": {"beta2": [0.99, 1.0]}},
    ):
        with pytest.raises(StudyConfigError):
            tiny(**bad).run(db)
        assert not db.exists()  # nothing trained, nothing stored
    res = invoke("study", "--config", _toml(tmp_path, seeds=[0, 2**32]), "--store", db)
    assert res.exit_code == 2 and "seeds must be an integer in [0, 2**32)" in flat(res)
    assert "Traceback" not in res.output and not db.exists()


def test_duplicate_runs_after_canonicalization_are_named():
    with pytest.raises(ConfigError, match="bias_init=normal and bias_init=blog give the same run"):
        initlab.sweep.plan(init=["zeros", "he"], bias_init=["normal", "blog"])
    with pytest.raises(StudyConfigError, match="give the same run"):
        tiny(inits=["zeros", "he"], bias_inits=["normal", "blog"]).plan()
    with pytest.raises(ConfigError, match="minibatch's full batch is its default batch size"):
        initlab.sweep.plan(optimizer="minibatch", batch_size=[0, 100])
    with pytest.raises(ConfigError, match="lists 'he_normal' twice"):
        initlab.sweep.plan(init=["he", "kaiming"])
    # blog's biases with distinct runs are fine: zeros for zeros, N(0, 1) otherwise
    specs = initlab.sweep.plan(init=["zeros", "he"], bias_init=["blog"])
    assert [s.bias_init for s in specs] == ["zeros", "normal"]


def test_conditional_fields_apply_where_they_exist():
    specs = runs.grid(
        activation=["tanh", "leaky_relu"], optimizer=["gd", "nag"], momentum=[0.5, 0.9],
        leaky_slope=[0.1, 0.3],
    )  # fmt: skip
    # tanh x (gd + nag x 2) + leaky x 2 slopes x (gd + nag x 2)
    assert len(specs) == 3 + 2 * 3
    assert {s.leaky_slope for s in specs if s.activation == "tanh"} == {None}
    assert {s.momentum for s in specs if s.optimizer == "gd"} == {None}
    nag = next(s for s in specs if s.optimizer == "nag")
    assert nag.hyper == {"momentum": nag.momentum}
    adam = runs.RunSpec.make(optimizer="adam")
    assert adam.hyper == {"eps": 1e-8, "beta1": 0.9, "beta2": 0.999}  # defaults filled in
    assert runs.RunSpec.make(optimizer="adam", beta1=0.9).hash() == adam.hash()


# --- a new parameter is one registration --------------------------------------------------
@pytest.fixture
def soft_clip():
    """An activation with a parameter, registered at run time (as a plugin would)."""

    def f(z, limit):
        return limit * np.tanh(z / limit)

    def df(z, a, limit):
        return 1 - (a / limit) ** 2

    act = activations.Activation(
        "soft_clip",
        f,
        df,
        "saturating",
        "limit * tanh(z / limit)",
        param_specs=(Param("limit", 2.0, "where the output saturates", low=0, low_open=True),),
    )
    activations.REGISTRY.register("soft_clip", act)
    yield act
    del activations.REGISTRY._entries["soft_clip"]


def test_a_registered_activation_parameter_is_a_field_everywhere(soft_clip, tmp_path):
    f = runs.get_field("soft_clip_limit")
    assert f.owners == ("soft_clip",) and f.default == 2.0
    specs = runs.grid(activation=["soft_clip", "tanh"], soft_clip_limit=[1.0, 3.0])
    assert len(specs) == 3
    data = datasets.load("moons", n_samples=120)
    frame = initlab.sweep(
        data, (4,), ["soft_clip"], ["xavier"], ["adam"], [0.05], seeds=[0], epochs=5,
        soft_clip_limit=[1.0, 3.0],
    )  # fmt: skip
    assert sorted(frame.soft_clip_limit) == [1.0, 3.0]
    # the estimator has the parameter and trains the same network
    row = frame.iloc[0]
    net = runs.RunSpec.from_row(row).network()
    assert net.get_params()["soft_clip_limit"] == row.soft_clip_limit
    net.fit(data.X_train, data.y_train)
    assert net.history_["train_loss"][-1] == pytest.approx(row.train_loss, rel=1e-12)
    # the store keeps it, a study sweeps it, the command line offers it
    s = Study("clip", [{"name": "moons", "n_samples": 120}], hidden=[[4]],
              activations=["soft_clip"], epochs=3, seeds=1,
              hyperparameters={"soft_clip_limit": [1.0, 2.5]})  # fmt: skip
    s.run(tmp_path / "s.db")
    assert sorted(s.results().soft_clip_limit) == [1.0, 2.5]
    res = invoke("train", "-a", "soft_clip", "--soft-clip-limit", "1.5", "-e", "2", "-d", "xor")
    assert res.exit_code == 0, res.output
    # and the playground
    pytest.importorskip("starlette")
    from initlab.web import config as wconfig

    cfg = wconfig.parse_config({"activation": "soft_clip", "soft_clip_limit": 1.5})
    assert cfg.specs()[0].soft_clip_limit == 1.5


# --- data identity ------------------------------------------------------------------------
def _csv(path, n=60, seed=0, classes=("a", "b")):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = np.where(X[:, 0] + (seed % 3) * X[:, 1] > 0, classes[0], classes[1])
    pd.DataFrame({"x1": X[:, 0], "x2": X[:, 1], "label": y}).to_csv(path, index=False)
    return path


def tiny(name="tiny", **kw):
    cfg = dict(
        datasets=[{"name": "moons", "n_samples": 120}],
        hidden=[[4]],
        activations=["tanh", "relu"],
        inits=["xavier"],
        optimizers=["adam"],
        learning_rates=[0.05],
        epochs=[5],
        seeds=2,
    )
    cfg.update(kw)
    return Study(name, **cfg)


def _toml(tmp_path, **kw):
    s = tiny(**{k: v for k, v in kw.items() if k != "seeds"})
    text = s.to_toml()
    if "seeds" in kw:
        text = text.replace("seeds = [0, 1]", f"seeds = {json.dumps(kw['seeds'])}")
    path = tmp_path / "s.toml"
    path.write_text(text)
    return path


def test_data_sets_with_the_same_name_stay_apart(tmp_path):
    a = _csv(tmp_path / "iris.csv", seed=1)
    b = _csv(tmp_path / "moons.csv", seed=2)
    s = tiny(
        datasets=[
            {"name": "csv", "path": str(a), "target": "label"},
            {"name": "csv", "path": str(b), "target": "label"},
        ],
        seeds=3,
    )
    s.run(tmp_path / "s.db")
    res = s.results()
    assert sorted(set(res.dataset)) == ["iris", "moons"]
    assert res.groupby("dataset").data_id.nunique().tolist() == [1, 1]
    summary = s.summary()
    assert len(summary) == 4 and set(summary.n) == {3}  # 2 data sets x 2 activations, 3 seeds
    assert set(summary.dataset) == {"iris", "moons"}
    # the same for two generated sets that differ in an option
    t = tiny(
        "noise",
        datasets=[{"name": "moons", "noise": 0.05, "n_samples": 120},
                  {"name": "moons", "noise": 0.4, "n_samples": 120}],
    )  # fmt: skip
    t.run(tmp_path / "s.db")
    labels = sorted(set(t.results().dataset))
    assert labels == ["moons(n_samples=120, noise=0.05)", "moons(n_samples=120, noise=0.4)"]
    assert len(t.summary()) == 4
    # a retrained run uses its own data set
    row = t.results().iloc[-1]
    net = t.network(row).fit(*_split(t.dataset(row.dataset)))
    assert net.history_["train_loss"][-1] == pytest.approx(row.train_loss, rel=1e-12)


def _split(data):
    return data.X_train, data.y_train


def test_same_labels_need_a_label_and_edited_files_get_a_new_identity(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    a = _csv(tmp_path / "one" / "iris.csv", seed=1)
    b = _csv(tmp_path / "two" / "iris.csv", seed=2)
    both = [{"name": "csv", "path": str(a)}, {"name": "csv", "path": str(b)}]
    with pytest.raises(StudyConfigError, match="both labelled 'iris'; give each a label"):
        tiny(datasets=both).plan()
    labelled = [dict(both[0], label="iris-1"), dict(both[1], label="iris-2")]
    planned = tiny(datasets=labelled).plan()
    assert [p.label for p in planned] == ["iris-1", "iris-2"]
    assert planned[0].data.id != planned[1].data.id
    before = datasets.load(str(a)).id
    _csv(a, seed=5)  # the file is edited in place
    assert datasets.load(str(a)).id != before
    moved = tmp_path / "iris-copy.csv"
    moved.write_bytes(a.read_bytes())
    assert datasets.load(str(moved)).id == datasets.load(str(a)).id  # content, not path


def test_report_refuses_to_retrain_on_a_changed_file(tmp_path):
    from initlab import report

    path = _csv(tmp_path / "d.csv", seed=1)
    s = tiny(datasets=[{"name": "csv", "path": str(path)}], activations=["tanh"], seeds=1)
    s.run(tmp_path / "s.db")
    row = s.results().iloc[0]
    report._retrain(s, row, record=False)  # same file: fine
    _csv(path, seed=7)
    with pytest.raises(ValueError, match="not the one this run was trained on"):
        report._retrain(s, row, record=False)


# --- study identity -----------------------------------------------------------------------
def test_a_study_redefined_under_its_name_is_refused_or_replaced(tmp_path):
    db = tmp_path / "s.db"
    tiny(activations=["tanh", "relu"]).run(db)
    with pytest.raises(StudyConflict, match=r"activations was \[\"tanh\", \"relu\"\], now"):
        tiny(activations=["sigmoid"]).run(db)
    assert set(Study.load("tiny", db).results().activation) == {"tanh", "relu"}
    report = tiny(activations=["sigmoid"]).run(db, replace=True)
    assert report.total == 2 and "replaced the definition" in report.notes[0]
    res = Study.load("tiny", db).results()
    assert set(res.activation) == {"sigmoid"} and len(res) == 2
    with Store(db, readonly=True) as st:
        assert len(st.runs()) == 6  # the old runs stay, for reuse
    again = tiny(activations=["tanh", "sigmoid"]).run(db, replace=True)
    assert again.skipped == 4 and again.trained == 0  # reused by hash
    grown = tiny(activations=["tanh", "sigmoid"], seeds=3).run(db)
    assert "grows: seeds + [2]" in grown.notes[0] and grown.trained == 2


def test_the_cli_refuses_a_redefinition_before_training(tmp_path):
    db = tmp_path / "s.db"
    one = _toml(tmp_path)
    assert invoke("study", "--config", one, "--store", db, "--no-report").exit_code == 0
    other = tmp_path / "other.toml"
    other.write_text(
        one.read_text().replace('activations = ["tanh", "relu"]', 'activations = "sigmoid"')
    )
    res = invoke("study", "--config", other, "--store", db, "--no-report")
    assert res.exit_code == 2 and "--replace" in res.output and "model-epochs" not in res.output
    res = invoke("study", "--config", other, "--store", db, "--no-report", "--replace")
    assert res.exit_code == 0 and "replaced the definition" in flat(res)
    out = invoke("results", "--store", db, "--study", "tiny", "--format", "csv").output
    assert len(out.strip().splitlines()) == 1 + 2


# --- filters ------------------------------------------------------------------------------
def test_filters_compare_typed_canonical_values(tmp_path):
    db = tmp_path / "s.db"
    invoke("study", "blog", "--seeds", "2", "--store", db, "--no-report")

    def rows(*where):
        args = [a for w in where for a in ("-w", w)]
        res = invoke("results", "--store", db, "--study", "blog", *args, "--format", "csv")
        return res.exit_code, len(res.output.strip().splitlines()) - 1, res.output

    assert rows("learning_rate=1")[:2] == (0, 32) == rows("learning_rate=1.0")[:2]
    assert rows("optimizer=GD")[:2] == (0, 32)
    assert rows("init=he")[:2] == (0, 8)
    assert rows("init=xavier")[:2] == (0, 8)  # in the blog's recipe, its xavier
    assert rows("seed>=1", "activation=tanh")[:2] == (0, 4)
    code, _, out = rows("init=orthogonal")
    assert code == 1 and "no rows match init=orthogonal" in " ".join(out.split())
    res = invoke("results", "--store", db, "--study", "blog", "-w", "learning_rate=fast")
    assert res.exit_code == 2 and "learning_rate is a number" in flat(res)


# --- the store's schema version -----------------------------------------------------------
V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE studies (name TEXT PRIMARY KEY, config TEXT NOT NULL, created TEXT NOT NULL,
    updated TEXT NOT NULL, initlab_version TEXT NOT NULL, command TEXT);
CREATE TABLE runs (hash TEXT PRIMARY KEY, config TEXT NOT NULL, dataset TEXT, hidden TEXT,
    activation TEXT, init TEXT, bias_init TEXT, optimizer TEXT, learning_rate REAL,
    batch_size TEXT, epochs TEXT, seed TEXT, leaky_slope REAL, loss TEXT, dtype TEXT,
    status TEXT NOT NULL, train_loss REAL, train_acc REAL, val_loss REAL, val_acc REAL,
    diverged INTEGER, diverged_epoch INTEGER, time_s REAL, error TEXT,
    initlab_version TEXT NOT NULL, finished TEXT NOT NULL);
CREATE TABLE study_runs (study TEXT NOT NULL, hash TEXT NOT NULL,
    PRIMARY KEY (study, hash)) WITHOUT ROWID;
CREATE TABLE curves (hash TEXT NOT NULL, epoch INTEGER NOT NULL, train_loss REAL,
    train_acc REAL, val_loss REAL, val_acc REAL, PRIMARY KEY (hash, epoch)) WITHOUT ROWID;
"""


def _v1_store(path, study: Study):
    """A store as initlab 0.1 (store schema 1) wrote it: data sets known by name only."""
    fresh = path.with_name("fresh.db")
    study.run(fresh)
    con = sqlite3.connect(path)
    con.executescript(V1_SCHEMA)
    con.executemany("INSERT INTO meta VALUES (?, ?)", [("application", "initlab"),
                                                       ("schema_version", "1")])  # fmt: skip
    src = sqlite3.connect(fresh)
    config = study.to_dict()
    config.pop("recipe", None)
    con.execute(
        "INSERT INTO studies VALUES (?, ?, 'then', 'then', '0.1.0', NULL)",
        (study.name, json.dumps(config)),
    )
    for row in src.execute("SELECT * FROM runs"):
        cols = [d[0] for d in src.execute("SELECT * FROM runs").description]
        r = dict(zip(cols, row, strict=True))
        name = json.loads(r["data"])["name"]
        con.execute(
            "INSERT INTO runs VALUES (" + ",".join("?" * 26) + ")",
            (r["hash"], r["config"], name, r["hidden"], r["activation"], r["init"],
             r["bias_init"], r["optimizer"], r["learning_rate"], r["batch_size"], r["epochs"],
             r["seed"], json.loads(r["config"]).get("leaky_slope"), r["loss"], r["dtype"],
             r["status"], r["train_loss"], r["train_acc"], r["val_loss"], r["val_acc"],
             r["diverged"], r["diverged_epoch"], r["time_s"], r["error"], "0.1.0",
             r["finished"]),
        )  # fmt: skip
    con.executemany("INSERT INTO study_runs VALUES (?, ?)",
                    src.execute("SELECT study, hash FROM study_runs").fetchall())  # fmt: skip
    con.executemany("INSERT INTO curves VALUES (?, ?, ?, ?, ?, ?)",
                    src.execute("SELECT * FROM curves").fetchall())  # fmt: skip
    con.commit()
    con.close()
    src.close()


def test_a_schema_1_store_is_migrated_and_its_data_sets_told_apart(tmp_path):
    study = tiny(
        "old",
        datasets=[{"name": "moons", "noise": 0.05, "n_samples": 120},
                  {"name": "moons", "noise": 0.4, "n_samples": 120}],
    )  # fmt: skip
    db = tmp_path / "old.db"
    _v1_store(db, study)
    expected = Study.load("old", tmp_path / "fresh.db").results()
    loaded = Study.load("old", db)  # read-only open of a writable file: upgraded first
    got = loaded.results()
    with Store(db, readonly=True) as st:
        assert st.meta["schema_version"] == "2"
    keys = ["dataset", "activation", "seed", "val_acc", "train_loss"]
    pd.testing.assert_frame_equal(
        got[keys].sort_values(keys).reset_index(drop=True),
        expected[keys].sort_values(keys).reset_index(drop=True),
    )
    assert len(loaded.summary()) == 4  # two data sets, not merged
    rerun = study.run(db)
    assert rerun.trained == 0 and rerun.skipped == 8  # the old runs are the same runs


def test_a_read_only_schema_1_store_is_read_as_it_is(tmp_path):
    import os
    import subprocess

    study = tiny("old")
    db = tmp_path / "ro.db"
    _v1_store(db, study)
    if os.geteuid() == 0:  # root ignores permissions, not the immutable attribute
        if subprocess.run(["chattr", "+i", str(db)], capture_output=True).returncode:
            pytest.skip("running as root on a file system without chattr +i")
        undo = ["chattr", "-i", str(db)]
    else:
        os.chmod(db, 0o444)
        undo = ["chmod", "644", str(db)]
    try:
        with Store(db, readonly=True) as st:
            assert st.meta["schema_version"] == "1"  # not upgraded: it cannot be written
            res = st.runs("old")
        assert len(res) == 4 and set(res.dataset) == {"moons"}
    finally:
        subprocess.run(undo, check=True)


def test_weight_penalties_are_run_fields_and_sweep_equals_the_estimator():
    data = datasets.load("moons", n_samples=160)
    frame = initlab.sweep(
        data, (6,), ["tanh"], ["xavier"], ["adam"], [0.05], seeds=[0, 1], epochs=8,
        l1=[0.0, 0.01], l2=[0.0, 0.1],
    )  # fmt: skip
    assert len(frame) == 8 and frame.groupby(["l1", "l2"]).train_loss.nunique().min() == 2
    for _, row in frame.iterrows():
        net = runs.RunSpec.from_row(row).network().fit(data.X_train, data.y_train)
        assert net.history_["train_loss"][-1] == pytest.approx(row.train_loss, rel=1e-12)
    # a zero penalty is no penalty: the run keeps the hash it had before the fields existed
    plain = runs.RunSpec.make(activation="tanh")
    assert runs.RunSpec.make(activation="tanh", l1=0.0, l2=0.0).hash("d") == plain.hash("d")
    assert runs.RunSpec.make(activation="tanh", l2=0.1).hash("d") != plain.hash("d")
    with pytest.raises(ConfigError, match="l2 must be a finite number >= 0, got -1"):
        FFNetwork(l2=-1).fit(np.eye(4), [0, 1, 0, 1])

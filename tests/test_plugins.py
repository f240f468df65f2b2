"""Plugins: components registered outside initlab are known in worker processes too.

Each scenario runs in a fresh interpreter, so that the components it registers
never leak into the registries of the other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from initlab import activations, plugins
from initlab.errors import InitlabError

PLUGIN = '''
import numpy as np
from initlab import activations, datasets, initializers, optim
from initlab.activations import Activation


def _bent(z):  # the bent identity, (sqrt(z^2 + 1) - 1) / 2 + z
    return (np.sqrt(z * z + 1) - 1) / 2 + z


def _bent_df(z, a):
    return z / (2 * np.sqrt(z * z + 1)) + 1


activations.register(
    Activation("bent_identity", _bent, _bent_df, "smooth", "bent identity",
               gain_rule="second-moment")
)
initializers.register(initializers.variance_scaling(1.5, "fan_in", "normal", name="half_he"))


def signsgd(learning_rate):
    """The sign of the gradient, times the learning rate."""
    return optim.chain(optim.scale_by_lion(0.0, 0.0), optim.scale_by_learning_rate(learning_rate))


optim.register(signsgd)


def _make_stripes(n_samples, random_state):
    X = np.random.default_rng(random_state).uniform(-1, 1, (n_samples, 2))
    return X, (np.sin(4 * X[:, 0]) > X[:, 1]).astype(int)


datasets.register("stripes", _make_stripes, {"n_samples": 400}, description="a sine boundary")
'''

# a sweep over two activations (two populations, so the pool is used) in spawned workers:
# they start a fresh interpreter that knows only what INITLAB_PLUGINS tells it
SWEEP = """
import importlib, multiprocessing, sys
import initlab
{setup}
sweep_module = importlib.import_module("initlab.sweep")
sweep_module._mp_context = lambda: multiprocessing.get_context("spawn")
kw = dict(dataset="stripes", hidden_layer_sizes=(8,), activations=["bent_identity", "tanh"],
          inits=["half_he"], optimizers=["signsgd"], learning_rates=[0.01],
          seeds=[0, 1], epochs=5)
pool = initlab.sweep(**kw, n_jobs=2)
here = initlab.sweep(**kw, n_jobs=1)
assert pool["val_acc"].notna().all()
assert pool.sort_values(["activation", "seed"])["val_acc"].tolist() == \\
    here.sort_values(["activation", "seed"])["val_acc"].tolist()
print("ok", initlab.plugins.active())
"""


def _run(tmp_path, code: str, env_plugins: str | None):
    (tmp_path / "myplugin.py").write_text(PLUGIN)
    env = {k: v for k, v in os.environ.items() if k != plugins.ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env.get("PYTHONPATH", "")])
    if env_plugins is not None:
        env[plugins.ENV] = env_plugins
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )


def test_a_plugin_module_trains_in_spawned_worker_processes(tmp_path):
    out = _run(tmp_path, SWEEP.format(setup=""), "myplugin")
    assert out.returncode == 0, out.stderr
    assert "ok ['myplugin']" in out.stdout


def test_use_reaches_workers_and_without_it_they_fail(tmp_path):
    # initlab.plugins.use imports the module and puts it in INITLAB_PLUGINS for the workers
    out = _run(tmp_path, SWEEP.format(setup="initlab.plugins.use('myplugin')"), None)
    assert out.returncode == 0, out.stderr
    # imported by hand only, the component is unknown to a spawned worker: its chunk fails
    out = _run(tmp_path, SWEEP.format(setup="import myplugin"), None)
    assert out.returncode != 0
    assert "unknown activation 'bent_identity'" in out.stderr


def test_entry_points_are_loaded_by_the_registries(tmp_path):
    dist = tmp_path / "myplugin_dist-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin-dist\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[initlab.activations]\nbent = myplugin\n")
    code = """
    from initlab import activations, plugins
    assert "bent_identity" in activations.names()
    print(activations.get("bent_identity")(0.0), plugins.active())
    """
    out = _run(tmp_path, code, None)
    assert out.returncode == 0, out.stderr
    assert "0.0 ['initlab.activations:bent = myplugin']" in out.stdout


def test_a_broken_plugin_is_named(monkeypatch):
    monkeypatch.setenv(plugins.ENV, "no_such_module_xyz")
    monkeypatch.setattr(activations.REGISTRY, "_plugins_loaded", False)
    with pytest.raises(plugins.PluginError, match="no_such_module_xyz.*INITLAB_PLUGINS") as err:
        activations.get("relu")
    assert isinstance(err.value, InitlabError)
    monkeypatch.delenv(plugins.ENV)
    assert activations.get("relu").name == "relu"  # the next lookup, fixed, works
    with pytest.raises(plugins.PluginError, match="module name"):
        plugins.use("")
    with pytest.raises(plugins.PluginError, match="unknown plugin group"):
        plugins.load("initlab.nothing")


STUDY = """
import initlab
from initlab.study import Study
{code}
"""


def test_a_study_records_its_plugins_and_loading_it_brings_them_back(tmp_path):
    run = STUDY.format(
        code="""
s = Study("p", ["stripes"], hidden=[[4]], activations=["bent_identity"], inits=["half_he"],
          optimizers=["signsgd"], learning_rates=[0.01], epochs=3, seeds=2)
s.run("s.db")
print("stored", initlab.plugins.active())
"""
    )
    out = _run(tmp_path, run, "myplugin")
    assert out.returncode == 0, out.stderr
    # a later process knows nothing of the plugin: the stored study names it
    load = STUDY.format(
        code="""
s = Study.load("p", "s.db")
print(s.plugins, len(s.results()), s.summary()["n"].tolist())
"""
    )
    out = _run(tmp_path, load, None)
    assert out.returncode == 0, out.stderr
    assert "['myplugin'] 2 [2]" in out.stdout

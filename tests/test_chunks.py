"""Chunk sizing: populations sized for speed, never changing a run's numbers."""

import numpy as np
import pandas as pd
import pytest

import initlab
from initlab import datasets, engine
from initlab.errors import ConfigError
from initlab.sweep import best_chunk_size, chunks, plan

COLS = ["train_loss", "train_acc", "val_loss", "val_acc", "diverged_epoch"]


@pytest.fixture(scope="module")
def moons():
    return datasets.load("moons")


@pytest.mark.parametrize("eng", ["numpy", "numba"])
def test_numbers_do_not_depend_on_the_chunk_size(eng, moons, monkeypatch):
    if eng == "numba":
        pytest.importorskip("numba")
    monkeypatch.setenv("INITLAB_ENGINE", eng)
    args = (moons, (4,), ["tanh", "relu"], ["xavier", "he"], ["momentum"], [0.1, 0.3])
    whole = initlab.sweep(*args, seeds=range(3), epochs=8)
    ones = initlab.sweep(*args, seeds=range(3), epochs=8, chunk_size=1)
    pd.testing.assert_frame_equal(whole[COLS], ones[COLS], check_exact=True)


def test_chunk_size_overrides_the_measured_size(moons):
    specs = plan((4,), ["tanh"], ["xavier"], ["gd"], [0.1], seeds=range(10), epochs=2)
    assert [len(c.specs) for c in chunks(specs, moons, chunk_size=4)] == [4, 4, 2]
    with pytest.raises(ConfigError, match="chunk_size must be a positive integer or None, got 0"):
        chunks(specs, moons, chunk_size=0)


def test_populations_are_sized_by_engine_and_layer_shape(moons, monkeypatch):
    monkeypatch.setenv("INITLAB_ENGINE", "numpy")
    narrow, wide = (
        plan(h, ["tanh"], ["xavier"], ["gd"], [0.1], seeds=[0], epochs=2)[0]
        for h in [(16,), (64, 64)]
    )
    n = max(moons.n_train, moons.n_val)
    assert best_chunk_size(narrow, moons) == engine.NUMPY_PLANE_BYTES // (n * 16 * 8)
    assert best_chunk_size(wide, moons) == engine.NUMPY_PLANE_BYTES // (n * 64 * 8)
    monkeypatch.delenv("INITLAB_ENGINE")
    work = narrow.epochs * moons.n_train
    if engine.engine_for((2, 16, 2), "tanh", "cross_entropy", "gd", "auto", work) == "numba":
        assert best_chunk_size(narrow, moons) == engine.MAX_POPULATION  # flat cost
    assert best_chunk_size(wide, moons) < 64  # wide layers stay on NumPy + BLAS
    assert engine.population_size((2, 64, 4), 10**7) == 1


def test_minibatch_populations_are_sized_by_the_batch(moons, monkeypatch):
    monkeypatch.setenv("INITLAB_ENGINE", "numpy")
    spec = plan((32,), ["tanh"], ["xavier"], ["minibatch"], [0.1], seeds=[0], epochs=2)[0]
    assert spec.batch_size == 100
    n = max(100, moons.n_val)
    assert best_chunk_size(spec, moons) == engine.NUMPY_PLANE_BYTES // (n * 32 * 8)
    assert np.all(np.diff([len(c.specs) for c in chunks([spec], moons)]) == 0)


def test_runs_too_short_to_repay_the_compile_train_with_numpy(monkeypatch):
    monkeypatch.delenv("INITLAB_ENGINE", raising=False)
    blog = (2, 2, 4)
    short = 50 * 750  # the blog's runs: 50 epochs of 750 samples
    assert engine.engine_for(blog, "tanh", "cross_entropy", "gd", "auto", short) == "numpy"
    assert not engine.compiled_wins(blog, short)
    assert engine.compiled_wins(blog, 200 * 750) and engine.compiled_wins(blog, None)
    # forcing the kernels still works for short runs
    assert engine.engine_for(blog, "tanh", "cross_entropy", "gd", "numba", short) == "numba"


def test_a_studys_chunk_size_changes_nothing_but_speed(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from initlab.cli import app
    from initlab.study import Study, StudyConfigError

    def study():
        data = [{"name": "moons", "n_samples": 160}]
        grid = dict(activations=["tanh", "relu"], inits=["xavier", "he"], epochs=5, seeds=3)
        return Study("c", data, hidden=[[4]], **grid)

    study().run(tmp_path / "a.db")
    study().run(tmp_path / "b.db", chunk_size=1)
    cols = ["activation", "init", "seed", "train_loss", "val_acc"]
    a = Study.load("c", tmp_path / "a.db").results()[cols]
    b = Study.load("c", tmp_path / "b.db").results()[cols]
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(StudyConfigError, match="chunk_size must be an integer >= 1, got 0"):
        study().run(tmp_path / "c.db", chunk_size=0)
    res = CliRunner().invoke(app, ["study", "--chunk-size", "0", "--store", str(tmp_path / "d.db")])
    assert res.exit_code == 2 and not (tmp_path / "d.db").exists()

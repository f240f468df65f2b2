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
    if engine.engine_for((2, 16, 2), "tanh", "cross_entropy", "gd") == "numba":
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
